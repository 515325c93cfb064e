/**
 * Salesforce record ids: 3-char key prefix + 12 chars (15, case-sensitive) + a 3-char checksum that makes
 * the 18-char form case-insensitive. The checksum encodes, per 5-char chunk, which characters are upper case.
 */
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const CHECKSUM_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
/** Two characters standing for the pod/instance, as in real ids (e.g. `006Hs00000AbCdE`). */
const POD = '5g';

export function checksumSuffix(id15: string): string {
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15.charAt(chunk * 5 + i);
      if (c >= 'A' && c <= 'Z') bits |= 1 << i;
    }
    suffix += CHECKSUM_ALPHABET.charAt(bits);
  }
  return suffix;
}

export function to18(id15: string): string {
  return id15 + checksumSuffix(id15);
}

function base62(n: number, width: number): string {
  let out = '';
  let rest = n;
  while (rest > 0) {
    out = BASE62.charAt(rest % 62) + out;
    rest = Math.floor(rest / 62);
  }
  return out.padStart(width, '0');
}

/** Builds the 18-char id of the `sequence`-th record (any object) with the object's key prefix. */
export function makeId(keyPrefix: string, sequence: number): string {
  return to18(keyPrefix + POD + base62(sequence, 10));
}

/**
 * Normalises a 15- or 18-char id to its 18-char form, or returns undefined when it is not an id
 * (wrong length, characters outside [0-9A-Za-z], or an 18-char id whose checksum does not match its case).
 */
export function normaliseId(value: string): string | undefined {
  if (!/^[0-9A-Za-z]{15}([0-9A-Za-z]{3})?$/.test(value)) return undefined;
  const id15 = value.slice(0, 15);
  if (value.length === 18 && value.slice(15).toUpperCase() !== checksumSuffix(id15)) return undefined;
  return to18(id15);
}

export function keyPrefixOf(id: string): string {
  return id.slice(0, 3);
}
