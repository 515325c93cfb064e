import { describe, expect, it } from 'vitest';
import {
  coSellConversionProblems,
  coSellConversionRequest,
  microsoftInvitationFor,
} from './cosell-conversion.ts';
import type { Referral } from './referral.ts';

const privateReferral: Referral = {
  id: 'r-1',
  engagementId: 'e-1',
  name: 'Northwind migration',
  direction: 'Outgoing',
  status: 'Active',
  substatus: 'Accepted',
  type: 'Independent',
  qualification: 'SalesQualified',
  customerProfile: {
    name: 'Northwind',
    address: { country: 'US' },
    team: [{ lastName: 'Davolio', email: 'nancy@northwind.example' }],
  },
  consent: { consentToShareReferralWithMicrosoftSellers: false },
  details: { dealValue: 1000, currency: 'USD', requirements: { solutions: [{ id: 'SOL-1' }] } },
};

describe('co-sell conversion (R11)', () => {
  it('R11 help newly asked on an open, outgoing, non co-sell referral is a conversion; anything else is not', () => {
    expect(coSellConversionRequest(privateReferral, 'ProofOfConceptOrDemo')).toBe('ProofOfConceptOrDemo');
    expect(coSellConversionRequest(privateReferral, null)).toBeNull();
    expect(coSellConversionRequest(privateReferral, 'Unknown')).toBeNull();
    expect(coSellConversionRequest(privateReferral, 'Bogus')).toBeNull();
    const coSell = { ...privateReferral, inviteContext: { assistanceRequestCode: 'GeneralOrOther' } };
    expect(coSellConversionRequest(coSell, 'ProofOfConceptOrDemo')).toBeNull();
    const closed = { ...privateReferral, status: 'Closed', substatus: 'Won' } as Referral;
    expect(coSellConversionRequest(closed, 'ProofOfConceptOrDemo')).toBeNull();
    const incoming = { ...privateReferral, direction: 'Incoming' } as Referral;
    expect(coSellConversionRequest(incoming, 'ProofOfConceptOrDemo')).toBeNull();
  });

  it('R11 the invitation targets Microsoft in the same engagement, shared, with the help; the customer comes from the referral', () => {
    const invitation = microsoftInvitationFor(privateReferral, 'QuotesOrLicensing');
    expect(invitation).toMatchObject({
      engagementId: 'e-1',
      type: 'Shared',
      target: [{ type: 'BusinessProfileLocation', id: 'msft' }],
      inviteContext: { assistanceRequestCode: 'QuotesOrLicensing' },
      consent: { consentToShareReferralWithMicrosoftSellers: true },
      customerProfile: { name: 'Northwind' },
    });
    expect(invitation).not.toHaveProperty('id');
    expect(invitation).not.toHaveProperty('externalReferenceId');
    expect(coSellConversionProblems(invitation)).toEqual([]);
  });

  it('R11 R12 a missing customer contact stops the conversion with a message that says so', () => {
    const noContact = {
      ...privateReferral,
      customerProfile: { ...privateReferral.customerProfile, team: [] },
    };
    const problems = coSellConversionProblems(microsoftInvitationFor(noContact, 'QuotesOrLicensing'));
    expect(problems.map((p) => p.rule)).toEqual(['customer-contact-required']);
    expect(problems[0]!.message).toMatch(/^To make this referral co-sell: /);
  });
});
