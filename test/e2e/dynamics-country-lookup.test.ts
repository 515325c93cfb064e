// R21 lookup-based countries, a Dynamics 365 setting (Salesforce's counterpart, country names, runs in the
// shared suites): an environment whose accounts point at a country table instead of holding a text country
// names the lookup, the table and its code column; the adapter translates the lookup to the two-letter code
// Partner Center wants, and back. The table is one an admin adds in Power Apps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { control } from '../../src/cli/demo-story.ts';
import type { Deal } from '../../src/core/deal.ts';
import { until } from '../helpers/until.ts';
import { type Harness, pcControl, startHarness, TEST_ENGINE_SETTINGS } from './engine-harness.ts';

const COUNTRY_LOOKUP = { navigation: 'new_CountryId', entitySet: 'new_countries', codeColumn: 'new_isocode' };

describe('lookup-based countries on dynamics (engine over HTTP)', () => {
  let h: Harness;
  let pc: ReturnType<typeof pcControl>;
  const countries = new Map<string, string>();
  const ui = <T>(method: string, path: string, body?: unknown) =>
    control<T>(h.crmControl, method, path, body);

  beforeAll(async () => {
    h = await startHarness(TEST_ENGINE_SETTINGS, {
      crm: 'dynamics',
      crmSettings: { dynamics: { accountCountryLookup: COUNTRY_LOOKUP } },
    });
    pc = pcControl(h);
    await ui('POST', '/setup/tables', {
      name: 'new_country',
      entitySet: 'new_countries',
      primaryName: 'new_name',
      columns: [{ name: 'new_isocode', kind: 'string', maxLength: 2 }],
    });
    await ui('POST', '/setup/tables/account/columns', {
      name: 'new_countryid',
      schemaName: 'new_CountryId',
      kind: 'lookup',
      target: 'new_country',
    });
    for (const [code, name] of [
      ['US', 'United States'],
      ['DE', 'Germany'],
      ['FR', 'France'],
    ]) {
      const row = await ui<Record<string, unknown>>('POST', '/ui/new_countries', {
        new_name: name,
        new_isocode: code,
      });
      countries.set(code!, String(row.new_countryid));
    }
    await h.engine.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('R21 a referral from Microsoft for a German customer creates an account pointing at Germany in the country table', async () => {
    const referral = await pc.sendIncoming({
      name: 'Contoso GmbH rollout',
      customerProfile: {
        name: 'Contoso GmbH',
        address: {
          addressLine1: 'Unter den Linden 1',
          city: 'Berlin',
          state: 'BE',
          postalCode: '10117',
          country: 'DE',
        },
      },
    });
    const deal = (await until(
      () => h.crm.findDeal({ kind: 'opportunity', referralId: String(referral.id) }),
      10_000,
      'the opportunity of the referral',
    )) as Deal;
    expect(deal.account?.address?.country).toBe('DE');
    const opportunity = await ui<Record<string, unknown>>('GET', `/ui/opportunities/${deal.id}`);
    const account = await ui<Record<string, unknown>>(
      'GET',
      `/ui/accounts/${String(opportunity._parentaccountid_value)}`,
    );
    expect(account._new_countryid_value).toBe(countries.get('DE'));
  });

  it('R21 a seller account pointing at France reaches Partner Center as FR', async () => {
    const account = await ui<Record<string, unknown>>('POST', '/ui/accounts', {
      name: 'Fourth Coffee SARL',
      address1_city: 'Paris',
      address1_postalcode: '75001',
      'new_CountryId@odata.bind': `/new_countries(${countries.get('FR')})`,
    });
    const accountId = String(account.accountid);
    const opportunityId = await h.desk.createOpportunity(accountId, {
      name: 'Fourth Coffee analytics',
      closeDate: '2027-03-31',
      value: 40_000,
      currency: 'USD',
      assistance: 'ProofOfConceptOrDemo',
    });
    const contactId = await h.desk.createContact(accountId, {
      firstName: 'Camille',
      lastName: 'Durand',
      email: 'camille@fourthcoffee.example',
    });
    await h.desk.addContact(opportunityId, contactId);
    await h.desk.addSolution(opportunityId, 'SOL-34104-EBB');
    await h.desk.edit(opportunityId, { sync: true });
    const referralId = (await until(
      async () => (await h.desk.read(opportunityId)).referralId,
      10_000,
      'the Referral Identifier written back',
    )) as string;
    expect((await pc.referral(referralId)).customerProfile?.address?.country).toBe('FR');
  });
});
