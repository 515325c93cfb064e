// R22 value maps: an org whose "How can Microsoft help?" values differ from the package's (renamed in Setup,
// renumbered in Power Apps) names its own values in the config; the sync translates both ways with them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { control } from '../../src/cli/demo-story.ts';
import type { Deal } from '../../src/core/deal.ts';
import { ASSISTANCE_CHOICES } from '../../src/crm/dynamics/fields.ts';
import { ASSISTANCE_PICKLIST } from '../../src/crm/salesforce/fields.ts';
import { until } from '../helpers/until.ts';
import { CRMS, type Harness, pcControl, startHarness, TEST_ENGINE_SETTINGS } from './engine-harness.ts';

/** Per CRM: the field, the org's own value for ProofOfConceptOrDemo, and how an admin sets the org up. */
const ORG = {
  salesforce: {
    field: 'How_can_Microsoft_help__c',
    value: 'PoC / demo' as string | number,
    setUp: (controlUrl: string) =>
      control(controlUrl, 'PUT', '/setup/picklist/Opportunity/How_can_Microsoft_help__c', {
        values: Object.values(ASSISTANCE_PICKLIST).map((v) =>
          v === 'Proof of concept or demo' ? 'PoC / demo' : v,
        ),
      }),
  },
  dynamics: {
    field: 'cosell_howcanmicrosofthelp',
    value: 100000010 as string | number,
    setUp: (controlUrl: string) =>
      control(controlUrl, 'PUT', '/setup/choices/cosell_howcanmicrosofthelp', {
        options: Object.entries(ASSISTANCE_CHOICES).map(([code, value]) =>
          code === 'ProofOfConceptOrDemo'
            ? { value: 100000010, label: 'PoC / demo' }
            : { value, label: code },
        ),
      }),
  },
} as const;

describe.each(CRMS)('picklist value maps on $crm (engine over HTTP)', ({ crm }) => {
  let h: Harness;
  let pc: ReturnType<typeof pcControl>;
  const org = ORG[crm];

  beforeAll(async () => {
    h = await startHarness(TEST_ENGINE_SETTINGS, {
      crm,
      crmSettings: { [crm]: { values: { assistance: { ProofOfConceptOrDemo: org.value } } } },
    });
    pc = pcControl(h);
    await org.setUp(h.crmControl);
    await h.engine.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("R22 a seller's value from the org's own picklist reaches Partner Center as its code", async () => {
    const { opportunityId } = await h.desk.opportunity({ assistance: null, sync: false });
    await h.desk.setField(opportunityId, org.field, org.value);
    await h.desk.edit(opportunityId, { sync: true });
    const referralId = (await until(
      async () => (await h.desk.read(opportunityId)).referralId,
      10_000,
      'the Referral Identifier written back',
    )) as string;
    const referral = await pc.referral(referralId);
    expect(referral.inviteContext?.assistanceRequestCode).toBe('ProofOfConceptOrDemo');
    expect((await h.store.listRuns({ referralId, failed: true })).runs).toEqual([]);
  });

  it("R22 a referral from Microsoft asking for a proof of concept is stored as the org's own value", async () => {
    const referral = await pc.sendIncoming({
      name: 'Wingtip PoC',
      details: { dealValue: 10_000, currency: 'USD' },
      inviteContext: { assistanceRequestCode: 'ProofOfConceptOrDemo' },
    });
    const deal = (await until(
      () => h.crm.findDeal({ kind: 'opportunity', referralId: String(referral.id) }),
      10_000,
      'the opportunity of the referral',
    )) as Deal;
    expect(await h.desk.field(deal.id, org.field)).toBe(org.value);
    expect(deal.assistance).toBe('ProofOfConceptOrDemo');
  });
});
