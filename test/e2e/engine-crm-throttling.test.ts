// Dataverse service protection (6,000 requests per 5 minutes per user, 52 at once) answers 429 with Retry-After.
// Found by `npm run reliability`: each job used to retry into the limit on its own (thousands of 429s in a
// 1,200-record backfill). Now the Retry-After pauses all CRM work once, as Partner Center's does; the throttled
// job keeps its retries and its record never shows ✖. Salesforce has no such answer (its allocation is a daily
// budget, engine-budgets.test.ts; its row locks are retried, engine-storms.test.ts), so this runs on Dynamics 365.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deal } from '../../src/core/deal.ts';
import { until } from '../helpers/until.ts';
import { crmControl, type Harness, pcControl, startHarness } from './engine-harness.ts';

describe('dynamics: Dataverse throttling', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(undefined, { crm: 'dynamics' });
    await h.engine.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('R27 a 429 with Retry-After pauses all CRM work for the asked time without using up the job; then the referral arrives ✔', async () => {
    // Every attempt of the job's first batch is throttled, so the 429 reaches the engine (the change-feed poll
    // reads without a batch).
    await crmControl(h).fault({
      method: 'POST',
      path: '/$batch',
      status: 429,
      code: '0x80072322',
      retryAfter: 1,
      // More than the client's attempts at one call.
      count: 10,
    });
    const referral = await pcControl(h).sendIncoming({ name: 'Throttled by Dataverse' });
    const id = String(referral.id);
    const deal = (await until(
      () => h.crm.findDeal({ kind: 'opportunity', referralId: id }),
      10_000,
      'the opportunity after the pause',
    )) as Deal;
    expect(deal.mark).toBe('ok');

    // The run is recorded right after the CRM write.
    const mine = await until(
      async () => {
        const runs = [...(await h.store.listRuns({ referralId: id })).runs].reverse();
        return runs.some((r) => r.outcome === 'changed') ? runs : null;
      },
      10_000,
      'the run that created the opportunity',
    );
    const throttled = mine.filter((r) => r.error);
    expect(throttled).toHaveLength(1);
    expect(throttled[0]!.error?.message).toMatch(/HTTP 429 0x80072322/);
    // 'skipped' is the pause path: the claim is given back and the job waits for the circuit, not a retry.
    expect(throttled[0]!.outcome).toBe('skipped');
    const landed = mine.find((r) => r.outcome === 'changed');
    expect(landed!.startedAt.getTime() - throttled[0]!.startedAt.getTime()).toBeGreaterThanOrEqual(900);
    expect(await h.store.getJob(landed!.jobId!)).toMatchObject({ state: 'succeeded', attempts: 1 });
    await crmControl(h).clearFaults();
  });
});
