// How Partner Center signs an event (reference §4 "Signature"): RSA PKCS#1 v1.5 with SHA-256 over the
// UTF-8 bytes of the exact body, base64, sent as `Signature <b64>`.
import { createSign } from 'node:crypto';
import { SIGNATURE_ALGORITHM } from './events.ts';

export function signBody(body: string, privateKeyPem: string): string {
  return createSign('RSA-SHA256').update(body, 'utf8').sign(privateKeyPem, 'base64');
}

export interface SignedHeadersInput {
  body: string;
  privateKeyPem: string;
  certificateUrl: string;
  /** The registration's `SignatureTokenToMsSignatureHeader`: the co-sell connector sets it because
   *  Power Automate HTTP triggers do not expose `Authorization`. */
  useMsSignatureHeader: boolean;
}

/** The headers of one delivery POST; the signature goes in exactly one of the two headers. */
export function signedHeaders(input: SignedHeadersInput): Record<string, string> {
  const signature = `Signature ${signBody(input.body, input.privateKeyPem)}`;
  return {
    'content-type': 'application/json',
    [input.useMsSignatureHeader ? 'x-ms-signature' : 'authorization']: signature,
    'x-ms-certificate-url': input.certificateUrl,
    'x-ms-signature-algorithm': SIGNATURE_ALGORITHM,
  };
}
