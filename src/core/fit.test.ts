import { describe, expect, it } from 'vitest';
import { fitEmail, fitReferralValues, fitText, isPlausibleEmail } from './fit.ts';

describe('fitting values into CRM fields (R4, R19)', () => {
  it.each([
    ['short', 10, 'short'],
    ['exactly ten', 11, 'exactly ten'],
    ['cut here and not there', 8, 'cut here'],
    ['trailing space cut ', 9, 'trailing'],
  ])('fitText(%j, %i) -> %j', (text, max, expected) => {
    expect(fitText(text, max)).toBe(expected);
  });

  it('never splits a surrogate pair', () => {
    expect(fitText('ab😀cd', 3)).toBe('ab');
  });

  it.each([
    ['dana@fabrikam.example', true],
    ['first.last+tag@sub.example.co.uk', true],
    ['pat at proseware', false],
    ['no-domain@', false],
    ['two@@example.com', false],
    ['tab\t@example.com', false],
    ['x@example.c', false],
  ])('isPlausibleEmail(%j) is %s', (email, ok) => {
    expect(isPlausibleEmail(email)).toBe(ok);
  });

  it('an address longer than the field is left out with the reason', () => {
    expect(fitEmail('a@example.com', 5)).toEqual({
      email: null,
      problem: "'a@example.com' is longer than the CRM's 5 characters",
    });
    expect(fitEmail(null, 5)).toEqual({ email: null });
  });

  it('Partner Center values are compared as the CRM holds them: name and notes cut, unholdable contacts left out', () => {
    const fitted = fitReferralValues(
      {
        name: 'abcdefghij',
        notes: 'n'.repeat(50),
        contacts: ['bad address', 'ok@example.com'],
        dealValue: '5',
      },
      { deal: { name: 4, notes: 10 }, contact: {}, account: {} },
    );
    expect(fitted).toEqual({
      name: 'abcd',
      notes: 'n'.repeat(10),
      contacts: ['ok@example.com'],
      dealValue: '5',
    });
  });
});
