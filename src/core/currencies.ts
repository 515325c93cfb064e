// ISO 4217 currency codes, from the `currency-codes` package.
import currencyCodes from 'currency-codes';

/** ISO 4217 lists precious metals, bond units, the testing code and "no currency" (XXX) next to real
 *  currencies; the package marks them with pseudo-countries starting "ZZ". None can price a deal. */
const isRealCurrency = (record: { countries: string[] }) => !record.countries.some((c) => /^zz/i.test(c));

/** Every ISO 4217 alphabetic code for a real currency, sorted. */
export const CURRENCY_CODES: readonly string[] = Object.freeze(
  currencyCodes.data
    .filter(isRealCurrency)
    .map((r) => r.code)
    .sort(),
);
const CURRENCY_CODE_SET: ReadonlySet<string> = new Set(CURRENCY_CODES);

/** True only for an upper-case ISO 4217 code of a real currency ("USD"), the form Partner Center accepts. */
export function isCurrencyCode(value: unknown): boolean {
  return typeof value === 'string' && /^[A-Z]{3}$/.test(value) && CURRENCY_CODE_SET.has(value);
}

/** Number of minor-unit digits of a currency (USD 2, JPY 0), undefined if unknown. */
export function currencyMinorDigits(code: string): number | undefined {
  return CURRENCY_CODE_SET.has(code) ? currencyCodes.code(code)?.digits : undefined;
}
