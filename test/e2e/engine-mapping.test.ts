// The field mapping as a deployment configures it (engine.mapping, R22), on Salesforce and on Dynamics 365:
// extra fields the CRM requires get their defaults on records cosell creates; a field mapped one way only
// flows that way; and a field edited on both sides between two syncs goes to its owner, with one audit line
// and no ping-pong (DESIGN.md §3).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deal } from '../../src/core/deal.ts';
import type { Referral } from '../../src/core/referral.ts';
import { until } from '../helpers/until.ts';
import type { CrmDesk } from './crm-desk.ts';
import {
  CRMS,
  countOf,
  type Harness,
  pcControl,
  startHarness,
  TEST_ENGINE_SETTINGS,
} from './engine-harness.ts';

/** A field each CRM has and cosell never writes itself: the org's admin made it mandatory. */
const NEXT_STEP = { salesforce: 'NextStep', dynamics: 'stepname' } as const;

describe.each(CRMS)('the configured mapping on $crm (engine over HTTP)', ({ crm }) => {
  let h: Harness;
  let pc: ReturnType<typeof pcControl>;
  let seller: CrmDesk;

  beforeAll(async () => {
    h = await startHarness(
      {
        ...TEST_ENGINE_SETTINGS,
        mapping: {
          fields: { notes: { direction: 'toCrm' }, dealValue: { owner: 'partnerCenter' } },
          createDefaults: { opportunity: { [NEXT_STEP[crm]]: 'Call the Microsoft seller' } },
        },
      },
      { crm },
    );
    pc = pcControl(h);
    seller = h.desk;
    await h.engine.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  const dealOf = (referralId: string) => h.crm.findDeal({ kind: 'opportunity', referralId });

  async function sharedReferral(opportunityId: string): Promise<Referral> {
    const referralId = (await until(
      async () => (await seller.read(opportunityId)).referralId,
      10_000,
      'the Referral Identifier written back',
    )) as string;
    return pc.referral(referralId);
  }

  /** Waits until nothing is queued or running: every echo of our own writes has played out. */
  const quiet = () =>
    until(
      async () => (await h.store.listJobs({ state: ['pending', 'running'] })).length === 0,
      10_000,
      'no pending jobs',
    );

  it('R22 an extra field the CRM requires gets its configured default on the record created from a referral', async () => {
    const referral = await pc.sendIncoming({
      name: 'Northwind migration',
      status: 'Active',
      substatus: 'Accepted',
    });
    const deal = (await until(() => dealOf(String(referral.id)), 10_000, 'the opportunity')) as Deal;
    expect(await seller.field(deal.id, NEXT_STEP[crm])).toBe('Call the Microsoft seller');
    expect(deal.mark).toBe('ok');
  });

  it("R22 notes mapped Partner Center -> CRM only: Microsoft's edit reaches the record; the seller's edit never reaches Partner Center and is set back, with an audit line", async () => {
    const { opportunityId } = await seller.opportunity({});
    const referral = await sharedReferral(opportunityId);
    const id = String(referral.id);
    await quiet();

    await pc.editAsMicrosoft(id, { details: { notes: 'Microsoft: customer wants a PoC' } });
    await until(
      async () => (await seller.read(opportunityId)).notes === 'Microsoft: customer wants a PoC',
      10_000,
      "Microsoft's notes on the record",
    );
    await quiet();

    const linesBefore = (await seller.auditLines(opportunityId)).length;
    await seller.edit(opportunityId, { notes: 'Seller: private remark' });
    const audit = await until(
      async () => {
        const lines = await seller.auditLines(opportunityId);
        return lines.length > linesBefore ? lines : null;
      },
      10_000,
      "the audit line of the seller's notes set back",
    );
    expect((await seller.read(opportunityId)).notes).toBe('Microsoft: customer wants a PoC');
    expect((await pc.referral(id)).details?.notes).toBe('Microsoft: customer wants a PoC');
    expect(audit.slice(linesBefore)).toEqual([
      expect.stringMatching(/PC->CRM: notes \(from Partner Center\)$/),
    ]);
    expect(audit.join('\n')).not.toMatch(/CRM->PC: notes/);
  });

  it('R22 R19 the same fields edited on both sides between two syncs: each goes to its owner (deal value: Partner Center by config; close date: the CRM by default), one audit line, no ping-pong', async () => {
    const { opportunityId } = await seller.opportunity({});
    const referral = await sharedReferral(opportunityId);
    const id = String(referral.id);
    await quiet();
    const linesBefore = (await seller.auditLines(opportunityId)).length;

    // cosell is down while both sides change the deal value and the close date.
    await h.engine.stop();
    try {
      await seller.edit(opportunityId, { value: 130_000, closeDate: '2027-10-31' });
      await pc.editAsMicrosoft(id, {
        details: { dealValue: 140_000, closingDateTime: '2027-11-30T00:00:00Z' },
      });
      const catchUp = async () => {
        await h.engine.pollCrmOnce();
        await h.engine.reconcileOnce();
        await h.engine.drain();
      };
      await catchUp();

      const opp = await seller.read(opportunityId);
      const after = await pc.referral(id);
      expect(opp.value).toBe(140_000);
      expect(after.details?.dealValue).toBe(140_000);
      expect(opp.closeDate).toBe('2027-10-31');
      expect(after.details?.closingDateTime?.slice(0, 10)).toBe('2027-10-31');
      const lines = await seller.auditLines(opportunityId);
      expect(lines).toHaveLength(linesBefore + 1);
      expect(lines.at(-1)).toMatch(/close date/);
      expect(lines.at(-1)).toMatch(/deal value/);

      // No ping-pong: the echoes of both writes change nothing more.
      const writesBefore = countOf(await pc.calls(), 'PATCH /v1.0');
      for (let cycle = 0; cycle < 2; cycle++) await catchUp();
      expect(countOf(await pc.calls(), 'PATCH /v1.0')).toBe(writesBefore);
      expect(await seller.auditLines(opportunityId)).toHaveLength(linesBefore + 1);
      expect((await seller.read(opportunityId)).value).toBe(140_000);
    } finally {
      await h.engine.start();
    }
  });
});
