// Plausibility of the values cosell sends to Partner Center (R12): a typo on the CRM side (a negative amount,
// 1e300, a close date in 1900 or 9999, an invisible control character pasted into the notes) is stopped here
// with a message a seller can act on, instead of reaching Microsoft sellers. These are our limits, not Partner
// Center's documented ones, so they live apart from the co-sell rules the emulator mirrors; the numbers are data.
import type { RuleProblem } from './cosell-rules.ts';
import { currencyMinorDigits } from './currencies.ts';
import { normalizeMoney, normalizeText } from './normalize.ts';
import type { Referral } from './referral.ts';

export const VALUE_LIMITS = {
  /** A deal larger than this is a typo (Microsoft's own largest commitments are far below it). */
  maxDealValue: 1_000_000_000_000,
  /** Decimals when the currency's own minor unit is unknown. */
  defaultMinorDigits: 2,
  /** Close dates before this year are typos (or defaults of an old import). */
  earliestCloseYear: 2000,
  /** Close dates further ahead than this are typos (9999-12-31 placeholders). */
  latestCloseYearsAhead: 10,
} as const;

/** A deal value a person could mean: finite, not negative, not beyond `maxDealValue`. */
export function isPlausibleDealValue(value: number): boolean {
  return Number.isFinite(value) && value >= 0 && value <= VALUE_LIMITS.maxDealValue;
}

/** C0 controls and DEL, except tab, line feed and carriage return, which notes legitimately carry. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

const dealOf = (r: Referral) => {
  const name = normalizeText(r.name);
  return name ? `deal '${name}'` : 'the deal';
};

/**
 * Every implausible value of the referral, each with the field (`path`) and what to do. `now` bounds the close
 * date; `paths` limits the check to the fields about to be sent (an old value nobody touches blocks nothing).
 */
export function checkValuesForPartnerCenter(
  referral: Referral,
  options: { now: Date; paths?: readonly string[] },
): RuleProblem[] {
  const wanted = (path: string) => !options.paths || options.paths.includes(path);
  const problems: RuleProblem[] = [];
  const problem = (rule: RuleProblem['rule'], path: string, message: string) =>
    problems.push({ rule, path, message, severity: 'error' });

  const money = normalizeMoney(referral.details?.dealValue);
  if (wanted('details.dealValue') && money !== null) {
    const value = Number(money);
    const currency = normalizeText(referral.details?.currency)?.toUpperCase() ?? '';
    const digits = currencyMinorDigits(currency) ?? VALUE_LIMITS.defaultMinorDigits;
    const decimals = money.includes('.') ? money.split('.')[1]!.length : 0;
    if (!Number.isFinite(value) || value > VALUE_LIMITS.maxDealValue) {
      problem(
        'deal-value-invalid',
        'details.dealValue',
        `The deal value ${money} of ${dealOf(referral)} is not a plausible amount (more than ${VALUE_LIMITS.maxDealValue.toLocaleString('en-US')}): correct the deal value.`,
      );
    } else if (value < 0) {
      problem(
        'deal-value-invalid',
        'details.dealValue',
        `The deal value ${money} of ${dealOf(referral)} is negative: enter the expected revenue as a positive amount.`,
      );
    } else if (decimals > digits) {
      const rounded = value.toFixed(digits);
      problem(
        'deal-value-invalid',
        'details.dealValue',
        `The deal value ${money} of ${dealOf(referral)} has more decimals than ${currency || 'the currency'} has (${digits}): round it, e.g. to ${rounded}.`,
      );
    }
  }

  const closing = normalizeText(referral.details?.closingDateTime);
  if (wanted('details.closingDateTime') && closing !== null) {
    const day = closing.slice(0, 10);
    const earliest = `${VALUE_LIMITS.earliestCloseYear}-01-01`;
    const latestDate = new Date(options.now);
    latestDate.setUTCFullYear(latestDate.getUTCFullYear() + VALUE_LIMITS.latestCloseYearsAhead);
    const latest = latestDate.toISOString().slice(0, 10);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || day < earliest || day > latest) {
      problem(
        'closing-date-out-of-range',
        'details.closingDateTime',
        `The close date ${day} of ${dealOf(referral)} is outside ${earliest} to ${latest}: set the date the deal is expected to close.`,
      );
    }
  }

  const notes = referral.details?.notes;
  if (wanted('details.notes') && typeof notes === 'string') {
    const found = CONTROL_CHARACTER.exec(notes);
    if (found) {
      const code = found[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
      problem(
        'notes-control-characters',
        'details.notes',
        `The notes of ${dealOf(referral)} contain an invisible control character (U+${code} at position ${found.index + 1}) that Partner Center cannot take: retype the notes around that place or paste them as plain text.`,
      );
    }
  }
  return problems;
}
