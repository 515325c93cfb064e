// The engine in skipped time (Temporal's test style): its clock and timers are a ManualTime, so days of schedules
// pass in milliseconds while everything else (the emulators, HTTP, the store) is real. Nothing here sleeps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deal } from '../../src/core/deal.ts';
import { until } from '../helpers/until.ts';
import { CRMS, type Harness, pcControl, skippedTimeEngine, startHarness } from './engine-harness.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe.each(CRMS)('$crm: schedules in skipped time', ({ crm }) => {
  let h: Harness;

  beforeAll(async () => {
    // The harness's own engine is not started: the one under test runs on manual time.
    h = await startHarness(undefined, { crm });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('R30 R26 nobody touches anything for 12 days of engine time: the referral Microsoft sent arrives at the next worker poll, and its one expiry warning lands 3 days before the deadline, by schedule', async () => {
    const { time, engine } = await skippedTimeEngine(h, {
      worker: { concurrency: 4, leaseMs: 60_000, pollIntervalMs: HOUR },
      crmPoll: { minIntervalMs: HOUR, maxIntervalMs: HOUR, overlapMs: 2_000 },
      reconcile: { intervalMs: 6 * HOUR, overlapMs: 2_000 },
      expiry: { checkEveryMs: HOUR },
    });
    try {
      await engine.start();
      await time.advance(0);
      const referral = await pcControl(h).sendIncoming({
        name: 'Skipped-time renewal',
        expirationDateTime: new Date(time.now().getTime() + 14 * DAY).toISOString(),
      });
      const id = String(referral.id);
      const dealOf = () => h.crm.findDeal({ kind: 'opportunity', referralId: id });
      // The webhook queues the job (over real HTTP, so wait for it); this engine's worker looks again after its
      // poll interval, in skipped time.
      await until(
        async () => (await h.store.listJobs({ state: ['pending'] })).length > 0,
        10_000,
        'the webhook to queue the referral',
      );
      expect(await dealOf()).toBeNull();
      await time.advance(HOUR);
      const deal = (await until(dealOf, 10_000, 'the opportunity at the next worker poll')) as Deal;

      const warnings = async () =>
        (await h.desk.auditLines(deal.id)).filter((l) => /expires this referral/.test(l));
      await time.advance(10 * DAY);
      expect(await warnings()).toHaveLength(0);
      await time.advance(2 * DAY);
      await until(async () => (await warnings()).length === 1, 10_000, 'the expiry warning');
      expect((await warnings())[0]).toMatch(/in about (4[78]|5\d|6\d|7[0-2]) h unless it is accepted/);
      await time.advance(DAY);
      expect(await warnings()).toHaveLength(1);
    } finally {
      await engine.stop();
    }
  });
});
