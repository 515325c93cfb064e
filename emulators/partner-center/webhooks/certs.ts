// The emulator's own PKI, shaped like Microsoft's: a root CA users configure as their only trust anchor, an
// issuing CA whose subject is `O=Microsoft Corporation` (the organisation Microsoft's documented verification
// checks on the signing certificate's issuer), the webhook signing certificate (subject `O=Microsoft
// Corporation`, CN `pcnotifications-dispatch.microsoft.com`, like the real one) pointing at its issuer with an
// Authority Information Access URL, and a TLS certificate for the local HTTPS server that serves them.
//
// Keys come from node:crypto (native, ~100 ms for 2048 bits); node-forge only assembles and signs the
// X.509 structures, which node:crypto cannot build. Everything is PEM so it can live in the state file:
// a restarted emulator keeps its CA and users need not re-trust it.
import { createPublicKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { z } from 'zod';

export const CA_SUBJECT = [
  { name: 'commonName', value: 'cosell Partner Center Emulator Root CA' },
  { name: 'organizationName', value: 'cosell emulator' },
];

/** Shaped like Microsoft's issuing CAs (`CN=Microsoft Azure RSA TLS Issuing CA 04, O=Microsoft Corporation`). */
export const ISSUING_SUBJECT = [
  { name: 'commonName', value: 'cosell emulator RSA TLS Issuing CA 01' },
  { name: 'organizationName', value: 'Microsoft Corporation' },
  { name: 'organizationalUnitName', value: 'cosell emulator (not issued by Microsoft)' },
  { name: 'countryName', value: 'US' },
];

/** Host name of the real Partner Center signing certificate (its `.cer` file is named after it). */
export const SIGNING_CERTIFICATE_HOST = 'pcnotifications-dispatch.microsoft.com';

export const SIGNING_SUBJECT = [
  { name: 'commonName', value: SIGNING_CERTIFICATE_HOST },
  // Receivers check for this organisation (reference §4 "Signature"); an issuer or subject string proves
  // nothing on its own, which is why the chain must validate to the emulator CA as well.
  { name: 'organizationName', value: 'Microsoft Corporation' },
  { name: 'organizationalUnitName', value: 'cosell emulator (not issued by Microsoft)' },
  { name: 'localityName', value: 'Redmond' },
  { name: 'stateOrProvinceName', value: 'Washington' },
  { name: 'countryName', value: 'US' },
];

const YEAR_MS = 365 * 24 * 3600 * 1000;

export const hubCertificatesSchema = z.object({
  caCertPem: z.string(),
  caKeyPem: z.string(),
  /** Absent in state files written before the issuing CA existed: created on restore. */
  issuingCertPem: z.string().optional(),
  issuingKeyPem: z.string().optional(),
  signingCertPem: z.string(),
  signingKeyPem: z.string(),
  tlsCertPem: z.string(),
  tlsKeyPem: z.string(),
  /** Hosts the TLS certificate covers; a different `host` on restart gets a new TLS certificate. */
  tlsHosts: z.array(z.string()),
});
export type HubCertificates = z.infer<typeof hubCertificatesSchema>;

function newKeyPair(): { privatePem: string; publicKey: forge.pki.PublicKey } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { privatePem: privateKey, publicKey: forge.pki.publicKeyFromPem(publicKey) };
}

interface CertificateSpec {
  subject: forge.pki.CertificateField[];
  publicKey: forge.pki.PublicKey;
  issuer?: { cert: forge.pki.Certificate; keyPem: string };
  /** Signs itself when there is no issuer; needed for the root. */
  selfKeyPem?: string;
  years: number;
  extensions: object[];
  now: Date;
}

function buildCertificate(spec: CertificateSpec): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = spec.publicKey;
  // Positive, unique serial: a leading 0x01 byte keeps the DER integer from reading as negative.
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(spec.now.getTime() - 24 * 3600 * 1000);
  cert.validity.notAfter = new Date(spec.now.getTime() + spec.years * YEAR_MS);
  cert.setSubject(spec.subject);
  cert.setIssuer(spec.issuer ? spec.issuer.cert.subject.attributes : spec.subject);
  // forge derives the subject key id from this certificate's key; the authority key id must equal the
  // issuer's subject key id or chain building (OpenSSL's checkIssued) rejects the pair.
  cert.setExtensions([
    ...spec.extensions,
    { name: 'subjectKeyIdentifier' },
    {
      name: 'authorityKeyIdentifier',
      keyIdentifier: spec.issuer ? spec.issuer.cert.generateSubjectKeyIdentifier().getBytes() : true,
    },
  ]);
  const signingKeyPem = spec.issuer?.keyPem ?? spec.selfKeyPem!;
  cert.sign(forge.pki.privateKeyFromPem(signingKeyPem), forge.md.sha256.create());
  return cert;
}

function tlsCertificate(
  hosts: string[],
  ca: { cert: forge.pki.Certificate; keyPem: string },
  now: Date,
): { certPem: string; keyPem: string } {
  const key = newKeyPair();
  const cert = buildCertificate({
    subject: [
      { name: 'commonName', value: hosts[0]! },
      { name: 'organizationName', value: 'cosell emulator' },
    ],
    publicKey: key.publicKey,
    issuer: ca,
    years: 5,
    now,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        // GeneralName types: 2 = dNSName, 7 = iPAddress.
        altNames: hosts.map((host) => (isIP(host) ? { type: 7, ip: host } : { type: 2, value: host })),
      },
    ],
  });
  return { certPem: forge.pki.certificateToPem(cert), keyPem: key.privatePem };
}

/** The hosts the TLS certificate must name so https clients on this machine accept it. */
export function tlsHostsFor(host: string): string[] {
  const hosts = ['127.0.0.1', 'localhost', '::1'];
  const bare = host.replace(/^\[|\]$/g, '');
  return hosts.includes(bare) || bare === '0.0.0.0' || bare === '::' ? hosts : [bare, ...hosts];
}

/** Creates a fresh CA with its signing and TLS certificates. */
export function createHubCertificates(host: string, now = new Date()): HubCertificates {
  const caKey = newKeyPair();
  const caCert = buildCertificate({
    subject: CA_SUBJECT,
    publicKey: caKey.publicKey,
    selfKeyPem: caKey.privatePem,
    years: 20,
    now,
    extensions: [
      { name: 'basicConstraints', critical: true, cA: true, pathLenConstraint: 1 },
      { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true },
    ],
  });
  const ca = { cert: caCert, keyPem: caKey.privatePem };
  const issuing = issuingCertificate(ca, now);
  const signingKey = newKeyPair();
  const signingCertPem = signingCertificatePem(
    { issuingCertPem: issuing.certPem, issuingKeyPem: issuing.keyPem, signingKeyPem: signingKey.privatePem },
    undefined,
    now,
  );
  const tlsHosts = tlsHostsFor(host);
  const tls = tlsCertificate(tlsHosts, ca, now);
  return {
    caCertPem: forge.pki.certificateToPem(caCert),
    caKeyPem: caKey.privatePem,
    issuingCertPem: issuing.certPem,
    issuingKeyPem: issuing.keyPem,
    signingCertPem,
    signingKeyPem: signingKey.privatePem,
    tlsCertPem: tls.certPem,
    tlsKeyPem: tls.keyPem,
    tlsHosts,
  };
}

function issuingCertificate(
  ca: { cert: forge.pki.Certificate; keyPem: string },
  now: Date,
): { certPem: string; keyPem: string } {
  const key = newKeyPair();
  const cert = buildCertificate({
    subject: ISSUING_SUBJECT,
    publicKey: key.publicKey,
    issuer: ca,
    years: 15,
    now,
    extensions: [
      { name: 'basicConstraints', critical: true, cA: true, pathLenConstraint: 0 },
      { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true },
    ],
  });
  return { certPem: forge.pki.certificateToPem(cert), keyPem: key.privatePem };
}

/** Authority Information Access with one caIssuers URI (RFC 5280 §4.2.2.1), as DER for forge. */
function authorityInfoAccess(caIssuersUrl: string): { id: string; critical: boolean; value: string } {
  const { asn1 } = forge;
  const description = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer('1.3.6.1.5.5.7.48.2').getBytes()),
    // GeneralName uniformResourceIdentifier: [6] IMPLICIT IA5String.
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 6, false, caIssuersUrl),
  ]);
  const value = asn1
    .toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [description]))
    .getBytes();
  return { id: '1.3.6.1.5.5.7.1.1', critical: false, value };
}

/** The signing certificate for the signing key, issued by the issuing CA, naming where its issuer can be
 *  downloaded (`caIssuersUrl`) as Microsoft's certificates do. */
export function signingCertificatePem(
  certs: Pick<HubCertificates, 'issuingCertPem' | 'issuingKeyPem' | 'signingKeyPem'>,
  caIssuersUrl: string | undefined,
  now = new Date(),
): string {
  const issuer = { cert: forge.pki.certificateFromPem(certs.issuingCertPem!), keyPem: certs.issuingKeyPem! };
  const publicPem = createPublicKey(certs.signingKeyPem).export({ type: 'spki', format: 'pem' }).toString();
  const cert = buildCertificate({
    subject: SIGNING_SUBJECT,
    publicKey: forge.pki.publicKeyFromPem(publicPem),
    issuer,
    years: 10,
    now,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', critical: true, digitalSignature: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: SIGNING_CERTIFICATE_HOST }] },
      ...(caIssuersUrl ? [authorityInfoAccess(caIssuersUrl)] : []),
    ],
  });
  return forge.pki.certificateToPem(cert);
}

/** Reuses saved certificates (same CA, same signing key); adds the issuing CA to a state file written before it
 *  existed, and re-issues the TLS certificate when the emulator now listens on a host the saved one does not
 *  name. */
export function restoreHubCertificates(
  saved: HubCertificates,
  host: string,
  now = new Date(),
): HubCertificates {
  const ca = { cert: forge.pki.certificateFromPem(saved.caCertPem), keyPem: saved.caKeyPem };
  let restored = saved;
  if (!saved.issuingCertPem || !saved.issuingKeyPem) {
    const issuing = issuingCertificate(ca, now);
    restored = { ...restored, issuingCertPem: issuing.certPem, issuingKeyPem: issuing.keyPem };
  }
  const tlsHosts = tlsHostsFor(host);
  if (tlsHosts.every((h) => saved.tlsHosts.includes(h))) return restored;
  const tls = tlsCertificate(tlsHosts, ca, now);
  return { ...restored, tlsCertPem: tls.certPem, tlsKeyPem: tls.keyPem, tlsHosts };
}

/** The issuing CA as DER, what its caIssuers URL serves. */
export function issuingCertificateDer(certs: HubCertificates): Buffer {
  return Buffer.from(new X509Certificate(certs.issuingCertPem!).raw);
}

/** The signing certificate as DER, the form of the real `.cer` file. */
export function signingCertificateDer(certs: HubCertificates): Buffer {
  return Buffer.from(new X509Certificate(certs.signingCertPem).raw);
}
