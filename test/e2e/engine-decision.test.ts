// R8 by a field: an org that answers incoming referrals with a field of the opportunity (a "Co-sell decision"
// picklist) instead of the on-hold stage names it in the CRM section of the config. Any opportunity field
// works; these tests use one every emulated org has (Salesforce NextStep, Dataverse stepname).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deal } from '../../src/core/deal.ts';
import { crmVersionOf } from '../../src/engine/crm-version.ts';
import { until } from '../helpers/until.ts';
import { CRMS, type Harness, pcControl, startHarness, TEST_ENGINE_SETTINGS } from './engine-harness.ts';

const DECISION_FIELD = { salesforce: 'NextStep', dynamics: 'stepname' } as const;
const decision = (field: string) => ({ field, accept: 'Accept referral', decline: 'Decline referral' });

describe.each(CRMS)('answering incoming referrals by a field on $crm (engine over HTTP)', ({ crm }) => {
  let h: Harness;
  let pc: ReturnType<typeof pcControl>;
  const field = DECISION_FIELD[crm];

  beforeAll(async () => {
    h = await startHarness(TEST_ENGINE_SETTINGS, {
      crm,
      crmSettings: { [crm]: { decision: decision(field) } },
    });
    pc = pcControl(h);
    await h.engine.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  async function incoming(name: string): Promise<{ id: string; deal: Deal }> {
    const referral = await pc.sendIncoming({ name, details: { dealValue: 30_000, currency: 'USD' } });
    const id = String(referral.id);
    const deal = (await until(
      () => h.crm.findDeal({ kind: 'opportunity', referralId: id }),
      10_000,
      'the opportunity of the referral',
    )) as Deal;
    await until(
      async () => (await pc.referral(id)).externalReferenceId === deal.id,
      5_000,
      'externalReferenceId',
    );
    return { id, deal };
  }

  it('R8 setting the decision field to its accept value accepts the referral, with the edits made while it waited', async () => {
    const { id, deal } = await incoming('Fabrikam decision accept');
    expect((await h.desk.read(deal.id)).onHold).toBe(true);
    await h.desk.edit(deal.id, { value: 31_000 });
    await h.desk.setField(deal.id, field, 'Accept referral');
    const accepted = await until(
      async () => {
        const r = await pc.referral(id);
        return r.substatus === 'Accepted' ? r : null;
      },
      10_000,
      'the referral accepted in Partner Center',
    );
    expect(accepted.status).toBe('Active');
    expect(Number(accepted.details?.dealValue)).toBe(31_000);
    // Accepted: the deal leaves on-hold too, so the stage and the field agree.
    await until(async () => !(await h.desk.read(deal.id)).onHold, 10_000, 'the deal out of on-hold');
    const audit = await h.desk.auditLines(deal.id);
    expect(audit.join('\n')).toMatch(/CRM->PC: .*status Pending -> Accepted/);
  });

  it('R8 setting it to its decline value declines the referral; any other value changes nothing', async () => {
    const { id, deal } = await incoming('Fabrikam decision decline');
    await h.desk.setField(deal.id, field, 'Call the customer first');
    // A sync read the edited record (whichever hint brought it: the change feed, or a webhook of our own write
    // that got there first and left the feed's hint nothing to do).
    const link = (await h.store.linkByReferral(id))!;
    await until(
      async () => {
        const edited = await h.crm.findDeal({ kind: 'opportunity', id: deal.id });
        return (await h.store.getSnapshot(link.id))?.crmVersion === crmVersionOf(edited!);
      },
      10_000,
      'a sync of the edited record',
    );
    expect(await pc.referral(id)).toMatchObject({ status: 'New', substatus: 'Pending' });

    await h.desk.setField(deal.id, field, 'Decline referral');
    await until(
      async () => (await pc.referral(id)).substatus === 'Declined',
      10_000,
      'the referral declined in Partner Center',
    );
    expect((await pc.referral(id)).status).toBe('Closed');
    const audit = await until(
      async () => {
        const lines = await h.desk.auditLines(deal.id);
        return lines.some((l) => /status Pending -> Declined/.test(l)) ? lines : null;
      },
      10_000,
      'the decline audit line',
    );
    expect(audit.filter((l) => /Declined/.test(l))).toHaveLength(1);
    expect((await h.store.listRuns({ referralId: id, failed: true })).runs).toEqual([]);
  });
});
