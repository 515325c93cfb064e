// Partner Center webhook signature verification (R2, reference §4 "Signature").
//
// Partner Center signs the exact body bytes with RSA PKCS#1 v1.5 / SHA-256 and says where its certificate
// lives (`x-ms-certificate-url`). Anyone can put a certificate on a blob store, so the URL host must be on an
// exact allow-list, and the certificate must chain cryptographically to a configured trust anchor (the
// Microsoft root in production, the emulator CA in tests) — an issuer *name* proves nothing.
import { verify, X509Certificate } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { validatePath } from './certificate-path.ts';
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
  | 'certificate-download-refused'
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

/** What a certificate URL led to: the served chain, trusted when it was downloaded, or why not. */
export type CertificateLookup =
  | { ok: true; chain: X509Certificate[] }
  | { ok: false; code: SignatureFailureCode; reason: string };

export interface CertificateCache {
  /**
   * The chain behind `url`: from memory while fresh, else downloaded (once per certificate however many callers
   * ask at the same time). `trust` decides, at download, whether the chain is worth keeping; a refused or failed
   * download is remembered too, for a shorter time, so a flood of bogus URLs costs one download each at most.
   * `allowDownload: false` answers only from memory (`certificate-download-refused` otherwise).
   */
  lookup(
    url: URL,
    download: (url: URL) => Promise<Buffer>,
    trust: (chain: X509Certificate[]) => Promise<SignatureResult | undefined>,
    options?: { allowDownload?: boolean },
  ): Promise<CertificateLookup>;
  /** Entries held now (bounded by `maxEntries`). */
  readonly size: number;
  /** Downloads started since the cache was made. */
  readonly downloads: number;
}

export interface CertificateCacheOptions {
  /** How long a trusted chain is kept (its validity is still checked on every use). */
  ttlMs?: number;
  /** How long a failed download or an untrusted chain is remembered. */
  failureTtlMs?: number;
  /** Entries kept at most, least recently used dropped first. */
  maxEntries?: number;
  /** Downloads running at once at most; a further new URL is refused, not queued. */
  maxConcurrentDownloads?: number;
  now?: () => number;
}

/** A certificate is named by where it lives: scheme, host, port and path. The query and fragment are not part of
 *  its name, so `cert?bogus=1`, `cert?bogus=2`, … are one entry and one download. */
export function certificateKeyOf(url: URL): string {
  return `${url.protocol}//${url.host.toLowerCase()}${url.pathname}`;
}

/** In-memory, bounded certificate cache (see CertificateCache). */
export function createCertificateCache(
  ttlOrOptions: number | CertificateCacheOptions = {},
  nowArg?: () => number,
): CertificateCache {
  const options: CertificateCacheOptions =
    typeof ttlOrOptions === 'number'
      ? { ttlMs: ttlOrOptions, ...(nowArg ? { now: nowArg } : {}) }
      : ttlOrOptions;
  const ttlMs = options.ttlMs ?? 60 * 60 * 1000;
  const failureTtlMs = options.failureTtlMs ?? 60 * 1000;
  const maxEntries = options.maxEntries ?? 64;
  const maxConcurrent = options.maxConcurrentDownloads ?? 4;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { result: CertificateLookup; expiresAt: number }>();
  const inFlight = new Map<string, Promise<CertificateLookup>>();
  let downloads = 0;

  const remember = (key: string, result: CertificateLookup) => {
    entries.delete(key);
    entries.set(key, { result, expiresAt: now() + (result.ok ? ttlMs : failureTtlMs) });
    while (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
  };

  return {
    get size() {
      return entries.size;
    },
    get downloads() {
      return downloads;
    },
    async lookup(url, download, trust, lookupOptions = {}) {
      const key = certificateKeyOf(url);
      const entry = entries.get(key);
      if (entry && entry.expiresAt > now()) {
        // Most recently used last: the LRU order of the Map.
        entries.delete(key);
        entries.set(key, entry);
        return entry.result;
      }
      if (entry) entries.delete(key);
      const pending = inFlight.get(key);
      if (pending) return pending;
      if (lookupOptions.allowDownload === false) {
        return {
          ok: false,
          code: 'certificate-download-refused',
          reason:
            'Too many refused webhooks from this caller: a certificate not already trusted is not downloaded for it now.',
        };
      }
      if (inFlight.size >= maxConcurrent) {
        return {
          ok: false,
          code: 'certificate-fetch-failed',
          reason: `Too many certificate downloads at once (${maxConcurrent}); not fetched.`,
        };
      }
      downloads++;
      const job = (async (): Promise<CertificateLookup> => {
        let result: CertificateLookup;
        try {
          const bytes = await download(url);
          let chain: X509Certificate[] = [];
          try {
            chain = parseCertificates(bytes);
          } catch {
            chain = [];
          }
          if (chain.length === 0) {
            result = {
              ok: false,
              code: 'certificate-unreadable',
              reason: 'The certificate URL did not serve a DER or PEM X.509 certificate.',
            };
          } else {
            const refused = await trust(chain);
            result = refused && !refused.ok ? refused : { ok: true, chain };
          }
        } catch (error) {
          result = {
            ok: false,
            code: 'certificate-fetch-failed',
            reason: `Could not download the certificate: ${(error as Error).message}.`,
          };
        }
        remember(key, result);
        return result;
      })();
      inFlight.set(key, job);
      try {
        return await job;
      } finally {
        inFlight.delete(key);
      }
    },
  };
}

const defaultCache = createCertificateCache();

export interface VerifyOptions {
  /** Where the certificate may be downloaded from: `host` (port 443) or `host:port`, matched exactly. */
  allowedCertificateHosts: string[];
  /** PEM certificates the signing certificate must chain to. */
  trustAnchorsPem: string[];
  /** Replaces the HTTPS download (returns the raw DER or PEM bytes). */
  fetchCertificate?: (url: URL) => Promise<Buffer>;
  cache?: CertificateCache;
  /** False for a caller refused too often lately: only certificates already trusted are used (no download). */
  allowDownload?: boolean;
  now?: () => Date;
}

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
  const oddHost = nonCanonicalHost(certificateUrlText, certificateUrl);
  if (oddHost !== null) {
    return fail(
      'certificate-host-not-allowed',
      `Certificate URL host '${oddHost}' is not written plainly (it reads as ${certificateUrl.host}): refused.`,
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

  const now = (options.now ?? (() => new Date()))();
  const cache = options.cache ?? defaultCache;
  const lookup = await cache.lookup(
    certificateUrl,
    options.fetchCertificate ??
      ((url) => downloadWithIssuer(url, options.trustAnchorsPem, options.allowedCertificateHosts)),
    (chain) => checkCertificate(chain, anchors, now),
    { allowDownload: options.allowDownload !== false },
  );
  if (!lookup.ok) return fail(lookup.code, lookup.reason);
  const chain = lookup.chain;
  const leaf = chain[0]!;
  // Checked on every use: a cached chain can expire, and the clock moves on.
  const refused = await checkCertificate(chain, anchors, now);
  if (refused) return refused;

  // rsa-sha256 is the only documented scheme; an EC key would verify a different algorithm than announced.
  if (leaf.publicKey.asymmetricKeyType !== 'rsa') {
    return fail('unsupported-algorithm', `Certificate key is ${leaf.publicKey.asymmetricKeyType}, not RSA.`);
  }
  if (!verify('sha256', event.rawBody, leaf.publicKey, signature)) {
    return fail('bad-signature', 'The signature does not match the request body and certificate.');
  }
  return { ok: true, certificate: leaf };
}

/** The leaf is valid now, issued to Microsoft, and chains to a trust anchor; undefined when all holds. */
async function checkCertificate(
  chain: X509Certificate[],
  anchors: X509Certificate[],
  now: Date,
): Promise<SignatureResult | undefined> {
  const leaf = chain[0]!;
  const validity = checkValidity(leaf, now);
  if (validity) return validity;
  if (!organizations(leaf.subject).includes(SIGNING_CERTIFICATE_ORGANIZATION)) {
    return fail(
      'certificate-not-microsoft',
      `Certificate subject is not O=${SIGNING_CERTIFICATE_ORGANIZATION} (${leaf.subject.replaceAll('\n', ', ')}).`,
    );
  }
  // Microsoft's documented check is on the issuer; the chain below proves the issuer is who it says.
  if (!organizations(leaf.issuer).includes(SIGNING_CERTIFICATE_ORGANIZATION)) {
    return fail(
      'certificate-not-microsoft',
      `Certificate issuer is not O=${SIGNING_CERTIFICATE_ORGANIZATION} (${leaf.issuer.replaceAll('\n', ', ')}).`,
    );
  }
  return checkChain(leaf, chain.slice(1), anchors, now);
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

/**
 * Exact match on scheme, host and port: an entry `host` allows that host on port 443 only, `host:port` that port
 * only (`[::1]:8443` for IPv6). A host that matches no entry, even on another port of an allowed host, is refused:
 * otherwise a caller could make cosell fetch from any service on that machine.
 */
export function isAllowedHost(url: URL, allowList: string[]): boolean {
  if (url.protocol !== 'https:') return false;
  const host = url.hostname.toLowerCase();
  const port = url.port || '443';
  return allowList.some((entry) => {
    const allowed = parseHostEntry(entry);
    return allowed !== null && allowed.host === host && allowed.port === port;
  });
}

function parseHostEntry(entry: string): { host: string; port: string } | null {
  try {
    const url = new URL(`https://${entry.trim()}`);
    if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) return null;
    return { host: url.hostname.toLowerCase(), port: url.port || '443' };
  } catch {
    return null;
  }
}

/**
 * The host as written in the header, when it differs from what a URL parser makes of it: `127.1`, `2130706433`,
 * `0x7f.0.0.1` all parse as 127.0.0.1. Only the plain form is accepted, so an allow-list entry means exactly what
 * it says. Returns null for a plainly written host.
 */
export function nonCanonicalHost(text: string, url: URL): string | null {
  const raw = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(text.trim())?.[1]?.toLowerCase();
  if (raw === undefined) return null;
  const written = raw.endsWith(':443') && url.protocol === 'https:' ? raw.slice(0, -4) : raw;
  return written === url.host.toLowerCase() ? null : raw;
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

function organizations(distinguishedName: string): string[] {
  return distinguishedName
    .split('\n')
    .filter((line) => line.startsWith('O='))
    .map((line) => line.slice(2).trim());
}

const MAX_CHAIN_DEPTH = 5;

/** Walks leaf -> served intermediates -> anchor, verifying each signature with the issuer's public key. */
/** The whole path, RFC 5280, by pkijs (certificate-path.ts); a leaf configured as a trust anchor is trusted as is. */
async function checkChain(
  leaf: X509Certificate,
  intermediates: X509Certificate[],
  anchors: X509Certificate[],
  now: Date,
): Promise<SignatureResult | undefined> {
  if (anchors.some((anchor) => anchor.fingerprint256 === leaf.fingerprint256)) return undefined;
  const path = await validatePath(
    leaf.raw,
    intermediates.slice(0, MAX_CHAIN_DEPTH).map((c) => c.raw),
    anchors.map((c) => c.raw),
    now,
  );
  if (path.ok) return undefined;
  return fail(
    'certificate-untrusted',
    `Certificate (issuer ${leaf.issuer.replaceAll('\n', ', ')}) does not chain to a configured trust anchor: ${path.reason}`,
  );
}

const MAX_CERTIFICATE_BYTES = 64 * 1024;

/** Where a certificate says its issuer can be downloaded (Authority Information Access, caIssuers). */
function caIssuersUrl(certificate: X509Certificate): URL | undefined {
  const match = /CA Issuers - URI:(\S+)/.exec(certificate.infoAccess ?? '');
  if (!match) return undefined;
  try {
    return new URL(match[1]!);
  } catch {
    return undefined;
  }
}

/**
 * The signing certificate, plus its issuing CA when the certificate names one (AIA caIssuers) on an allowed
 * origin: Microsoft serves the leaf alone, and chain building fetches the issuer as Windows does. Anything that
 * would leave the allow-list (another host, another port, plain http) is not fetched; the chain then needs the
 * issuing CA among the trust anchors.
 */
export async function downloadWithIssuer(
  url: URL,
  trustAnchorsPem: string[],
  allowedHosts: string[],
): Promise<Buffer> {
  const bytes = await downloadCertificate(url, trustAnchorsPem);
  let chain: X509Certificate[];
  try {
    chain = parseCertificates(bytes);
  } catch {
    return bytes;
  }
  const issuerUrl = chain.length === 1 ? caIssuersUrl(chain[0]!) : undefined;
  if (issuerUrl?.protocol !== 'https:' || issuerUrl.username || !isAllowedHost(issuerUrl, allowedHosts)) {
    return bytes;
  }
  try {
    const issuers = parseCertificates(await downloadCertificate(issuerUrl, trustAnchorsPem));
    return Buffer.from([chain[0]!, ...issuers].map((c) => c.toString()).join('\n'));
  } catch {
    return bytes;
  }
}

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
