// Partner Center webhook signature verification (R2, reference §4 "Signature").
//
// Partner Center signs the exact body bytes with RSA PKCS#1 v1.5 / SHA-256 and says where its certificate
// lives (`x-ms-certificate-url`). Anyone can put a certificate on a blob store, so the URL host must be on an
// exact allow-list, and the certificate must chain cryptographically to a configured trust anchor (the
// Microsoft root in production, the emulator CA in tests) — an issuer *name* proves nothing.
import { verify, X509Certificate } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { SIGNATURE_ALGORITHM, SIGNATURE_HEADERS, SIGNING_CERTIFICATE_ORGANIZATION } from './constants.ts';

export type SignatureFailureCode =
  | 'missing-signature'
  | 'malformed-signature'
  | 'unsupported-algorithm'
  | 'missing-certificate-url'
  | 'invalid-certificate-url'
  | 'certificate-url-not-https'
  | 'certificate-host-not-allowed'
  | 'certificate-fetch-failed'
  | 'certificate-unreadable'
  | 'certificate-not-yet-valid'
  | 'certificate-expired'
  | 'certificate-not-microsoft'
  | 'certificate-untrusted'
  | 'bad-signature';

export type SignatureResult =
  | { ok: true; certificate: X509Certificate }
  | { ok: false; code: SignatureFailureCode; reason: string };

export type HeaderBag = Headers | Record<string, string | string[] | undefined>;

export interface CertificateCache {
  get(url: string): X509Certificate[] | undefined;
  set(url: string, chain: X509Certificate[]): void;
}

export interface VerifyOptions {
  /** Exact host names (optionally `host:port`) the certificate may be downloaded from. No suffix matching. */
  allowedCertificateHosts: string[];
  /** PEM certificates the signing certificate must chain to. */
  trustAnchorsPem: string[];
  /** Replaces the HTTPS download (returns the raw DER or PEM bytes). */
  fetchCertificate?: (url: URL) => Promise<Buffer>;
  cache?: CertificateCache;
  now?: () => Date;
}

/** In-memory certificate cache by URL with a TTL; validity and chain are still checked on every use. */
export function createCertificateCache(
  ttlMs = 60 * 60 * 1000,
  now: () => number = Date.now,
): CertificateCache {
  const entries = new Map<string, { chain: X509Certificate[]; expiresAt: number }>();
  return {
    get(url) {
      const entry = entries.get(url);
      if (!entry) return undefined;
      if (entry.expiresAt <= now()) {
        entries.delete(url);
        return undefined;
      }
      return entry.chain;
    },
    set(url, chain) {
      entries.set(url, { chain, expiresAt: now() + ttlMs });
    },
  };
}

const defaultCache = createCertificateCache();

export async function verifyWebhookSignature(
  event: { rawBody: Buffer; headers: HeaderBag },
  options: VerifyOptions,
): Promise<SignatureResult> {
  const header = (name: string) => readHeader(event.headers, name);

  const signatureHeader = header(SIGNATURE_HEADERS.msSignature) ?? header(SIGNATURE_HEADERS.authorization);
  if (!signatureHeader) {
    return fail(
      'missing-signature',
      'No signature: neither an x-ms-signature nor an Authorization: Signature header.',
    );
  }
  const signature = parseSignature(signatureHeader);
  if (!signature) {
    return fail('malformed-signature', 'The signature header is not "Signature <base64>".');
  }

  const algorithm = header(SIGNATURE_HEADERS.algorithm);
  if (algorithm !== undefined && algorithm.trim().toLowerCase() !== SIGNATURE_ALGORITHM) {
    return fail('unsupported-algorithm', `Signature algorithm '${algorithm}' is not ${SIGNATURE_ALGORITHM}.`);
  }

  const certificateUrlText = header(SIGNATURE_HEADERS.certificateUrl);
  if (!certificateUrlText) return fail('missing-certificate-url', 'No x-ms-certificate-url header.');
  let certificateUrl: URL;
  try {
    certificateUrl = new URL(certificateUrlText);
  } catch {
    return fail('invalid-certificate-url', 'x-ms-certificate-url is not a URL.');
  }
  if (certificateUrl.protocol !== 'https:') {
    return fail(
      'certificate-url-not-https',
      `Certificate URL must be https, got ${certificateUrl.protocol}.`,
    );
  }
  if (
    certificateUrl.username ||
    certificateUrl.password ||
    !isAllowedHost(certificateUrl, options.allowedCertificateHosts)
  ) {
    return fail(
      'certificate-host-not-allowed',
      `Certificate host ${certificateUrl.host} is not on the allow-list (${options.allowedCertificateHosts.join(', ') || 'empty'}).`,
    );
  }

  const anchors: X509Certificate[] = [];
  for (const pem of options.trustAnchorsPem) anchors.push(...parseCertificates(Buffer.from(pem)));

  const cache = options.cache ?? defaultCache;
  let chain = cache.get(certificateUrl.href);
  if (!chain) {
    let bytes: Buffer;
    try {
      bytes = await (
        options.fetchCertificate ?? ((url) => downloadCertificate(url, options.trustAnchorsPem))
      )(certificateUrl);
    } catch (error) {
      return fail(
        'certificate-fetch-failed',
        `Could not download the certificate: ${(error as Error).message}.`,
      );
    }
    try {
      chain = parseCertificates(bytes);
    } catch {
      chain = [];
    }
    if (chain.length === 0)
      return fail(
        'certificate-unreadable',
        'The certificate URL did not serve a DER or PEM X.509 certificate.',
      );
    cache.set(certificateUrl.href, chain);
  }

  const leaf = chain[0]!;
  const now = (options.now ?? (() => new Date()))();
  const validity = checkValidity(leaf, now);
  if (validity) return validity;
  if (!subjectOrganizations(leaf).includes(SIGNING_CERTIFICATE_ORGANIZATION)) {
    return fail(
      'certificate-not-microsoft',
      `Certificate subject is not O=${SIGNING_CERTIFICATE_ORGANIZATION} (${leaf.subject.replaceAll('\n', ', ')}).`,
    );
  }
  const trust = checkChain(leaf, chain.slice(1), anchors, now);
  if (trust) return trust;

  // rsa-sha256 is the only documented scheme; an EC key would verify a different algorithm than announced.
  if (leaf.publicKey.asymmetricKeyType !== 'rsa') {
    return fail('unsupported-algorithm', `Certificate key is ${leaf.publicKey.asymmetricKeyType}, not RSA.`);
  }
  if (!verify('sha256', event.rawBody, leaf.publicKey, signature)) {
    return fail('bad-signature', 'The signature does not match the request body and certificate.');
  }
  return { ok: true, certificate: leaf };
}

function fail(code: SignatureFailureCode, reason: string): SignatureResult {
  return { ok: false, code, reason };
}

function readHeader(headers: HeaderBag, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

/** "Signature <b64>" (documented) or the bare base64 token. */
function parseSignature(value: string): Buffer | undefined {
  const match = /^\s*(?:Signature\s+)?([A-Za-z0-9+/]+={0,2})\s*$/i.exec(value);
  if (!match) return undefined;
  const bytes = Buffer.from(match[1]!, 'base64');
  return bytes.length > 0 ? bytes : undefined;
}

/** Exact match on the host: an entry with a port matches that host:port, one without matches any port. */
export function isAllowedHost(url: URL, allowList: string[]): boolean {
  const hostname = url.hostname.toLowerCase();
  const host = url.host.toLowerCase();
  return allowList.some((entry) => {
    const allowed = entry.trim().toLowerCase();
    return allowed.includes(':') && !allowed.startsWith('[')
      ? allowed === host
      : allowed === hostname || allowed === host;
  });
}

export function parseCertificates(bytes: Buffer): X509Certificate[] {
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN CERTIFICATE-----')) {
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    return blocks.map((block) => new X509Certificate(block));
  }
  return [new X509Certificate(bytes)];
}

function checkValidity(certificate: X509Certificate, now: Date): SignatureResult | undefined {
  if (new Date(certificate.validFrom) > now) {
    return fail('certificate-not-yet-valid', `Certificate is not valid before ${certificate.validFrom}.`);
  }
  if (new Date(certificate.validTo) < now) {
    return fail('certificate-expired', `Certificate expired on ${certificate.validTo}.`);
  }
  return undefined;
}

function subjectOrganizations(certificate: X509Certificate): string[] {
  return certificate.subject
    .split('\n')
    .filter((line) => line.startsWith('O='))
    .map((line) => line.slice(2).trim());
}

const MAX_CHAIN_DEPTH = 5;

/** Walks leaf -> served intermediates -> anchor, verifying each signature with the issuer's public key. */
function checkChain(
  leaf: X509Certificate,
  intermediates: X509Certificate[],
  anchors: X509Certificate[],
  now: Date,
): SignatureResult | undefined {
  let current = leaf;
  const used = new Set<X509Certificate>();
  for (let depth = 0; depth <= MAX_CHAIN_DEPTH; depth++) {
    if (anchors.some((anchor) => anchor.fingerprint256 === current.fingerprint256)) return undefined;
    const signedByAnchor = anchors.find((anchor) => isIssuedBy(current, anchor));
    if (signedByAnchor) return checkValidity(signedByAnchor, now);
    const next = intermediates.find(
      (candidate) => !used.has(candidate) && candidate.ca && isIssuedBy(current, candidate),
    );
    if (!next) break;
    const validity = checkValidity(next, now);
    if (validity) return validity;
    used.add(next);
    current = next;
  }
  return fail(
    'certificate-untrusted',
    `Certificate (issuer ${leaf.issuer.replaceAll('\n', ', ')}) does not chain to a configured trust anchor.`,
  );
}

function isIssuedBy(subject: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

const MAX_CERTIFICATE_BYTES = 64 * 1024;

/** HTTPS GET trusting the system roots plus the configured anchors (so the emulator's TLS certificate validates). */
export function downloadCertificate(
  url: URL,
  trustAnchorsPem: string[],
  timeoutMs = 10_000,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method: 'GET', ca: [...rootCertificates, ...trustAnchorsPem], timeout: timeoutMs },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`HTTP ${res.statusCode} from ${url.host}`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_CERTIFICATE_BYTES) {
            req.destroy(new Error('certificate response too large'));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}
