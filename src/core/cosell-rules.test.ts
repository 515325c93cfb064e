import { describe, expect, it } from 'vitest';
import {
  isCoSell,
  isLead,
  isServicesCoSell,
  PARTNER_CENTER_MESSAGES,
  RULE_IDS,
  type RuleId,
  referralCategory,
  SERVICES_COSELL_MARKER,
  servicesCoSellAttributes,
  validateReferralForCreate,
  validateReferralUpdate,
  withServicesCoSellAttributes,
} from './cosell-rules.ts';
import { setPath } from './paths.ts';
import type { Referral } from './referral.ts';

const coSell: Referral = {
  name: 'Contoso Azure migration',
  type: 'Shared',
  status: 'Active',
  substatus: 'Accepted',
  customerProfile: {
    name: 'Contoso',
    address: { city: 'Redmond', postalCode: '98052', country: 'US' },
    team: [{ firstName: 'Ada', lastName: 'Lovelace', email: 'ada@contoso.com' }],
  },
  consent: { consentToShareReferralWithMicrosoftSellers: true },
  details: {
    dealValue: 10000,
    currency: 'USD',
    closingDateTime: '2026-12-31T00:00:00Z',
    requirements: { solutions: [{ id: 'SOL-34104-EBB' }] },
  },
  inviteContext: { assistanceRequestCode: 'ProofOfConceptOrDemo' },
};

const change = (path: string, value: unknown) => setPath(coSell, path, value);
const rules = (problems: { rule: RuleId }[]) => problems.map((p) => p.rule);

describe('isCoSell (R11)', () => {
  it.each([
    ['ProofOfConceptOrDemo', true],
    ['GeneralOrOther', true],
    ['Unknown', false],
    ['', false],
    [null, false],
    [undefined, false],
  ])('R11 assistanceRequestCode %j -> co-sell %s', (code, expected) => {
    expect(isCoSell(change('inviteContext.assistanceRequestCode', code))).toBe(expected);
  });
});

describe('validateReferralForCreate (R11, R12, R14)', () => {
  it('R12 a complete co-sell referral has no problems', () => {
    expect(validateReferralForCreate(coSell)).toEqual([]);
  });

  it.each<[string, string, unknown, RuleId[]]>([
    ['R12 co-sell without solution is refused', 'details.requirements.solutions', [], ['solution-required']],
    [
      'R12 co-sell with a blank solution id is refused',
      'details.requirements.solutions',
      [{ id: ' ' }],
      ['solution-required'],
    ],
    [
      'R12 co-sell without customer contact is refused',
      'customerProfile.team',
      [],
      ['customer-contact-required'],
    ],
    [
      'R12 a contact with only a phone is no contact',
      'customerProfile.team',
      [{ phoneNumber: '1' }],
      ['customer-contact-required'],
    ],
    ['R12 a contact with a name only is enough', 'customerProfile.team', [{ lastName: 'Lovelace' }], []],
    [
      'R12 co-sell without country is refused',
      'customerProfile.address.country',
      null,
      ['country-code-missing'],
    ],
    [
      'R12 a country name is refused',
      'customerProfile.address.country',
      'United States',
      ['country-code-invalid'],
    ],
    ['R12 a lower-case code is refused', 'customerProfile.address.country', 'us', ['country-code-invalid']],
    ['R12 an unknown code is refused', 'customerProfile.address.country', 'ZZ', ['country-code-invalid']],
    ['R12 a deal value without currency is refused', 'details.currency', null, ['currency-required']],
    ['R12 a currency that is not ISO 4217 is refused', 'details.currency', 'Dollars', ['currency-invalid']],
    [
      'R14 help requested but not visible is refused',
      'consent.consentToShareReferralWithMicrosoftSellers',
      false,
      ['visibility-required'],
    ],
    ['R14 help requested with visibility unset is accepted (visible by default)', 'consent', null, []],
    [
      'R11 an unknown "How can Microsoft help?" code is refused',
      'inviteContext.assistanceRequestCode',
      'PleaseHelp',
      ['assistance-code-invalid'],
    ],
    ['status pair must be valid', 'substatus', 'Won', ['status-invalid']],
  ])('%s', (_title, path, value, expected) => {
    expect(rules(validateReferralForCreate(change(path, value)))).toEqual(expected);
  });

  it('R12 returns every problem at once, each with a path and a message for a seller', () => {
    const bare: Referral = {
      name: 'Fabrikam expansion',
      customerProfile: { name: 'Fabrikam', address: { country: 'United Kingdom' } },
      details: { dealValue: 5 },
      inviteContext: { assistanceRequestCode: 'QuotesOrLicensing' },
      consent: { consentToShareReferralWithMicrosoftSellers: false },
    };
    const problems = validateReferralForCreate(bare);
    expect(problems.map((p) => [p.rule, p.path, p.severity])).toEqual([
      ['solution-required', 'details.requirements.solutions', 'error'],
      ['customer-contact-required', 'customerProfile.team', 'error'],
      ['country-code-invalid', 'customerProfile.address.country', 'error'],
      ['currency-required', 'details.currency', 'error'],
      ['visibility-required', 'consent.consentToShareReferralWithMicrosoftSellers', 'error'],
    ]);
    expect(problems[2]!.message).toBe(
      "Customer account country code 'United Kingdom' is not a two-letter ISO 3166 code: set 'GB' on account 'Fabrikam'.",
    );
    expect(problems[0]!.message).toContain("deal 'Fabrikam expansion'");
  });

  it('R12 the missing-country message names the account and the fix', () => {
    const [problem] = validateReferralForCreate(change('customerProfile.address', null));
    expect(problem!.message).toBe(
      "Customer account country code is missing: set a two-letter ISO 3166 code, e.g. US, on account 'Contoso'.",
    );
  });

  it('R11 a non co-sell referral needs no solution, contact or country', () => {
    const privateDeal: Referral = {
      name: 'Private',
      customerProfile: { name: 'Contoso' },
      details: { dealValue: 1, currency: 'EUR' },
    };
    expect(validateReferralForCreate(privateDeal)).toEqual([]);
  });

  it('R11 a non co-sell referral with a country name is still refused (Partner Center wants ISO codes)', () => {
    const privateDeal: Referral = { customerProfile: { address: { country: 'Germany' } } };
    expect(rules(validateReferralForCreate(privateDeal))).toEqual(['country-code-invalid']);
  });

  it('R11 Services co-sell needs partner role, solution area and play when marked', () => {
    const marked = withServicesCoSellAttributes(coSell, {}, { mark: true });
    expect(isServicesCoSell(marked)).toBe(true);
    expect(rules(validateReferralForCreate(marked))).toEqual([
      'services-partner-role-required',
      'services-solution-area-required',
      'services-solution-play-required',
    ]);
    const complete = withServicesCoSellAttributes(marked, {
      partnerRole: 'Implementation',
      solutionArea: 'AI Business Solutions',
      solutionPlay: 'Copilot',
    });
    expect(validateReferralForCreate(complete)).toEqual([]);
    expect(validateReferralForCreate(marked, { servicesCoSell: false })).toEqual([]);
    expect(rules(validateReferralForCreate(coSell, { servicesCoSell: true }))).toHaveLength(3);
  });

  it('R11 Services co-sell attributes are carried next to other attributes', () => {
    const withIntent = setPath(coSell, 'details.requirements.additionalRequirements.attributes', [
      { id: 'HaveNotDecided', type: 'CustomerMarketplaceIntent' },
    ]);
    const carried = withServicesCoSellAttributes(
      withIntent,
      { partnerRole: 'Advisory', solutionPlay: ' ' },
      { mark: true },
    );
    expect(servicesCoSellAttributes(carried)).toEqual({ partnerRole: 'Advisory' });
    expect(carried.details?.requirements?.additionalRequirements?.attributes).toEqual([
      { id: 'HaveNotDecided', type: 'CustomerMarketplaceIntent' },
      { type: 'PartnerRole', id: 'Advisory' },
      { type: SERVICES_COSELL_MARKER.type, id: SERVICES_COSELL_MARKER.id },
    ]);
    const cleared = withServicesCoSellAttributes(carried, { partnerRole: null }, { mark: false });
    expect(cleared.details?.requirements?.additionalRequirements?.attributes).toEqual([
      { id: 'HaveNotDecided', type: 'CustomerMarketplaceIntent' },
    ]);
  });
});

describe('validateReferralUpdate (R9, R11, R14, R17)', () => {
  it('an update of patchable fields on an open referral has no problems', () => {
    expect(validateReferralUpdate(coSell, change('details.dealValue', 20000))).toEqual([]);
  });

  it.each(['Won', 'Lost', 'Declined', 'Expired'] as const)(
    'R17 a Closed/%s referral accepts no change',
    (substatus) => {
      const closed: Referral = { ...coSell, status: 'Closed', substatus };
      const problems = validateReferralUpdate(closed, setPath(closed, 'details.notes', 'more'));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatchObject({
        rule: 'closed-referral-immutable',
        path: 'details.notes',
        severity: 'error',
      });
      expect(problems[0]!.message).toContain(
        `is closed (Closed/${substatus}) and accepts no further changes`,
      );
    },
  );

  it('R17 a closed referral compared with itself (an echo) has no problems', () => {
    const closed: Referral = { ...coSell, status: 'Closed', substatus: 'Won' };
    expect(validateReferralUpdate(closed, structuredClone(closed))).toEqual([]);
  });

  it('R14 visibility never reverts from visible to private', () => {
    const problems = validateReferralUpdate(
      coSell,
      change('consent.consentToShareReferralWithMicrosoftSellers', false),
    );
    expect(rules(problems)).toEqual(['visibility-irreversible']);
    expect(problems[0]!.message).toContain('cannot be made private again');
  });

  it('R14 private -> visible is allowed', () => {
    const privateDeal = change('consent.consentToShareReferralWithMicrosoftSellers', false);
    expect(validateReferralUpdate(privateDeal, coSell)).toEqual([]);
  });

  it.each<[string, Partial<Referral>, Partial<Referral>, RuleId[]]>([
    [
      'R8 accept: New/Pending -> Active/Accepted',
      { status: 'New', substatus: 'Pending' },
      { status: 'Active', substatus: 'Accepted' },
      [],
    ],
    [
      'R8 decline: New/Pending -> Closed/Declined',
      { status: 'New', substatus: 'Pending' },
      { status: 'Closed', substatus: 'Declined' },
      [],
    ],
    [
      'R13 won: Active -> Closed/Won',
      { status: 'Active', substatus: 'Accepted' },
      { status: 'Closed', substatus: 'Won' },
      [],
    ],
    [
      'Active -> New is refused',
      { status: 'Active', substatus: 'Accepted' },
      { status: 'New', substatus: 'Pending' },
      ['status-transition-invalid'],
    ],
    [
      'Expired is system-only',
      { status: 'New', substatus: 'Pending' },
      { status: 'Closed', substatus: 'Expired' },
      ['status-transition-invalid'],
    ],
    [
      'a mismatched pair is refused',
      { status: 'Active', substatus: 'Accepted' },
      { status: 'Closed', substatus: 'Accepted' },
      ['status-transition-invalid'],
    ],
  ])('%s', (_title, from, to, expected) => {
    expect(rules(validateReferralUpdate({ ...coSell, ...from }, { ...coSell, ...to }))).toEqual(expected);
  });

  it('Expired is allowed for a system move', () => {
    const pending: Referral = { ...coSell, status: 'New', substatus: 'Pending' };
    expect(
      validateReferralUpdate(
        pending,
        { ...pending, status: 'Closed', substatus: 'Expired' },
        { bySystem: true },
      ),
    ).toEqual([]);
  });

  it('R11 create-only changes come back as warnings naming the field', () => {
    const after = setPath(change('name', 'Contoso renamed'), 'customerProfile.address.city', 'Seattle');
    const problems = validateReferralUpdate(coSell, after);
    expect(problems.map((p) => [p.rule, p.path, p.severity])).toEqual([
      ['create-only-field-changed', 'name', 'warning'],
      ['create-only-field-changed', 'customerProfile.address', 'warning'],
    ]);
    expect(problems[0]!.message).toContain(
      "The referral name of deal 'Contoso Azure migration' changed in the CRM",
    );
    expect(problems[0]!.message).toContain("keeps 'Contoso Azure migration'");
  });

  it('R12 removing the last solution or contact of a co-sell referral is refused', () => {
    const after = setPath(change('details.requirements.solutions', []), 'customerProfile.team', []);
    expect(rules(validateReferralUpdate(coSell, after))).toEqual([
      'solution-required',
      'customer-contact-required',
    ]);
  });

  it('R12 an invalid currency in an update is refused', () => {
    expect(rules(validateReferralUpdate(coSell, change('details.currency', 'usd')))).toEqual([
      'currency-invalid',
    ]);
  });

  const lead: Referral = {
    name: 'Inbound lead',
    type: 'Independent',
    qualification: 'SalesQualified',
    status: 'New',
    substatus: 'Pending',
    inviteContext: { invitedBy: { organizationId: 'msft' } },
    details: {},
  };

  it('R9 qualifying a lead needs deal value and closing date', () => {
    const accepted: Referral = { ...lead, status: 'Active', substatus: 'Accepted' };
    expect(rules(validateReferralUpdate(lead, accepted))).toEqual([
      'qualification-deal-value-required',
      'qualification-closing-date-required',
    ]);
    const complete = {
      ...accepted,
      details: { dealValue: 100, currency: 'USD', closingDateTime: '2026-12-31T00:00:00Z' },
    };
    expect(validateReferralUpdate(lead, complete)).toEqual([]);
  });

  it('R9 accepting a co-sell opportunity is not a lead qualification', () => {
    const opportunity: Referral = { ...lead, type: 'Shared' };
    expect(
      validateReferralUpdate(opportunity, { ...opportunity, status: 'Active', substatus: 'Accepted' }),
    ).toEqual([]);
  });
});

describe('referral categories (R9)', () => {
  it.each<[Partial<Referral>, string]>([
    [
      {
        type: 'Independent',
        qualification: 'SalesQualified',
        inviteContext: { invitedBy: { organizationId: 'msft' } },
      },
      'qualified-lead',
    ],
    [
      {
        type: 'Independent',
        qualification: 'MarketingQualified',
        inviteContext: { invitedBy: { organizationId: 'MSFT' } },
      },
      'qualified-lead',
    ],
    [{ type: 'Independent', qualification: 'Direct' }, 'marketplace-lead'],
    [
      {
        type: 'Independent',
        qualification: 'Direct',
        inviteContext: { invitedBy: { organizationId: 'msft' } },
      },
      'marketplace-lead',
    ],
    [
      {
        type: 'Shared',
        qualification: 'SalesQualified',
        inviteContext: { invitedBy: { organizationId: 'msft' } },
      },
      'co-sell-opportunity',
    ],
    [
      {
        type: 'Independent',
        qualification: 'SalesQualified',
        inviteContext: { invitedBy: { organizationId: 'partner-org' } },
      },
      'co-sell-opportunity',
    ],
    [{ type: 'Independent', qualification: 'None' }, 'co-sell-opportunity'],
  ])('R9 %j -> %s', (referral, expected) => {
    expect(referralCategory(referral)).toBe(expected);
    expect(isLead(referral)).toBe(expected !== 'co-sell-opportunity');
  });
});

describe('Partner Center messages for the emulator', () => {
  it('has a message for every rule, with the documented wordings', () => {
    expect(Object.keys(PARTNER_CENTER_MESSAGES).sort()).toEqual([...RULE_IDS].sort());
    expect(PARTNER_CENTER_MESSAGES['solution-required']).toBe('Solution ID is required');
    expect(PARTNER_CENTER_MESSAGES['country-code-missing']).toBe('Customer account country code is missing');
  });
});
