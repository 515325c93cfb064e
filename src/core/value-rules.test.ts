import { describe, expect, it } from 'vitest';
import type { Referral } from './referral.ts';
import { checkValuesForPartnerCenter } from './value-rules.ts';

const now = new Date('2026-12-05T00:00:00Z');
const referral = (details: Record<string, unknown>): Referral => ({ name: 'Northwind', details }) as Referral;
const rulesOf = (details: Record<string, unknown>, paths?: string[]) =>
  checkValuesForPartnerCenter(referral(details), { now, ...(paths ? { paths } : {}) }).map((p) => p.rule);

describe('R12 values checked before they reach Partner Center', () => {
  it.each([
    [{ dealValue: 120_000, currency: 'USD' }, []],
    [{ dealValue: 0, currency: 'USD' }, []],
    [{ dealValue: 0.01, currency: 'USD' }, []],
    [{ dealValue: '10000', currency: 'EUR' }, []],
    [{ dealValue: -5_000, currency: 'USD' }, ['deal-value-invalid']],
    [{ dealValue: 1e300, currency: 'USD' }, ['deal-value-invalid']],
    [{ dealValue: 2e12, currency: 'USD' }, ['deal-value-invalid']],
    [{ dealValue: 0.005, currency: 'USD' }, ['deal-value-invalid']],
    [{ dealValue: 1.5, currency: 'JPY' }, ['deal-value-invalid']],
    [{ closingDateTime: '2027-06-30T00:00:00Z' }, []],
    [{ closingDateTime: '2001-01-01T00:00:00Z' }, []],
    [{ closingDateTime: '1900-01-01T00:00:00Z' }, ['closing-date-out-of-range']],
    [{ closingDateTime: '9999-12-31T00:00:00Z' }, ['closing-date-out-of-range']],
    [{ closingDateTime: '2036-12-06T00:00:00Z' }, ['closing-date-out-of-range']],
    [{ notes: 'Line one\nLine two\ttabbed\r\n' }, []],
    [{ notes: 'Bell \u0007 here' }, ['notes-control-characters']],
    [{ notes: 'nul\u0000' }, ['notes-control-characters']],
  ])('%j -> %j', (details, rules) => {
    expect(rulesOf(details)).toEqual(rules);
  });

  it('messages name the deal, the value and what to do', () => {
    const [negative] = checkValuesForPartnerCenter(referral({ dealValue: -5000, currency: 'USD' }), { now });
    expect(negative?.message).toBe(
      "The deal value -5000 of deal 'Northwind' is negative: enter the expected revenue as a positive amount.",
    );
    const [precise] = checkValuesForPartnerCenter(referral({ dealValue: 0.005, currency: 'USD' }), { now });
    expect(precise?.message).toContain('has more decimals than USD has (2): round it, e.g. to 0.01');
    const [bell] = checkValuesForPartnerCenter(referral({ notes: 'Bell \u0007 here' }), { now });
    expect(bell?.message).toContain('U+0007 at position 6');
  });

  it('only the fields about to be sent are checked', () => {
    expect(rulesOf({ dealValue: -1, notes: 'ok' }, ['details.notes'])).toEqual([]);
    expect(rulesOf({ dealValue: -1, notes: 'ok' }, ['details.dealValue'])).toEqual(['deal-value-invalid']);
  });
});
