// The periodic re-check of failed links (engine.revalidateFailedEveryMs), in skipped time: a failure whose cause is
// fixed where no change feed or webhook can see it (here Partner Center refused a create for a reason on its own
// side) heals at the next re-check, and only then. Remove the schedule and this test fails (issue 11 §3b).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/until.ts';
import { CRMS, type Harness, pcControl, skippedTimeEngine, startHarness } from './engine-harness.ts';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

describe.each(CRMS)('$crm: failed links are checked again on a schedule', ({ crm }) => {
  let h: Harness;

  beforeAll(async () => {
    // The harness's own engine is not started: the one under test runs on manual time.
    h = await startHarness(undefined, { crm });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('R19 R26 a share Partner Center refused stays ✖ while nothing changes, and the hourly re-check creates the referral once the cause is gone: ✔', {
    timeout: 60_000,
  }, async () => {
    const { time, engine } = await skippedTimeEngine(h, {
      worker: { concurrency: 4, leaseMs: 60_000, pollIntervalMs: 10 * MINUTE },
      crmPoll: { minIntervalMs: 10 * MINUTE, maxIntervalMs: 10 * MINUTE, overlapMs: 2_000 },
      reconcile: { intervalMs: 24 * HOUR, overlapMs: 2_000 },
      revalidateFailedEveryMs: HOUR,
    });
    const pc = pcControl(h);
    try {
      // Partner Center refuses the first create (400): a final answer, not retried.
      await pc.fault({ method: 'POST', path: '/v1.0/engagements/referrals', status: 400, count: 1 });
      const startedAt = time.now().getTime();
      await engine.start();
      await time.advance(0);
      const { opportunityId } = await h.desk.opportunity({});
      const deal = () => h.crm.findDeal({ kind: 'opportunity', id: opportunityId });
      await until(
        async () => {
          await time.advance(10 * MINUTE);
          return (await deal())?.mark === 'error';
        },
        20_000,
        'the ✖ of the refused share',
      );
      const elapsed = () => time.now().getTime() - startedAt;
      expect(elapsed()).toBeLessThan(40 * MINUTE);
      expect((await h.desk.auditLines(opportunityId)).at(-1)).toMatch(
        /Partner Center refused the change \(400/,
      );

      // Polls and sweeps until just before the hour: nothing in the CRM or Partner Center changed, so nothing is
      // tried again.
      const before = (await pc.all()).length;
      await time.advance(55 * MINUTE - elapsed());
      expect((await deal())?.mark).toBe('error');
      expect((await pc.all()).length).toBe(before);

      // The hourly re-check: the referral is created (once) and the record shows ✔.
      await time.advance(HOUR - elapsed());
      const synced = await until(
        async () => {
          await time.advance(MINUTE);
          const d = await deal();
          return d?.mark === 'ok' && d.referralId ? d : null;
        },
        20_000,
        'the referral after the re-check',
      );
      expect((await pc.all()).filter((r) => r.externalReferenceId === opportunityId)).toHaveLength(1);
      expect(synced.referralId).toBeTruthy();
    } finally {
      await engine.stop();
    }
  });
});
