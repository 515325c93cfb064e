import { describe, expect, it } from 'vitest';
import {
  checkMapping,
  crmDefaults,
  crmValueOf,
  DEFAULT_MAPPING,
  type FieldMapping,
  mergeMapping,
  readCrmValues,
  readReferralValues,
  referralValueOf,
  resolveCrmFieldNames,
} from './mapping.ts';
import { parseReferral } from './referral.ts';

const field = (name: string) => DEFAULT_MAPPING.find((m) => m.field === name)!;

const referral = {
  name: 'Contoso deal',
  status: 'Active',
  substatus: 'Accepted',
  customerProfile: {
    name: 'Contoso',
    team: [
      { firstName: 'Ada', email: 'Ada@Contoso.com' },
      { firstName: 'Bob', email: 'bob@contoso.com' },
    ],
  },
  consent: { consentToShareReferralWithMicrosoftSellers: true },
  details: {
    dealValue: '1000.50',
    currency: 'USD',
    closingDateTime: '2026-12-31T00:00:00.0000000Z',
    notes: '  Call the CIO  ',
    requirements: { solutions: [{ id: 'SOL-2' }, { id: 'SOL-1' }] },
  },
  inviteContext: { assistanceRequestCode: 'ProofOfConceptOrDemo' },
  trackingInfo: { microsoftMsxId: '7-ABC' },
};

describe('default mapping (R4, R13, R22)', () => {
  it('R4/R13 maps every synced field, CRM-neutral, and is itself valid', () => {
    expect(DEFAULT_MAPPING.map((m) => m.field)).toEqual([
      'name',
      'dealValue',
      'currency',
      'closeDate',
      'notes',
      'howCanMicrosoftHelp',
      'visibility',
      'microsoftCrmId',
      'responseDeadline',
      'solutions',
      'contacts',
      'status',
      'partnerRole',
      'solutionArea',
      'solutionPlay',
    ]);
    for (const m of DEFAULT_MAPPING) expect(m.crmField).toMatch(/^\{\w+\}$/);
    expect(checkMapping(DEFAULT_MAPPING)).toEqual([]);
  });

  it('R4 readReferralValues gives canonical values', () => {
    const parsed = parseReferral(referral);
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    expect(readReferralValues(parsed.referral, DEFAULT_MAPPING)).toEqual({
      name: 'Contoso deal',
      dealValue: '1000.5',
      currency: 'USD',
      closeDate: '2026-12-31',
      notes: 'Call the CIO',
      howCanMicrosoftHelp: 'ProofOfConceptOrDemo',
      visibility: true,
      microsoftCrmId: '7-ABC',
      responseDeadline: null,
      solutions: ['sol-1', 'sol-2'],
      contacts: ['ada@contoso.com', 'bob@contoso.com'],
      status: 'Accepted',
      partnerRole: null,
      solutionArea: null,
      solutionPlay: null,
    });
  });

  it("R11 'Unknown' help is the same as no help", () => {
    const values = readReferralValues(
      { inviteContext: { assistanceRequestCode: 'Unknown' } },
      DEFAULT_MAPPING,
    );
    expect(values['howCanMicrosoftHelp']).toBeNull();
  });

  it('R21 readCrmValues reads resolved CRM fields into the same vocabulary', () => {
    const { mapping, unresolved } = resolveCrmFieldNames(DEFAULT_MAPPING, {
      nameField: 'Name',
      dealValueField: 'Amount',
      closeDateField: 'CloseDate',
      howCanMicrosoftHelpField: 'How_can_Microsoft_help__c',
      solutionsField: 'Solutions',
      contactsField: 'Contacts',
    });
    expect(unresolved.map((m) => m.field)).toContain('currency');
    const values = readCrmValues(
      {
        Name: 'Contoso deal ✔',
        Amount: 1000.5,
        CloseDate: '2026-12-31',
        How_can_Microsoft_help__c: 'Proof of concept or demo',
        Solutions: ['SOL-1', 'SOL-2'],
        Contacts: [{ email: 'bob@contoso.com' }, { email: 'ada@contoso.com ' }],
      },
      mapping,
    );
    expect(values).toEqual({
      name: 'Contoso deal',
      dealValue: '1000.5',
      closeDate: '2026-12-31',
      howCanMicrosoftHelp: 'ProofOfConceptOrDemo',
      solutions: ['sol-1', 'sol-2'],
      contacts: ['ada@contoso.com', 'bob@contoso.com'],
    });
  });

  it('R22 an unknown CRM picklist value says nothing rather than erasing the referral value', () => {
    const m: FieldMapping = { ...field('howCanMicrosoftHelp'), crmField: 'Help' };
    expect(readCrmValues({ Help: 'Something else' }, [m])).toEqual({});
    expect(readCrmValues({ Help: null }, [m])).toEqual({ howCanMicrosoftHelp: null });
  });

  it('R22 stage maps: many CRM stages to one substatus through crmValueMap', () => {
    const status: FieldMapping = {
      ...field('status'),
      crmField: 'StageName',
      valueMap: { Pending: 'On hold', Accepted: 'Qualification', Won: 'Closed Won', Lost: 'Closed Lost' },
      crmValueMap: { 'Needs Analysis': 'Accepted', 'Proposal/Price Quote': 'Accepted' },
    };
    expect(readCrmValues({ StageName: 'Needs Analysis' }, [status])).toEqual({ status: 'Accepted' });
    expect(readCrmValues({ StageName: 'Closed Won' }, [status])).toEqual({ status: 'Won' });
    expect(crmValueOf(status, 'Won')).toBe('Closed Won');
  });

  it('converts canonical values back to each side', () => {
    expect(referralValueOf(field('dealValue'), '1000.5')).toBe(1000.5);
    expect(referralValueOf(field('closeDate'), '2026-12-31')).toBe('2026-12-31T00:00:00Z');
    expect(crmValueOf(field('howCanMicrosoftHelp'), 'GeneralOrOther')).toBe('General or other');
    expect(crmValueOf(field('dealValue'), '12.3')).toBe(12.3);
    expect(crmValueOf(field('notes'), null)).toBeNull();
  });
});

describe('mergeMapping (R22)', () => {
  it('R22 overrides a field, adds an extra mandatory CRM field with a default, removes one', () => {
    const merged = mergeMapping(DEFAULT_MAPPING, [
      { field: 'notes', direction: 'toCrm', crmField: 'Description' },
      { field: 'leadSource', crmField: 'LeadSource', default: 'Partner Center' },
      { field: 'partnerRole', remove: true },
    ]);
    const notes = merged.find((m) => m.field === 'notes')!;
    expect(notes).toMatchObject({
      direction: 'toCrm',
      crmField: 'Description',
      referralPath: 'details.notes',
      kind: 'text',
    });
    expect(merged.find((m) => m.field === 'leadSource')).toEqual({
      field: 'leadSource',
      referralPath: '',
      crmField: 'LeadSource',
      direction: 'toCrm',
      owner: 'crm',
      kind: 'text',
      default: 'Partner Center',
    });
    expect(merged.some((m) => m.field === 'partnerRole')).toBe(false);
    expect(checkMapping(merged)).toEqual([]);
    expect(crmDefaults(merged)).toEqual({ LeadSource: 'Partner Center' });
    expect(DEFAULT_MAPPING.find((m) => m.field === 'notes')!.direction).toBe('both');
  });

  it('R22 checkMapping names every broken field', () => {
    const problems = checkMapping([
      { field: 'a', referralPath: '', crmField: '', direction: 'both', owner: 'crm', kind: 'text' },
      { field: 'b', referralPath: 'x', crmField: 'B', direction: 'both', owner: 'crm', kind: 'list' },
      {
        field: 'b',
        referralPath: 'x',
        crmField: 'B',
        direction: 'both',
        owner: 'crm',
        kind: 'text',
        valueMap: {},
      },
    ]);
    expect(problems).toEqual([
      "mapping field 'a' has no crmField: name the CRM field it maps to.",
      "mapping field 'a' has neither a referralPath nor a default: give it one of them.",
      "mapping field 'a' has no referralPath, so its direction must be 'toCrm'.",
      "mapping field 'b' is a list without itemKey: say which property identifies an item.",
      "mapping field 'b' appears twice: keep one entry per field.",
      "mapping field 'b' has a valueMap but kind 'text': value maps apply to picklist and boolean fields.",
    ]);
  });
});
