import { describe, expect, it } from 'vitest';
import { ASSISTANCE_PICKLIST } from './fields.ts';
import {
  accountToRecord,
  assistanceValues,
  countryCodeOf,
  countryValueFor,
  dealFieldsToOpportunity,
  type OrgShape,
  opportunityToDeal,
  relationshipOf,
} from './mapping.ts';
import { parseSalesforceSettings } from './settings.ts';

const org: OrgShape = {
  accountCountryField: 'BillingCountry',
  accountCountryIsName: true,
  leadCountryField: 'Country',
  leadCountryIsName: true,
  currencyField: null,
  auditMaxLength: 100_000,
  opportunityNameMaxLength: 120,
  accountDunsField: null,
};

describe('Salesforce mapping', () => {
  it('R21 translates country names to two-letter codes and back when the org has no country picklists', () => {
    expect(countryCodeOf('United States', true)).toBe('US');
    expect(countryCodeOf('Germany', true)).toBe('DE');
    expect(countryCodeOf('de', true)).toBe('DE');
    expect(countryCodeOf('Atlantis', true)).toBe('Atlantis');
    expect(countryValueFor('US', true)).toBe('United States');
    expect(countryValueFor('DE', false)).toBe('DE');
    expect(accountToRecord({ name: 'Contoso', address: { country: 'GB' } }, org)).toEqual({
      Name: 'Contoso',
      BillingCountry: 'UK',
    });
  });

  it('R18 R22 maps the six "How can Microsoft help?" labels to assistanceRequestCode and back; the config renames one', () => {
    const shipped = assistanceValues(parseSalesforceSettings({}));
    expect(Object.keys(ASSISTANCE_PICKLIST)).toHaveLength(6);
    for (const [code, label] of Object.entries(ASSISTANCE_PICKLIST)) {
      expect(shipped.fromCrm(label)).toBe(code);
      expect(shipped.toCrm(code)).toBe(label);
    }
    expect(shipped.fromCrm(null)).toBeNull();
    expect(shipped.toCrm('Unknown')).toBeNull();
    const renamed = assistanceValues(
      parseSalesforceSettings({ values: { assistance: { ProofOfConceptOrDemo: 'PoC / demo' } } }),
    );
    expect(renamed.toCrm('ProofOfConceptOrDemo')).toBe('PoC / demo');
    expect(renamed.fromCrm('PoC / demo')).toBe('ProofOfConceptOrDemo');
    expect(renamed.fromCrm('Proof of concept or demo')).toBeNull();
    expect(() =>
      parseSalesforceSettings({ values: { assistance: { ProofOfConceptOrDemo: 'General or other' } } }),
    ).toThrow(/ProofOfConceptOrDemo and GeneralOrOther would both be stored as \\"General or other\\"/);
  });

  it('R21 writes the configured deal value field, never a literal', () => {
    const settings = parseSalesforceSettings({ fields: { dealValue: 'Expected_Revenue__c' } });
    expect(dealFieldsToOpportunity({ value: 5000, currency: 'EUR' }, settings, org)).toEqual({
      Expected_Revenue__c: 5000,
    });
    expect(
      dealFieldsToOpportunity({ currency: 'EUR' }, settings, { ...org, currencyField: 'CurrencyIsoCode' }),
    ).toEqual({
      CurrencyIsoCode: 'EUR',
    });
  });

  it('R20 reads the name without its mark and reports the mark separately', () => {
    const settings = parseSalesforceSettings();
    const deal = opportunityToDeal(
      {
        Id: '006000000000001AAA',
        Name: 'Contoso upgrade ✖',
        How_can_Microsoft_help__c: 'Proof of concept or demo',
        Sync_with_Partner_Center__c: true,
        AccountId: '001000000000001AAA',
        Account: { Name: 'Contoso', BillingCountry: 'United States', BillingPostalCode: '98052' },
      },
      {
        roles: [],
        solutions: [
          { Solution__c: 'a01', Solution__r: { Solution_Id__c: 'SOL-1', Solution_Name__c: 'One' } },
        ],
      },
      settings,
      org,
    );
    expect(deal).toMatchObject({
      name: 'Contoso upgrade',
      mark: 'error',
      assistance: 'ProofOfConceptOrDemo',
      syncWithPartnerCenter: true,
      account: { id: '001000000000001AAA', name: 'Contoso', address: { country: 'US', postalCode: '98052' } },
      solutions: [{ id: 'SOL-1', name: 'One', crmId: 'a01' }],
    });
  });

  it('derives relationship names from lookup fields', () => {
    expect(relationshipOf('Solution__c')).toBe('Solution__r');
    expect(relationshipOf('AccountId')).toBe('Account');
  });
});
