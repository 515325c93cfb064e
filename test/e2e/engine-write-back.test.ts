// The gap between creating a referral and writing its identifiers back to the CRM (over real HTTP). A CRM outage
// right after the Partner Center create must not leave a co-sell stuck (referral exists, opportunity knows
// nothing, no ✔/✖, no audit line, nothing retrying) nor show a false ✖ on the seller's next edit: the link heals
// by itself, with exactly one referral.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.ts';
import type { Link, Store } from '../../src/store/store.ts';
import { until } from '../helpers/until.ts';
import type { CrmDesk } from './crm-desk.ts';
import {
  CRMS,
  type Harness,
  pcControl,
  quiet,
  startHarness,
  TEST_ENGINE_SETTINGS,
} from './engine-harness.ts';

const RETRY = { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 80, maxRetryAfterMs: 5_000 };

describe.each(CRMS)('the write-back after a referral create on $crm (engine over HTTP)', ({ crm }) => {
  let h: Harness;
  let pc: ReturnType<typeof pcControl>;
  let seller: CrmDesk;
  let engine: Engine;
  let store: Store;

  beforeAll(async () => {
    h = await startHarness({ ...TEST_ENGINE_SETTINGS, retry: RETRY }, { crm });
    pc = pcControl(h);
    seller = h.desk;
    engine = h.engine;
    store = h.store;
    await engine.start();
  });
  afterEach(async () => {
    await seller.clearFaults();
  });
  afterAll(async () => {
    await h?.close();
  });

  const referralsOf = async (opportunityId: string) =>
    (await pc.all()).filter((r) => r.externalReferenceId === opportunityId && r.direction === 'Outgoing');

  /** The opportunity once it carries its Referral Identifier and ✔. */
  const healed = (opportunityId: string) =>
    until(
      async () => {
        const o = await seller.read(opportunityId);
        return o.referralId && o.name.endsWith('✔') ? o : null;
      },
      10_000,
      'the identifiers and ✔ on the opportunity',
    );

  /** Healed: identifiers and ✔ on the opportunity, exactly one referral (the one it names), one audit line of the
   *  sync. */
  async function healedWithOneReferral(opportunityId: string) {
    const o = await healed(opportunityId);
    const referrals = await referralsOf(opportunityId);
    expect(referrals).toHaveLength(1);
    expect(o.referralId).toBe(String(referrals[0]!.id));
    // Besides the one line of the sync, at most one "retrying" line (said once, only when the CRM took it while
    // the write-back was still failing).
    const lines = await seller.auditLines(opportunityId);
    const retrying = lines.filter((l) => /not synced yet, retrying/.test(l));
    expect(retrying.length).toBeLessThanOrEqual(1);
    const audit = lines.filter((l) => !retrying.includes(l));
    expect(audit).toHaveLength(1);
    return { o, referrals, audit };
  }

  it('R10 R19 R20 a CRM outage right after the create is retried: identifiers, ✔ and one audit line, one referral', async () => {
    // The write-back PATCH fails more often than the client retries once (5), less than the engine's 3 attempts do.
    await seller.failUpdates({ status: 503, count: 7 });
    const { opportunityId } = await seller.opportunity();
    const { o, referrals, audit } = await healedWithOneReferral(opportunityId);
    expect(audit[0]).toMatch(new RegExp(`CRM->PC: created referral ${referrals[0]!.id}`));
    // Partner Center's own decision at the create (a co-sell is visible) came back, not read as a seller's change.
    expect(o.visibleToMicrosoft).toBe(true);
  });

  it('R10 R25 R19 an outage that outlasts every retry heals by itself once the CRM is back: no false ✖, one referral', async () => {
    // Every write to the opportunity fails, the ✖ included, until the outage ends.
    await seller.failUpdates({ status: 503, count: 10_000 });
    const { opportunityId } = await seller.opportunity();
    const link = (await until(
      async () => {
        const l = await store.linkByCrm(crm, opportunityId);
        if (!l) return null;
        const jobs = await store.listJobs({ linkId: l.id, limit: 50 });
        return jobs.some((j) => j.state === 'dead') ? l : null;
      },
      10_000,
      'the dead-lettered write-back',
    )) as Link;
    expect(await referralsOf(opportunityId)).toHaveLength(1);
    // The change feed's second look at the new opportunity (a Salesforce stamp's second) fails the same way;
    // once it has played out, nothing is left to retry the link but the re-check below.
    await quiet(store);
    const stuck = await seller.read(opportunityId);
    expect(stuck.referralId).toBeNull();

    // The outage ends. Nobody resubmits: the periodic re-check of failed links finds it.
    await seller.clearFaults();
    expect(await engine.reconcileOnce()).toBeGreaterThanOrEqual(1);
    const { referrals, audit } = await healedWithOneReferral(opportunityId);
    expect(audit[0]).toMatch(
      new RegExp(`CRM->PC: created referral ${referrals[0]!.id} \\(written back after an interruption\\)`),
    );

    // The seller's next edit syncs with ✔, no "already visible to Microsoft sellers" refusal.
    await seller.edit(opportunityId, { value: 150_000 });
    await until(
      async () => Number((await pc.referral(String(referrals[0]!.id))).details?.dealValue) === 150_000,
      10_000,
      'the edit in Partner Center',
    );
    const after = await until(
      async () => {
        const lines = await seller.auditLines(opportunityId);
        return lines.length >= 2 ? lines : null;
      },
      5_000,
      'the audit line of the edit',
    );
    expect(after[1]).toMatch(/CRM->PC: deal value 120000 -> 150000$/);
    expect(after.join('\n')).not.toMatch(/✖|visible/);
    expect((await seller.read(opportunityId)).name).toMatch(/✔$/);
    expect((await store.getSnapshot(link.id))?.error ?? null).toBeNull();
  });
});
