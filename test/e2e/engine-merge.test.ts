// Sellers merge duplicates (R31): Salesforce deletes the merged record and names the survivor
// (`MasterRecordId`); Dataverse deactivates it and names the survivor (`masterid`). Either way the referral
// follows the surviving record, once, and nothing is left pointing at the record that went away.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MICROSOFT_ORGANIZATION_ID } from '../../src/core/cosell-rules.ts';
import type { Deal } from '../../src/core/deal.ts';
import { until } from '../helpers/until.ts';
import { CRMS, type Harness, pcControl, startHarness } from './engine-harness.ts';

describe.each(CRMS)('merged records on $crm (engine over HTTP)', ({ crm }) => {
  let h: Harness;
  let pc: ReturnType<typeof pcControl>;

  beforeAll(async () => {
    h = await startHarness(undefined, { crm });
    pc = pcControl(h);
    await h.engine.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  /** A lead from Microsoft, once it is a CRM lead. */
  async function microsoftLead(name: string): Promise<{ id: string; lead: Deal }> {
    const referral = await pc.sendIncoming({
      name,
      type: 'Independent',
      qualification: 'MarketingQualified',
      inviteContext: { invitedBy: { organizationId: MICROSOFT_ORGANIZATION_ID } },
    });
    const id = String(referral.id);
    const lead = (await until(
      () => h.crm.findDeal({ kind: 'lead', referralId: id }),
      10_000,
      'the CRM lead of the referral',
    )) as Deal;
    return { id, lead };
  }

  const settled = () =>
    until(
      async () => (await h.store.listJobs({ state: ['pending', 'running'] })).length === 0,
      10_000,
      'no pending jobs',
    );

  it('R31 R9 the lead of a referral merged into a duplicate: the survivor takes over the referral (externalReferenceId, identifiers, audit line); the merged lead lets go', async () => {
    const { id, lead } = await microsoftLead('Adatum marketing lead');
    const survivor = await h.desk.createLead({
      lastName: 'Adams',
      company: 'Adatum',
      email: 'adams@adatum.example',
    });

    await h.desk.merge('lead', survivor, lead.id);

    await until(
      async () => (await pc.referral(id)).externalReferenceId === survivor,
      10_000,
      'the referral naming the surviving lead',
    );
    const kept = await until(
      async () => {
        const row = await h.desk.readLead(survivor);
        return row?.referralId === id && row.audit.some((l) => l.includes('merged into')) ? row : null;
      },
      10_000,
      'the identifiers and the relink line on the surviving lead',
    );
    expect(kept.sync).toBe(true);
    expect(kept.audit.find((l) => l.includes('merged into'))).toContain(
      `lead ${lead.id} merged into lead ${survivor}, now linked to referral ${id}`,
    );
    expect(await h.store.linkByReferral(id)).toMatchObject({ crmId: survivor, state: 'active' });
    // The merged lead's own change may still be listed by the feed, as any edited record is; it carries no referral.
    expect((await h.store.linkByCrm(crm, lead.id))?.referralId ?? null).toBeNull();
    // Salesforce deleted the merged lead; Dataverse keeps it deactivated, without the identifier.
    const merged = await h.desk.readLead(lead.id);
    if (merged) expect(merged.referralId).toBeNull();
    expect(await h.crm.findDeal({ kind: 'lead', referralId: id })).toMatchObject({ id: survivor });
    await settled();
    expect((await h.store.listRuns({ referralId: id, failed: true })).runs).toEqual([]);
    expect((await pc.all()).filter((r) => r.name === 'Adatum marketing lead')).toHaveLength(1);
  });

  it('R31 a merge into a lead that already carries another referral keeps that one; the merged referral is listed as an orphan, and the survivor says why', async () => {
    const first = await microsoftLead('Litware lead A');
    const second = await microsoftLead('Litware lead B');

    await h.desk.merge('lead', second.lead.id, first.lead.id);

    await until(
      async () => (await h.store.linkByReferral(first.id))?.state === 'orphaned',
      10_000,
      'the merged referral orphaned',
    );
    const survivor = await until(
      async () => {
        const row = await h.desk.readLead(second.lead.id);
        return row?.audit.some((l) => l.includes('no longer synced')) ? row : null;
      },
      10_000,
      'the line on the surviving lead',
    );
    expect(survivor.referralId).toBe(second.id);
    expect(survivor.audit.join('\n')).toContain(
      `which already syncs with referral ${second.id}: referral ${first.id} is no longer synced`,
    );
    expect(await h.store.linkByReferral(second.id)).toMatchObject({ crmId: second.lead.id, state: 'active' });
    expect((await pc.referral(second.id)).externalReferenceId).toBe(second.lead.id);
    await settled();
  });

  it('R31 merging the account of a shared opportunity into its duplicate: the opportunity keeps its referral and keeps syncing', async () => {
    const { opportunityId, accountId } = await h.desk.opportunity({});
    const referralId = (await until(
      async () => (await h.desk.read(opportunityId)).referralId,
      10_000,
      'the Referral Identifier written back',
    )) as string;
    const master = await h.desk.createAccount({ name: 'Proseware', city: 'Redmond', country: 'US' });

    await h.desk.merge('account', master, accountId);
    expect(await h.desk.accountOf(opportunityId)).toBe(master);

    await h.desk.edit(opportunityId, { value: 77_000 });
    await until(
      async () => Number((await pc.referral(referralId)).details?.dealValue) === 77_000,
      10_000,
      'the edit after the merge in Partner Center',
    );
    expect(await h.store.linkByReferral(referralId)).toMatchObject({ crmId: opportunityId, state: 'active' });
    expect((await h.desk.read(opportunityId)).name).toMatch(/✔$/);
    await settled();
    expect((await h.store.listRuns({ referralId, failed: true })).runs).toEqual([]);
  });
});
