import { describe, expect, it } from 'vitest';
import { COUNTRY_CODES, countryCodeFromName, countryNameFromCode, isCountryCode } from './countries.ts';
import { CURRENCY_CODES, currencyMinorDigits, isCurrencyCode } from './currencies.ts';

describe('ISO 3166 country codes (R12, R21)', () => {
  it('lists the alpha-2 codes', () => {
    expect(COUNTRY_CODES.length).toBeGreaterThanOrEqual(249);
    expect(COUNTRY_CODES).toContain('US');
    expect(COUNTRY_CODES).toContain('GB');
  });

  it.each([
    ['US', true],
    ['GB', true],
    ['DE', true],
    ['us', false],
    ['USA', false],
    ['United States', false],
    ['ZZ', false],
    ['', false],
    [null, false],
  ])('R12 isCountryCode(%j) -> %s', (value, expected) => {
    expect(isCountryCode(value)).toBe(expected);
  });

  it.each([
    ['United States', 'US'],
    ['United States of America', 'US'],
    ['USA', 'US'],
    ['U.S.', 'US'],
    ['united states', 'US'],
    ['us', 'US'],
    ['US', 'US'],
    ['United Kingdom', 'GB'],
    ['UK', 'GB'],
    ['Great Britain', 'GB'],
    ['GBR', 'GB'],
    ['Germany', 'DE'],
    ['DEU', 'DE'],
    ["Côte d'Ivoire", 'CI'],
    [' Netherlands ', 'NL'],
    ['Narnia', undefined],
    ['', undefined],
    [null, undefined],
  ])('R21 countryCodeFromName(%j) -> %j', (name, expected) => {
    expect(countryCodeFromName(name)).toBe(expected);
  });

  it.each([
    ['US', 'United States of America'],
    ['gb', 'United Kingdom'],
    ['DE', 'Germany'],
    ['ZZ', undefined],
    [null, undefined],
  ])('R21 countryNameFromCode(%j) -> %j', (code, expected) => {
    expect(countryNameFromCode(code)).toBe(expected);
  });

  it('R21 every code survives code -> name -> code', () => {
    for (const code of COUNTRY_CODES) expect(countryCodeFromName(countryNameFromCode(code)), code).toBe(code);
  });
});

describe('ISO 4217 currency codes (R12)', () => {
  it.each([
    ['USD', true],
    ['EUR', true],
    ['JPY', true],
    ['usd', false],
    ['US Dollar', false],
    ['XXX', false],
    ['XAU', false],
    ['ABC', false],
    [null, false],
  ])('R12 isCurrencyCode(%j) -> %s', (value, expected) => {
    expect(isCurrencyCode(value)).toBe(expected);
  });

  it('lists real currencies only, with their minor digits', () => {
    expect(CURRENCY_CODES).toContain('CHF');
    expect(CURRENCY_CODES).not.toContain('XTS');
    expect(currencyMinorDigits('USD')).toBe(2);
    expect(currencyMinorDigits('JPY')).toBe(0);
    expect(currencyMinorDigits('XXX')).toBeUndefined();
  });
});
