// The API circuits in skipped time: a throttling spell that is over leaves nothing behind — a later refused sign-in
// pauses for the base minute, not a doubled one (found while probing: strikes carried over from the throttling
// spell), and Partner Center work resumes once the sign-in works again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deal } from '../../src/core/deal.ts';
import { until } from '../helpers/until.ts';
import { CRMS, type Harness, pcControl, skippedTimeEngine, startHarness } from './engine-harness.ts';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
/** One referral's path (a GET by id), not the list a sweep at start may still be reading. */
const A_REFERRAL = '/v1.0/engagements/referrals/';

describe.each(CRMS)('$crm: API circuits', ({ crm }) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(undefined, { crm });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('R27 R28 after a 429 spell ends in a successful sync, a later refused sign-in pauses Partner Center for the base minute, then resumes', async () => {
    // One job at a time: the test follows one circuit; concurrent forced token refreshes under a 401 storm are the
    // fault harness's to probe (seen once as a refused refresh that then needed a login).
    const { time, engine } = await skippedTimeEngine(h, {
      worker: { concurrency: 1, leaseMs: 60_000, pollIntervalMs: SECOND },
      crmPoll: { minIntervalMs: 10 * MINUTE, maxIntervalMs: 10 * MINUTE, overlapMs: 2_000 },
      reconcile: { intervalMs: 24 * 60 * MINUTE, overlapMs: 2_000 },
      credentialPauseMs: MINUTE,
    });
    const pc = pcControl(h);
    const dealOf = (id: string) => h.crm.findDeal({ kind: 'opportunity', referralId: id });
    const arrives = (id: string, what: string) =>
      until(
        async () => {
          await time.advance(SECOND);
          return dealOf(id);
        },
        20_000,
        what,
      ) as Promise<Deal>;
    try {
      await engine.start();
      await time.advance(0);

      // Throttled past the client's own retries: the engine pauses Partner Center for the Retry-After.
      await pc.fault({ method: 'GET', path: A_REFERRAL, status: 429, retryAfter: 30, count: 3 });
      const first = String((await pc.sendIncoming({ name: 'Throttled at first' })).id);
      await until(
        async () => {
          await time.advance(SECOND);
          return engine.pausedApis().some((p) => p.api === 'partner-center' && p.reason === 'throttled');
        },
        20_000,
        'the throttling pause',
      );
      await time.advance(30 * SECOND);
      const deal = await arrives(first, 'the first referral after the pause');
      // Its sync finished: Partner Center names the record (the write-back is the job's last call).
      await until(
        async () => {
          await time.advance(SECOND);
          return (await pc.referral(first)).externalReferenceId === deal.id;
        },
        20_000,
        'the first sync to finish',
      );
      expect(engine.pausedApis()).toEqual([]);

      // Later the signed-in user is refused: a pause of the base minute, as if nothing had happened before.
      await pc.fault({ path: A_REFERRAL, status: 401, count: 20 });
      const second = String((await pc.sendIncoming({ name: 'Refused sign-in' })).id);
      const pause = await until(
        async () => {
          await time.advance(SECOND);
          return engine.pausedApis().find((p) => p.api === 'partner-center' && p.reason === 'credentials');
        },
        20_000,
        'the credentials pause',
      );
      expect(pause.until.getTime() - time.now().getTime()).toBeLessThanOrEqual(MINUTE);
      expect(pause.fix).toMatch(/cosell login/);

      await pc.clearFaults();
      await time.advance(MINUTE);
      await arrives(second, 'the second referral once the sign-in works again');
      expect(engine.pausedApis()).toEqual([]);
    } finally {
      await engine.stop();
    }
  });
});
