import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCertificateCache,
  isAllowedHost,
  nonCanonicalHost,
  verifyWebhookSignature,
} from './signature.ts';

// Certificates are made here, per run: a test CA (the trust anchor), leaves under it, and impostors.
interface Issued {
  pem: string;
  der: Buffer;
  key: KeyObject;
  forgeCert: forge.pki.Certificate;
  forgeKey: forge.pki.rsa.PrivateKey;
}

let serial = 1;
function issue(options: {
  subject: Array<{ shortName: string; value: string }>;
  issuer?: Issued;
  ca?: boolean;
  notBefore?: Date;
  notAfter?: Date;
  ipSan?: string;
  /** Replaces the default key usage (a CA: keyCertSign, cRLSign, digitalSignature; a leaf: none). */
  keyUsage?: Record<string, boolean>;
  extKeyUsage?: Record<string, boolean>;
  pathLen?: number;
}): Issued {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const forgeKey = forge.pki.privateKeyFromPem(
    privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
  );
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = (serial++).toString(16).padStart(4, '0');
  cert.validity.notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  cert.validity.notAfter = options.notAfter ?? new Date(Date.now() + 24 * 3600_000);
  cert.setSubject(options.subject);
  cert.setIssuer(options.issuer ? options.issuer.forgeCert.subject.attributes : options.subject);
  const extensions: object[] = [
    {
      name: 'basicConstraints',
      cA: options.ca ?? false,
      ...(options.pathLen !== undefined ? { pathLenConstraint: options.pathLen } : {}),
    },
  ];
  if (options.keyUsage) extensions.push({ name: 'keyUsage', ...options.keyUsage });
  else if (options.ca)
    extensions.push({ name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true });
  if (options.extKeyUsage) extensions.push({ name: 'extKeyUsage', ...options.extKeyUsage });
  if (options.ipSan) extensions.push({ name: 'subjectAltName', altNames: [{ type: 7, ip: options.ipSan }] });
  cert.setExtensions(extensions);
  cert.sign(options.issuer?.forgeKey ?? forgeKey, forge.md.sha256.create());
  const pem = forge.pki.certificateToPem(cert);
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return { pem, der, key: privateKey, forgeCert: cert, forgeKey };
}

const microsoft = (cn: string) => [
  { shortName: 'C', value: 'US' },
  { shortName: 'O', value: 'Microsoft Corporation' },
  { shortName: 'CN', value: cn },
];

// Microsoft's issuing CAs carry O=Microsoft Corporation, which the documented verification checks on the leaf's
// issuer.
const ca = issue({ subject: microsoft('cosell test root'), ca: true });
const intermediate = issue({
  subject: microsoft('cosell test intermediate'),
  issuer: ca,
  ca: true,
});
const leaf = issue({ subject: microsoft('pcnotifications-dispatch.microsoft.com'), issuer: ca });
const leafUnderIntermediate = issue({
  subject: microsoft('dispatch via intermediate'),
  issuer: intermediate,
});
const contoso = issue({
  subject: [
    { shortName: 'O', value: 'Contoso Ltd' },
    { shortName: 'CN', value: 'contoso' },
  ],
  issuer: ca,
});
const selfSignedMicrosoft = issue({ subject: microsoft('pcnotifications-dispatch.microsoft.com') });
// Same subject name as the anchor, different key: an issuer string that proves nothing.
const lookalikeCa = issue({ subject: microsoft('cosell test root'), ca: true });
// A CA that is not Microsoft's, trusted by mistake, issuing a Microsoft-named certificate.
const otherCa = issue({
  subject: [
    { shortName: 'O', value: 'Contoso Ltd' },
    { shortName: 'CN', value: 'Contoso CA' },
  ],
  ca: true,
});
const leafFromOtherCa = issue({
  subject: microsoft('pcnotifications-dispatch.microsoft.com'),
  issuer: otherCa,
});
const lookalikeLeaf = issue({
  subject: microsoft('pcnotifications-dispatch.microsoft.com'),
  issuer: lookalikeCa,
});
const expired = issue({
  subject: microsoft('old'),
  issuer: ca,
  notBefore: new Date(Date.now() - 10 * 24 * 3600_000),
  notAfter: new Date(Date.now() - 24 * 3600_000),
});
// RFC 5280 path rules (certificate-path.ts): each certificate below would chain by name and signature alone.
const caWithoutCertSign = issue({
  subject: microsoft('intermediate that may not sign certificates'),
  issuer: ca,
  ca: true,
  keyUsage: { digitalSignature: true, cRLSign: true },
});
const leafUnderNoCertSign = issue({ subject: microsoft('under no keyCertSign'), issuer: caWithoutCertSign });
const notACa = issue({ subject: microsoft('end entity posing as issuer'), issuer: ca });
const leafUnderNotACa = issue({ subject: microsoft('under a non-CA'), issuer: notACa });
const rootNoSubCas = issue({ subject: microsoft('root allowing no sub-CA'), ca: true, pathLen: 0 });
const subCaTooDeep = issue({ subject: microsoft('sub-CA past the limit'), issuer: rootNoSubCas, ca: true });
const leafTooDeep = issue({ subject: microsoft('too deep'), issuer: subCaTooDeep });
const leafKeyEncipherOnly = issue({
  subject: microsoft('encryption-only key'),
  issuer: ca,
  keyUsage: { keyEncipherment: true },
});
const leafTimeStamping = issue({
  subject: microsoft('time-stamping only'),
  issuer: ca,
  keyUsage: { digitalSignature: true },
  extKeyUsage: { timeStamping: true },
});
const leafServerAuth = issue({
  subject: microsoft('signing and TLS'),
  issuer: ca,
  keyUsage: { digitalSignature: true, keyEncipherment: true },
  extKeyUsage: { serverAuth: true, clientAuth: true },
});

const tlsServer = issue({
  subject: [{ shortName: 'CN', value: '127.0.0.1' }],
  issuer: ca,
  ipSan: '127.0.0.1',
});

const served: Record<string, Buffer> = {
  '/leaf.cer': leaf.der,
  '/leaf.pem': Buffer.from(leaf.pem),
  '/chain.pem': Buffer.from(leafUnderIntermediate.pem + intermediate.pem),
  '/no-intermediate.cer': leafUnderIntermediate.der,
  '/contoso.cer': contoso.der,
  '/other-ca.cer': leafFromOtherCa.der,
  '/self-signed.cer': selfSignedMicrosoft.der,
  '/lookalike.pem': Buffer.from(lookalikeLeaf.pem + lookalikeCa.pem),
  '/expired.cer': expired.der,
  '/garbage.cer': Buffer.from('not a certificate'),
  '/no-cert-sign.pem': Buffer.from(leafUnderNoCertSign.pem + caWithoutCertSign.pem),
  '/not-a-ca.pem': Buffer.from(leafUnderNotACa.pem + notACa.pem),
  '/too-deep.pem': Buffer.from(leafTooDeep.pem + subCaTooDeep.pem),
  '/key-encipher-only.cer': leafKeyEncipherOnly.der,
  '/time-stamping.cer': leafTimeStamping.der,
  '/server-auth.cer': leafServerAuth.der,
  '/redirect-target.cer': leaf.der,
};

let server: Server;
let origin: string;
const hits: string[] = [];

beforeAll(async () => {
  server = createServer(
    { key: tlsServer.key.export({ type: 'pkcs8', format: 'pem' }), cert: tlsServer.pem },
    (req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/moved.cer') {
        res.writeHead(302, { location: `${origin}/redirect-target.cer` }).end();
        return;
      }
      // Like blob storage, an unknown query string does not change what is served.
      const body = served[(req.url ?? '').split('?')[0]!];
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/pkix-cert' }).end(body);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const body = Buffer.from(
  JSON.stringify({
    EventName: 'referral-created',
    ResourceUri: 'https://api.partnercenter.microsoft.com/engagements/v1/referrals/abc',
    ResourceName: 'referral',
    AuditUri: null,
    ResourceChangeUtcDate: '2026-11-20T10:00:00.1234567+00:00',
  }),
);
const signWith = (key: KeyObject, bytes: Buffer = body) => sign('sha256', bytes, key).toString('base64');

function headers(path: string, signature = signWith(leaf.key), extra: Record<string, string> = {}) {
  return {
    'x-ms-signature': `Signature ${signature}`,
    'x-ms-certificate-url': `${origin}${path}`,
    'x-ms-signature-algorithm': 'rsa-sha256',
    ...extra,
  };
}

const options = () => ({
  allowedCertificateHosts: [new URL(origin).host],
  trustAnchorsPem: [ca.pem],
  cache: createCertificateCache(),
});

describe('verifyWebhookSignature', () => {
  it('R2 accepts a valid event signed by a Microsoft certificate chained to the anchor (DER, x-ms-signature)', async () => {
    const result = await verifyWebhookSignature({ rawBody: body, headers: headers('/leaf.cer') }, options());
    expect(result).toMatchObject({ ok: true });
    if (result.ok) expect(result.certificate.subject).toContain('O=Microsoft Corporation');
  });

  it('R2 accepts Authorization: Signature with a PEM certificate, and Headers objects', async () => {
    const h = new Headers({
      Authorization: `Signature ${signWith(leaf.key)}`,
      'X-MS-Certificate-Url': `${origin}/leaf.pem`,
    });
    expect(await verifyWebhookSignature({ rawBody: body, headers: h }, options())).toMatchObject({
      ok: true,
    });
  });

  it('R2 accepts a bare base64 signature and walks a served intermediate', async () => {
    const result = await verifyWebhookSignature(
      {
        rawBody: body,
        headers: { ...headers('/chain.pem'), 'x-ms-signature': signWith(leafUnderIntermediate.key) },
      },
      options(),
    );
    expect(result).toMatchObject({ ok: true });
  });

  it.each([
    [
      'tampered body',
      '/leaf.cer',
      () => signWith(leaf.key, Buffer.from('{"EventName":"referral-updated"}')),
      'bad-signature',
    ],
    ['wrong key', '/leaf.cer', () => signWith(contoso.key), 'bad-signature'],
    [
      'issuer not Microsoft but chained',
      '/contoso.cer',
      () => signWith(contoso.key),
      'certificate-not-microsoft',
    ],
    [
      'self-signed Microsoft not chained to the anchor',
      '/self-signed.cer',
      () => signWith(selfSignedMicrosoft.key),
      'certificate-untrusted',
    ],
    [
      'issuer name copied from the anchor, other key',
      '/lookalike.pem',
      () => signWith(lookalikeLeaf.key),
      'certificate-untrusted',
    ],
    [
      'intermediate not served',
      '/no-intermediate.cer',
      () => signWith(leafUnderIntermediate.key),
      'certificate-untrusted',
    ],
    ['expired certificate', '/expired.cer', () => signWith(expired.key), 'certificate-expired'],
    ['certificate URL 404', '/missing.cer', () => signWith(leaf.key), 'certificate-fetch-failed'],
    ['not a certificate', '/garbage.cer', () => signWith(leaf.key), 'certificate-unreadable'],
  ])('R2 rejects %s', async (_name, path, signature, code) => {
    const result = await verifyWebhookSignature(
      { rawBody: body, headers: headers(path, signature()) },
      options(),
    );
    expect(result).toMatchObject({ ok: false, code });
    if (!result.ok) expect(result.reason.length).toBeGreaterThan(10);
  });

  it.each([
    [
      'an issuing CA whose key usage lacks keyCertSign',
      '/no-cert-sign.pem',
      () => leafUnderNoCertSign,
      /keyCertSign/,
    ],
    [
      'an issuer that is not a CA (basicConstraints)',
      '/not-a-ca.pem',
      () => leafUnderNotACa,
      /is not a CA \(basic constraints\)/,
    ],
    [
      'a sub-CA below a root whose path length limit is 0',
      '/too-deep.pem',
      () => leafTooDeep,
      /path length limit is 0/,
    ],
    [
      'a leaf whose key usage does not allow signatures',
      '/key-encipher-only.cer',
      () => leafKeyEncipherOnly,
      /key usage/,
    ],
    [
      'a leaf whose extended key usage is time stamping only',
      '/time-stamping.cer',
      () => leafTimeStamping,
      /extended key usage/,
    ],
  ])('R2 rejects %s (RFC 5280 path validation)', async (_name, path, signer, reason) => {
    const result = await verifyWebhookSignature(
      { rawBody: body, headers: headers(path, signWith(signer().key)) },
      { ...options(), trustAnchorsPem: [ca.pem, rootNoSubCas.pem] },
    );
    expect(result).toMatchObject({ ok: false, code: 'certificate-untrusted' });
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it('R2 accepts a leaf whose key usage and extended key usage allow signing (TLS server and client)', async () => {
    const result = await verifyWebhookSignature(
      { rawBody: body, headers: headers('/server-auth.cer', signWith(leafServerAuth.key)) },
      options(),
    );
    expect(result).toMatchObject({ ok: true });
  });

  it('R2 rejects a Microsoft-named certificate whose issuer is not Microsoft, even when its CA is trusted', async () => {
    const result = await verifyWebhookSignature(
      { rawBody: body, headers: headers('/other-ca.cer', signWith(leafFromOtherCa.key)) },
      { ...options(), trustAnchorsPem: [ca.pem, otherCa.pem] },
    );
    expect(result).toMatchObject({ ok: false, code: 'certificate-not-microsoft' });
    if (!result.ok) expect(result.reason).toMatch(/issuer is not O=Microsoft Corporation/);
  });

  it.each([
    ['suffix trick on an IP', 'https://evil-127.0.0.1.example/cert.cer', ['127.0.0.1']],
    [
      'suffix trick on blob storage',
      'https://3psostorageacct.blob.core.windows.net.evil.com/cert/x.cer',
      ['3psostorageacct.blob.core.windows.net'],
    ],
    [
      'another blob account',
      'https://evil.blob.core.windows.net/cert/x.cer',
      ['3psostorageacct.blob.core.windows.net'],
    ],
    ['user-info trick', 'https://127.0.0.1@evil.example/cert.cer', ['127.0.0.1']],
    ['wrong port for a host:port entry', 'https://127.0.0.1:1/cert.cer', ['127.0.0.1:2']],
    ['empty allow-list', 'https://127.0.0.1/cert.cer', []],
    ['a cloud metadata address', 'https://169.254.169.254/latest/meta-data/', ['127.0.0.1']],
    ['an internal name', 'https://localhost/cert.cer', ['127.0.0.1']],
  ])('R2 rejects a certificate host not allow-listed: %s (never fetched)', async (_name, url, allowed) => {
    let fetched = false;
    const result = await verifyWebhookSignature(
      { rawBody: body, headers: { ...headers('/leaf.cer'), 'x-ms-certificate-url': url } },
      {
        ...options(),
        allowedCertificateHosts: allowed,
        fetchCertificate: async () => {
          fetched = true;
          return leaf.der;
        },
      },
    );
    expect(result).toMatchObject({ ok: false, code: 'certificate-host-not-allowed' });
    expect(fetched).toBe(false);
  });

  it('R2 never follows a redirect from the certificate URL, even to the same origin', async () => {
    const result = await verifyWebhookSignature(
      { rawBody: body, headers: headers('/moved.cer') },
      { ...options(), cache: createCertificateCache() },
    );
    expect(result).toMatchObject({ ok: false, code: 'certificate-fetch-failed' });
    if (!result.ok) expect(result.reason).toContain('HTTP 302');
    expect(hits).toContain('/moved.cer');
    expect(hits).not.toContain('/redirect-target.cer');
  });

  it('R2 rejects an http certificate URL', async () => {
    const result = await verifyWebhookSignature(
      {
        rawBody: body,
        headers: { ...headers('/leaf.cer'), 'x-ms-certificate-url': 'http://127.0.0.1/leaf.cer' },
      },
      options(),
    );
    expect(result).toMatchObject({ ok: false, code: 'certificate-url-not-https' });
  });

  it.each([
    ['no signature header', { 'x-ms-certificate-url': 'https://127.0.0.1/x' }, 'missing-signature'],
    [
      'no certificate URL',
      { 'x-ms-signature': `Signature ${signWith(leaf.key)}` },
      'missing-certificate-url',
    ],
    ['Authorization: Bearer is not a signature', { authorization: 'Bearer abc.def' }, 'malformed-signature'],
    [
      'unsupported algorithm',
      {
        'x-ms-signature': 'Signature AAAA',
        'x-ms-signature-algorithm': 'rsa-sha1',
        'x-ms-certificate-url': 'https://127.0.0.1/x',
      },
      'unsupported-algorithm',
    ],
  ])('R2 rejects %s', async (_name, h, code) => {
    expect(await verifyWebhookSignature({ rawBody: body, headers: h }, options())).toMatchObject({
      ok: false,
      code,
    });
  });

  it('R2 caches certificates by URL until the TTL runs out', async () => {
    let clock = 0;
    const cache = createCertificateCache(1_000, () => clock);
    const before = hits.filter((h) => h === '/leaf.pem').length;
    const verifyOnce = () =>
      verifyWebhookSignature({ rawBody: body, headers: headers('/leaf.pem') }, { ...options(), cache });
    expect(await verifyOnce()).toMatchObject({ ok: true });
    expect(await verifyOnce()).toMatchObject({ ok: true });
    expect(hits.filter((h) => h === '/leaf.pem').length - before).toBe(1);
    clock = 5_000;
    expect(await verifyOnce()).toMatchObject({ ok: true });
    expect(hits.filter((h) => h === '/leaf.pem').length - before).toBe(2);
  });

  it('R2 without the anchor the TLS download itself is refused', async () => {
    const result = await verifyWebhookSignature(
      { rawBody: body, headers: headers('/leaf.cer') },
      { ...options(), trustAnchorsPem: [] },
    );
    expect(result).toMatchObject({ ok: false, code: 'certificate-fetch-failed' });
  });
});

describe('the certificate cache under forged traffic (R2)', () => {
  const forged = (path: string) =>
    verifyWebhookSignature(
      { rawBody: body, headers: headers(path, Buffer.from('forged').toString('base64')) },
      { ...options(), cache },
    );
  let cache = createCertificateCache();

  it('R2 a query string does not name another certificate: one download for any number of ?bogus=N', async () => {
    cache = createCertificateCache();
    const before = hits.length;
    for (let i = 0; i < 50; i++) {
      expect(await forged(`/leaf.cer?bogus=${i}`)).toMatchObject({ ok: false, code: 'bad-signature' });
    }
    expect(hits.length - before).toBe(1);
    expect(cache.size).toBe(1);
  });

  it('R2 a failed download and an untrusted certificate are remembered: asked again, nothing is fetched', async () => {
    cache = createCertificateCache({ failureTtlMs: 60_000 });
    const before = hits.length;
    for (let round = 0; round < 3; round++) {
      expect(await forged('/missing.cer')).toMatchObject({ code: 'certificate-fetch-failed' });
      expect(await forged('/contoso.cer')).toMatchObject({ code: 'certificate-not-microsoft' });
    }
    expect(hits.length - before).toBe(2);
  });

  it('R2 the cache is bounded: the least recently used entries go first', async () => {
    cache = createCertificateCache({ maxEntries: 8 });
    for (let i = 0; i < 40; i++) await forged(`/missing-${i}.cer`);
    expect(cache.size).toBe(8);
    expect(cache.downloads).toBe(40);
  });

  it('R2 downloads at once are capped: a new URL beyond the cap is refused, not queued', async () => {
    cache = createCertificateCache({ maxConcurrentDownloads: 2 });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => forged(`/slow-missing-${i}.cer`)));
    expect(cache.downloads).toBeLessThanOrEqual(2 + 8);
    expect(
      results.filter((r) => !r.ok && /Too many certificate downloads at once/.test(r.reason)).length,
    ).toBeGreaterThan(0);
  });

  it('R2 without downloads allowed only a trusted certificate is used', async () => {
    cache = createCertificateCache();
    const refused = await verifyWebhookSignature(
      { rawBody: body, headers: headers('/leaf.cer') },
      { ...options(), cache, allowDownload: false },
    );
    expect(refused).toMatchObject({ ok: false, code: 'certificate-download-refused' });
    expect(
      await verifyWebhookSignature({ rawBody: body, headers: headers('/leaf.cer') }, { ...options(), cache }),
    ).toMatchObject({ ok: true });
    expect(
      await verifyWebhookSignature(
        { rawBody: body, headers: headers('/leaf.cer') },
        { ...options(), cache, allowDownload: false },
      ),
    ).toMatchObject({ ok: true });
  });

  it('R2 an IP literal written another way is refused before anything is fetched', async () => {
    const port = new URL(origin).port;
    const result = await verifyWebhookSignature(
      {
        rawBody: body,
        headers: { ...headers('/leaf.cer'), 'x-ms-certificate-url': `https://127.1:${port}/leaf.cer` },
      },
      options(),
    );
    expect(result).toMatchObject({ ok: false, code: 'certificate-host-not-allowed' });
  });
});

describe('isAllowedHost', () => {
  it.each([
    ['https://127.0.0.1:8443/x', ['127.0.0.1'], false],
    ['https://127.0.0.1/x', ['127.0.0.1'], true],
    ['https://127.0.0.1:443/x', ['127.0.0.1'], true],
    ['https://127.0.0.1:8443/x', ['127.0.0.1:8443'], true],
    ['https://127.0.0.1:8443/x', ['127.0.0.1:9443'], false],
    ['https://[::1]:8443/x', ['[::1]:8443'], true],
    ['https://[::1]:8444/x', ['[::1]:8443'], false],
    ['https://3PSOSTORAGEACCT.blob.core.windows.net/x', ['3psostorageacct.blob.core.windows.net'], true],
    [
      'https://3psostorageacct.blob.core.windows.net:8080/x',
      ['3psostorageacct.blob.core.windows.net'],
      false,
    ],
    ['https://a.3psostorageacct.blob.core.windows.net/x', ['3psostorageacct.blob.core.windows.net'], false],
    ['http://127.0.0.1/x', ['127.0.0.1'], false],
  ] as const)('R2 %s against %j -> %s', (url, allowList, expected) => {
    expect(isAllowedHost(new URL(url), [...allowList])).toBe(expected);
  });
});

describe('nonCanonicalHost', () => {
  it.each([
    ['https://127.0.0.1:8443/cert', null],
    ['https://127.0.0.1:443/cert', null],
    ['https://Example.COM/cert', null],
    ['https://127.1:8443/cert', '127.1:8443'],
    ['https://2130706433/cert', '2130706433'],
    ['https://0x7f.0.0.1/cert', '0x7f.0.0.1'],
    ['https://0177.0.0.1/cert', '0177.0.0.1'],
  ] as const)('R2 %s -> %j', (text, expected) => {
    expect(nonCanonicalHost(text, new URL(text))).toBe(expected);
  });
});
