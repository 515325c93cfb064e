// RFC 5280 path validation of the webhook signing certificate (R2), by pkijs's CertificateChainValidationEngine:
// signatures, validity at `now`, CA basic constraints and keyCertSign on every issuer, critical extensions it
// cannot read. Two rules it leaves to the caller are added here from the certificates it parsed: each CA's path
// length constraint, and the leaf's key usage and extended key usage (it must be allowed to sign).
import * as pkijs from 'pkijs';

export type PathResult = { ok: true } | { ok: false; reason: string };

const KEY_USAGE = '2.5.29.15';
const BASIC_CONSTRAINTS = '2.5.29.19';
const EXTENDED_KEY_USAGE = '2.5.29.37';
/** Purposes that allow the key to sign what Partner Center sends (RFC 5280 §4.2.1.12; any purpose included). */
const SIGNING_PURPOSES = new Set([
  '2.5.29.37.0', // anyExtendedKeyUsage
  '1.3.6.1.5.5.7.3.1', // serverAuth
  '1.3.6.1.5.5.7.3.2', // clientAuth
  '1.3.6.1.5.5.7.3.3', // codeSigning
]);

const parse = (der: Uint8Array) =>
  pkijs.Certificate.fromBER(der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer);

function extension(certificate: pkijs.Certificate, id: string): pkijs.Extension | undefined {
  return certificate.extensions?.find((e) => e.extnID === id);
}

/** The leaf's key usage bits, when it has the extension: bit 0 (the high bit of byte 0) is digitalSignature. */
function leafProblem(leaf: pkijs.Certificate): string | null {
  const usage = extension(leaf, KEY_USAGE)?.parsedValue as
    | { valueBlock?: { valueHexView?: Uint8Array } }
    | undefined;
  const bits = usage?.valueBlock?.valueHexView;
  if (bits && bits.length > 0 && (bits[0]! & 0x80) === 0) {
    return 'The signing certificate’s key usage does not allow digital signatures.';
  }
  const purposes = (extension(leaf, EXTENDED_KEY_USAGE)?.parsedValue as pkijs.ExtKeyUsage | undefined)
    ?.keyPurposes;
  if (purposes && !purposes.some((p) => SIGNING_PURPOSES.has(p))) {
    return `The signing certificate’s extended key usage (${purposes.join(', ')}) does not allow signing.`;
  }
  return null;
}

/** path: leaf first, anchor last. A CA's pathLenConstraint caps the CAs that may follow it below. */
function pathLengthProblem(path: readonly pkijs.Certificate[]): string | null {
  for (let i = path.length - 1; i >= 1; i--) {
    const constraints = extension(path[i]!, BASIC_CONSTRAINTS)?.parsedValue as
      | pkijs.BasicConstraints
      | undefined;
    const limit = constraints?.pathLenConstraint;
    if (typeof limit !== 'number') continue;
    const casBelow = i - 1; // certificates between this CA and the leaf
    if (casBelow > limit) {
      return `The chain has ${casBelow} CA certificate(s) below one whose path length limit is ${limit}.`;
    }
  }
  return null;
}

const subjectOf = (certificate: pkijs.Certificate) =>
  certificate.subject.typesAndValues.map((tv) => String(tv.value.valueBlock.value)).join(', ');

/** pkijs says "not a CA certificate" for both causes: name the certificate and which rule it broke. */
function explain(message: string, intermediates: readonly pkijs.Certificate[]): string {
  for (const certificate of intermediates) {
    const constraints = extension(certificate, BASIC_CONSTRAINTS)?.parsedValue as
      | pkijs.BasicConstraints
      | undefined;
    if (!constraints?.cA) return `${message}: '${subjectOf(certificate)}' is not a CA (basic constraints).`;
    const usage = extension(certificate, KEY_USAGE)?.parsedValue as
      | { valueBlock?: { valueHexView?: Uint8Array } }
      | undefined;
    const bits = usage?.valueBlock?.valueHexView;
    if (bits && bits.length > 0 && (bits[0]! & 0x04) === 0) {
      return `${message}: the key usage of CA '${subjectOf(certificate)}' lacks keyCertSign.`;
    }
  }
  return message;
}

export async function validatePath(
  leafDer: Uint8Array,
  intermediatesDer: readonly Uint8Array[],
  anchorsDer: readonly Uint8Array[],
  now: Date,
): Promise<PathResult> {
  let leaf: pkijs.Certificate;
  let intermediates: pkijs.Certificate[];
  let anchors: pkijs.Certificate[];
  try {
    leaf = parse(leafDer);
    intermediates = intermediatesDer.map(parse);
    anchors = anchorsDer.map(parse);
  } catch (error) {
    return { ok: false, reason: `A certificate could not be read: ${(error as Error).message}` };
  }
  const leafIssue = leafProblem(leaf);
  if (leafIssue) return { ok: false, reason: leafIssue };
  const engine = new pkijs.CertificateChainValidationEngine({
    trustedCerts: anchors,
    certs: [...intermediates, leaf],
    checkDate: now,
  });
  let result: pkijs.CertificateChainValidationEngineVerifyResult;
  try {
    result = await engine.verify();
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  if (!result.result) return { ok: false, reason: explain(result.resultMessage, intermediates) };
  const lengthIssue = pathLengthProblem(result.certificatePath ?? []);
  return lengthIssue ? { ok: false, reason: lengthIssue } : { ok: true };
}
