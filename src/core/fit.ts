// Fitting Partner Center values into what a CRM field can hold (R4, R19): a referral's 100,000-character notes or
// 311-character name is cut to the CRM field's length and the audit line says so, and an e-mail address the CRM
// would refuse is left off the contact. Without this the CRM refuses the whole record, again on every retry.
//
// The same fitting is applied to Partner Center's values before the 3-way diff, so our own cut is never read
// as a seller's change (a shorter name in the CRM is what we wrote, not an edit to send back to Microsoft).
import type { CanonicalValue, Values } from './mapping.ts';

/** Longest text each field holds, in characters; a field left out has no limit we know of. */
export interface FieldLimits {
  /** `name` is the room left for the name itself (the adapter keeps space for the ✔/✖ mark). */
  deal: Partial<Record<'name' | 'notes', number>>;
  contact: Partial<Record<'firstName' | 'lastName' | 'email' | 'phone', number>>;
  account: Partial<Record<'name' | 'street' | 'city' | 'state' | 'postalCode', number>>;
}

export const NO_LIMITS: FieldLimits = { deal: {}, contact: {}, account: {} };

/** What was cut or left out, in a seller's words, for the audit line. */
export type FitNote = string;

/** Cuts `text` to `max` characters (never inside a surrogate pair), trailing spaces trimmed. */
export function fitText(text: string, max: number | undefined): string {
  if (max === undefined || text.length <= max) return text;
  let cut = text.slice(0, Math.max(0, max));
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut.trimEnd();
}

/** A pragmatic address check (what CRMs enforce): one @, a dotted domain, no spaces or control characters. */
export function isPlausibleEmail(email: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
  return /^[^\s@\u0000-\u001f<>(),;:"[\]]+@[^\s@\u0000-\u001f<>(),;:"[\]]+\.[^\s@\u0000-\u001f<>(),;:"[\]]{2,}$/.test(
    email,
  );
}

/** The e-mail address the CRM can hold, or null (with why) when it cannot. */
export function fitEmail(
  email: string | null | undefined,
  max: number | undefined,
): { email: string | null; problem?: string } {
  if (!email) return { email: null };
  if (!isPlausibleEmail(email)) return { email: null, problem: `'${email}' is not a valid e-mail address` };
  if (max !== undefined && email.length > max)
    return { email: null, problem: `'${email}' is longer than the CRM's ${max} characters` };
  return { email };
}

/** `label` cut to `max`, with a note when it was. */
export function fitLabelled<T extends string | null | undefined>(
  value: T,
  max: number | undefined,
  label: string,
  notes: FitNote[],
): T {
  if (typeof value !== 'string') return value;
  const fitted = fitText(value, max);
  if (fitted !== value) notes.push(`${label} cut to ${fitted.length} characters to fit the CRM field`);
  return fitted as T;
}

/**
 * Partner Center's canonical values as the CRM would hold them: name and notes cut to the field length, and
 * contacts the CRM cannot hold by e-mail left out of the list (they were created without one).
 */
export function fitReferralValues(values: Values, limits: FieldLimits): Values {
  const out: Record<string, CanonicalValue> = { ...values };
  for (const field of ['name', 'notes'] as const) {
    const value = out[field];
    if (typeof value === 'string') out[field] = fitText(value, limits.deal[field]);
  }
  const contacts = out.contacts;
  if (Array.isArray(contacts)) {
    out.contacts = contacts.filter((email) => fitEmail(email, limits.contact.email).email !== null);
  }
  return out;
}
