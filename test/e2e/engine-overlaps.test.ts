// The overlap windows that make the sweeps safe against late visibility (issue 11 §3b): each test fails when its
// window is removed. Partner Center can list a change whose updatedDateTime is older than the sweep's watermark
// (its search index lags the write); the reconcile sweep reads back `reconcile.overlapMs` behind the watermark.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Referral } from '../../src/core/referral.ts';
import { CURSORS } from '../../src/engine/intake.ts';
import { until } from '../helpers/until.ts';
import { CRMS, type Harness, pcControl, startHarness, TEST_ENGINE_SETTINGS } from './engine-harness.ts';

describe.each(CRMS)('$crm: overlap windows', ({ crm }) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(TEST_ENGINE_SETTINGS, { crm });
    await h.engine.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  const dealOf = (referralId: string) => h.crm.findDeal({ kind: 'opportunity', referralId });

  it('R26 a referral that becomes visible after the sweep passed its time (1 s behind the watermark) is still found by the next sweep', async () => {
    const pc = pcControl(h);
    const first = await pc.sendIncoming({ name: 'Overlap anchor' });
    await until(() => dealOf(String(first.id)), 10_000, 'the first referral in the CRM');
    await h.engine.reconcileOnce();
    const watermark = await h.store.getCursor(CURSORS.reconcile);
    expect(watermark).not.toBeNull();

    // Partner Center indexed this referral late: it carries a time the sweep has already passed, and no webhook
    // announced it (seeded as Partner Center holds it, no events).
    const template = await pc.referral(String(first.id));
    const lateAt = new Date(Date.parse(watermark!) - 1_000).toISOString();
    const late = {
      ...withoutServerFields(template),
      name: 'Indexed late',
      createdDateTime: lateAt,
      updatedDateTime: lateAt,
    };
    const seeded = await seed(h, [late]);
    expect(await dealOf(seeded)).toBeNull();

    expect(await h.engine.reconcileOnce()).toBeGreaterThanOrEqual(1);
    const deal = await until(() => dealOf(seeded), 10_000, 'the late referral in the CRM');
    expect(deal.name).toMatch(/^Indexed late/);
  });
});

/** What Partner Center assigns itself (id, links, our write-back) is left for the seed to fill in. */
function withoutServerFields(referral: Referral): Record<string, unknown> {
  const {
    id: _id,
    engagementId: _engagement,
    externalReferenceId: _external,
    ...rest
  } = referral as Referral & {
    links?: unknown;
  };
  delete (rest as { links?: unknown }).links;
  return rest;
}

async function seed(h: Harness, referrals: Record<string, unknown>[]): Promise<string> {
  const response = await fetch(`${h.pc.info.control}/seed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ referrals }),
  });
  if (!response.ok) throw new Error(`seed: ${response.status} ${await response.text()}`);
  const { ids } = (await response.json()) as { ids: string[] };
  return ids[0]!;
}

// Salesforce stamps SystemModstamp when a transaction starts, so a seller's save slowed by flows and triggers
// becomes visible with a stamp already behind the change feed's cursor; the feed re-reads `crmPoll.overlapMs`
// behind it. (Dataverse's change tracking hands out delta tokens rather than times: nothing lands behind them.)
describe('salesforce: the change feed overlap', () => {
  let h: Harness;

  beforeAll(async () => {
    // The harness's own engine is not started: the one under test has a wide overlap window.
    h = await startHarness(undefined, { crm: 'salesforce' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('R10 a seller save that commits 20 s late, stamped behind the feed position, still reaches Partner Center', async () => {
    const { engine } = await h.newEngine({
      settings: {
        ...TEST_ENGINE_SETTINGS,
        crmPoll: { minIntervalMs: 100, maxIntervalMs: 200, overlapMs: 60_000 },
      },
    });
    try {
      await engine.start();
      const feedAt = async () => Date.parse((await h.store.getCursor(CURSORS.crmChangeFeed)) ?? '') || 0;
      // A first share moves the feed's position to its own stamp.
      const first = await h.desk.opportunity({});
      const firstRef = await until(
        async () => (await h.desk.read(first.opportunityId)).referralId,
        10_000,
        'the first referral',
      );
      expect(firstRef).toBeTruthy();
      const position = await feedAt();

      // The next save commits late: visible only now, stamped 20 s ago, behind the position the feed reached.
      await setCommitLag(h, 20_000);
      const late = await h.desk.opportunity({});
      const stamp = Date.parse(String((await h.desk.snapshot())[late.opportunityId]));
      await setCommitLag(h, 0);
      expect(stamp).toBeLessThan(position);

      const lateRef = await until(
        async () => (await h.desk.read(late.opportunityId)).referralId,
        10_000,
        'the late-committed share in Partner Center',
      );
      expect(
        (await pcControl(h).all()).filter((r) => r.externalReferenceId === late.opportunityId),
      ).toHaveLength(1);
      expect(lateRef).toBeTruthy();
    } finally {
      await engine.stop();
    }
  });
});

async function setCommitLag(h: Harness, ms: number): Promise<void> {
  const response = await fetch(`${h.crmControl}/ui-commit-lag`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ms }),
  });
  if (!response.ok) throw new Error(`ui-commit-lag: ${response.status} ${await response.text()}`);
}
