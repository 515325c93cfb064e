// ISO 3166-1 alpha-2 country codes and English names, from the `i18n-iso-countries` package.
//
// Partner Center wants a two-letter code on `customerProfile.address.country` (reference §3), while CRMs
// often hold a name ("United States" in Salesforce `BillingCountry`, Dynamics `address1_country`): R21
// asks us to translate both ways. Only the English locale is registered; the package's entry point would
// load every language.
import countries from 'i18n-iso-countries/index.js';
import en from 'i18n-iso-countries/langs/en.json' with { type: 'json' };

countries.registerLocale(en);

/** Every ISO 3166-1 alpha-2 code the package knows, sorted. */
export const COUNTRY_CODES: readonly string[] = Object.freeze(Object.keys(countries.getAlpha2Codes()).sort());
const COUNTRY_CODE_SET: ReadonlySet<string> = new Set(COUNTRY_CODES);

/** True only for an upper-case two-letter ISO 3166 code ("US"), the form Partner Center accepts. */
export function isCountryCode(value: unknown): boolean {
  return typeof value === 'string' && /^[A-Z]{2}$/.test(value) && COUNTRY_CODE_SET.has(value);
}

/**
 * The two-letter code for a country name, alias, alpha-2 or alpha-3 code, in any letter case:
 * "United States", "USA", "U.S.", "us", "GBR", "UK", "Côte d'Ivoire" and "cote d ivoire" all resolve.
 * Undefined when nothing matches.
 */
export function countryCodeFromName(nameOrCode: string | null | undefined): string | undefined {
  const text = nameOrCode?.trim();
  if (!text) return undefined;
  const upper = text.toUpperCase();
  if (COUNTRY_CODE_SET.has(upper)) return upper;
  if (/^[A-Z]{3}$/.test(upper)) {
    const fromAlpha3 = countries.alpha3ToAlpha2(upper);
    if (fromAlpha3) return fromAlpha3;
  }
  // getAlpha2Code matches names and aliases case-insensitively; the "simple" variant also ignores
  // diacritics and punctuation.
  return countries.getAlpha2Code(text, 'en') ?? countries.getSimpleAlpha2Code(text, 'en');
}

/** The English name for a two-letter code ("US" -> "United States of America"), undefined if unknown. */
export function countryNameFromCode(code: string | null | undefined): string | undefined {
  const upper = code?.trim().toUpperCase();
  if (!upper || !COUNTRY_CODE_SET.has(upper)) return undefined;
  return countries.getName(upper, 'en');
}
