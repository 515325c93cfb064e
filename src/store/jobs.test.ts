import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqliteStore } from './sqlite.ts';
import type { Link } from './store.ts';
import { openTestStore, temporaryDirectory, testClock } from './test-support.ts';

const LEASE = 60_000;

describe('store: jobs keyed by link', () => {
  let tmp: ReturnType<typeof temporaryDirectory>;
  let store: SqliteStore;
  let time: ReturnType<typeof testClock>;
  let link: Link;
  let other: Link;

  beforeEach(async () => {
    tmp = temporaryDirectory();
    time = testClock();
    store = await openTestStore(tmp, { clock: time.clock });
    link = (
      await store.findOrCreateLinkForReferral('r-1', { crmKind: 'salesforce', dealKind: 'opportunity' })
    ).link;
    other = (
      await store.findOrCreateLinkForReferral('r-2', { crmKind: 'salesforce', dealKind: 'opportunity' })
    ).link;
  });
  afterEach(async () => {
    await store.close();
    tmp.remove();
  });

  it('coalesces hints for a link into its one pending job: latest trigger, earliest run time', async () => {
    const first = await store.enqueueJob(link.id, 'partner-center-webhook', time.at(5_000));
    const second = await store.enqueueJob(link.id, 'crm-poll', time.at(1_000));
    const third = await store.enqueueJob(link.id, 'reconcile', time.at(9_000));
    expect(first.coalesced).toBe(false);
    expect(second.coalesced).toBe(true);
    expect(third.job).toMatchObject({
      id: first.job.id,
      trigger: 'reconcile',
      hints: 3,
      nextRunAt: time.at(1_000),
      state: 'pending',
    });
    expect(await store.listJobs({ state: 'pending' })).toHaveLength(1);
  });

  it("R27 maxRunning caps the tenant's running jobs across workers: a second worker gets only what is left, an expired lease frees its place", async () => {
    const links = [link, other];
    for (let i = 3; i <= 6; i++) {
      links.push(
        (
          await store.findOrCreateLinkForReferral(`r-${i}`, {
            crmKind: 'salesforce',
            dealKind: 'opportunity',
          })
        ).link,
      );
    }
    for (const l of links) await store.enqueueJob(l.id, 'backfill', time.at(0));
    const second = await openTestStore(tmp, { clock: time.clock });
    try {
      const cap = { maxRunning: 3 };
      expect(await store.claimJobs('w1', time.at(0), 2, LEASE, cap)).toHaveLength(2);
      expect(await second.claimJobs('w2', time.at(0), 5, LEASE, cap)).toHaveLength(1);
      expect(await second.claimJobs('w2', time.at(0), 5, LEASE, cap)).toEqual([]);
      // Another tenant's cap is its own.
      expect(await store.forTenant('contoso').claimJobs('w3', time.at(0), 5, LEASE, cap)).toEqual([]);
      // Past the leases the three are up for claiming again, and count no longer.
      expect(await second.claimJobs('w2', time.at(LEASE + 1), 5, LEASE, cap)).toHaveLength(3);
      expect(await store.claimJobs('w1', time.at(LEASE + 2), 5, LEASE)).toHaveLength(3);
    } finally {
      await second.close();
    }
  });

  it('says when work falls due: the earliest pending run time, whatever the order of ids, and each running lease', async () => {
    expect(await store.jobTimes()).toEqual({ nextPendingAt: null, running: [] });
    await store.enqueueJob(link.id, 'backfill', time.at(0));
    const [claimed] = await store.claimJobs('w1', time.at(0), 1, LEASE);
    await store.enqueueJob(other.id, 'reconcile', time.at(9_000));
    const third = (
      await store.findOrCreateLinkForReferral('r-3', { crmKind: 'salesforce', dealKind: 'opportunity' })
    ).link;
    await store.enqueueJob(third.id, 'backfill', time.at(4_000));
    expect(await store.jobTimes()).toEqual({
      nextPendingAt: time.at(4_000),
      running: [{ id: claimed!.id, leaseExpiresAt: time.at(LEASE) }],
    });
  });

  it('lists jobs newest first, a page at a time (beforeId)', async () => {
    const third = (
      await store.findOrCreateLinkForReferral('r-3', { crmKind: 'salesforce', dealKind: 'opportunity' })
    ).link;
    const ids = [];
    for (const l of [link, other, third])
      ids.push((await store.enqueueJob(l.id, 'backfill', time.at(0))).job.id);
    const first = await store.listJobs({ state: 'pending', limit: 2 });
    expect(first.map((j) => j.id)).toEqual([ids[2], ids[1]]);
    const next = await store.listJobs({ state: 'pending', limit: 2, beforeId: first[1]!.id });
    expect(next.map((j) => j.id)).toEqual([ids[0]]);
  });

  it('R25 a CRM hint coalesced into a job another trigger asked for keeps that trigger: the job still reads Partner Center', async () => {
    await store.enqueueJob(link.id, 'partner-center-webhook', time.at(0));
    const merged = await store.enqueueJob(link.id, 'crm-poll', time.at(0));
    expect(merged.job).toMatchObject({ trigger: 'partner-center-webhook', hints: 2 });
    await store.enqueueJob(other.id, 'crm-poll', time.at(0));
    expect((await store.enqueueJob(other.id, 'crm-poll', time.at(0))).job.trigger).toBe('crm-poll');
  });

  it('claims only due jobs, and never a second job of a link that has one running', async () => {
    await store.enqueueJob(link.id, 'crm-poll', time.at(0));
    await store.enqueueJob(other.id, 'crm-poll', time.at(10_000));
    const [claimed, ...rest] = await store.claimJobs('worker-a', time.at(0), 10, LEASE);
    expect(rest).toEqual([]);
    expect(claimed).toMatchObject({ linkId: link.id, state: 'running', attempts: 1, leaseOwner: 'worker-a' });

    // A hint while the job runs waits as the link's pending job: the change is not lost...
    const during = await store.enqueueJob(link.id, 'partner-center-webhook', time.at(0));
    expect(during.coalesced).toBe(false);
    // ...and is not run in parallel with the running one.
    expect(await store.claimJobs('worker-b', time.at(1_000), 10, LEASE)).toEqual([]);

    expect(await store.completeJob(claimed!)).toBe(true);
    const next = await store.claimJobs('worker-b', time.at(1_000), 10, LEASE);
    expect(next.map((j) => j.id)).toEqual([during.job.id]);
    // The other link's job becomes due later.
    expect((await store.claimJobs('worker-b', time.at(10_000), 10, LEASE)).map((j) => j.linkId)).toEqual([
      other.id,
    ]);
  });

  it('reclaims a job whose lease expired (the worker died) and refuses the old worker’s report', async () => {
    await store.enqueueJob(link.id, 'crm-poll', time.at(0));
    const [dead] = await store.claimJobs('worker-a', time.at(0), 1, LEASE);
    expect(await store.claimJobs('worker-b', time.at(LEASE - 1), 1, LEASE)).toEqual([]);

    const [reclaimed] = await store.claimJobs('worker-b', time.at(LEASE), 1, LEASE);
    expect(reclaimed).toMatchObject({ id: dead!.id, leaseOwner: 'worker-b', attempts: 2 });
    expect(await store.completeJob(dead!)).toBe(false);
    expect(await store.retryJob(dead!, time.at(LEASE), 'late')).toBe(false);
    expect(await store.completeJob(reclaimed!)).toBe(true);
    expect((await store.getJob(dead!.id))?.state).toBe('succeeded');
  });

  it('extends a lease so a long job is not reclaimed', async () => {
    await store.enqueueJob(link.id, 'crm-poll', time.at(0));
    const [job] = await store.claimJobs('worker-a', time.at(0), 1, LEASE);
    expect(await store.extendLease(job!, time.at(LEASE - 1_000), LEASE)).toBe(true);
    expect(await store.claimJobs('worker-b', time.at(LEASE + 1_000), 1, LEASE)).toEqual([]);
  });

  it('R27 a hint for a link waiting to retry coalesces without pulling the retry forward (backoff and Retry-After hold)', async () => {
    await store.enqueueJob(link.id, 'crm-poll', time.at(0));
    const [job] = await store.claimJobs('w', time.at(0), 1, LEASE);
    await store.retryJob(job!, time.at(30_000), '503 from Partner Center');
    const hint = await store.enqueueJob(link.id, 'crm-poll', time.at(1_000));
    expect(hint).toMatchObject({
      coalesced: true,
      job: { id: job!.id, nextRunAt: time.at(30_000), hints: 2 },
    });
    expect(await store.claimJobs('w', time.at(29_999), 1, LEASE)).toEqual([]);
  });

  it('retries at the given time with the error kept, then dead-letters', async () => {
    await store.enqueueJob(link.id, 'crm-poll', time.at(0));
    const [job] = await store.claimJobs('w', time.at(0), 1, LEASE);
    expect(await store.retryJob(job!, time.at(30_000), '503 from Partner Center')).toBe(true);
    expect(await store.getJob(job!.id)).toMatchObject({
      state: 'pending',
      nextRunAt: time.at(30_000),
      lastError: '503 from Partner Center',
      leaseOwner: null,
    });
    expect(await store.claimJobs('w', time.at(29_999), 1, LEASE)).toEqual([]);
    const [again] = await store.claimJobs('w', time.at(30_000), 1, LEASE);
    expect(again!.attempts).toBe(2);
    expect(await store.deadLetterJob(again!, 'gave up after 2 attempts: 503')).toBe(true);
    expect(await store.listJobs({ state: 'dead' })).toMatchObject([
      { id: job!.id, lastError: 'gave up after 2 attempts: 503' },
    ]);
    expect(await store.claimJobs('w', time.at(1e9), 1, LEASE)).toEqual([]);
  });

  it('R27 a retry for a paused API gives the claim back, so throttling never uses up the retry limit', async () => {
    await store.enqueueJob(link.id, 'crm-poll', time.at(0));
    let [job] = await store.claimJobs('w', time.at(0), 1, LEASE);
    for (let pause = 1; pause <= 10; pause++) {
      expect(job!.attempts).toBe(1);
      expect(await store.retryJob(job!, time.at(pause * 60_000), '429', { refundAttempt: true })).toBe(true);
      expect((await store.getJob(job!.id))?.attempts).toBe(0);
      [job] = await store.claimJobs('w', time.at(pause * 60_000), 1, LEASE);
    }
    // A real failure still counts.
    expect(await store.retryJob(job!, time.at(11 * 60_000), '503')).toBe(true);
    expect((await store.getJob(job!.id))?.attempts).toBe(1);
  });

  it('a retry folds into a pending job queued meanwhile, keeping the later run time (Retry-After)', async () => {
    await store.enqueueJob(link.id, 'crm-poll', time.at(0));
    const [job] = await store.claimJobs('w', time.at(0), 1, LEASE);
    const hint = await store.enqueueJob(link.id, 'partner-center-webhook', time.at(0));
    expect(await store.retryJob(job!, time.at(120_000), '429')).toBe(true);
    const jobs = await store.listJobs({ linkId: link.id });
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({
      id: hint.job.id,
      attempts: 1,
      nextRunAt: time.at(120_000),
      lastError: '429',
    });
  });

  it('R25 resubmits failed and dead jobs one by one or in bulk, with attempts reset', async () => {
    await store.enqueueJob(link.id, 'crm-poll', time.at(0));
    await store.enqueueJob(other.id, 'crm-poll', time.at(0));
    const [a, b] = await store.claimJobs('w', time.at(0), 2, LEASE);
    await store.failJob(a!, 'co-sell needs a contact');
    await store.deadLetterJob(b!, 'gave up');
    expect((await store.listJobs({ state: ['failed', 'dead'] })).map((j) => j.id).sort()).toEqual(
      [a!.id, b!.id].sort(),
    );

    const [one] = await store.resubmit({ jobIds: [a!.id] }, time.at(5_000));
    expect(one).toMatchObject({
      id: a!.id,
      state: 'pending',
      attempts: 0,
      trigger: 'resubmit',
      nextRunAt: time.at(5_000),
    });
    expect((await store.listJobs({ state: ['failed', 'dead'] })).map((j) => j.id)).toEqual([b!.id]);

    const bulk = await store.resubmit({ allFailed: true }, time.at(6_000));
    expect(bulk.map((j) => j.linkId)).toEqual([other.id]);
    expect(await store.listJobs({ state: ['failed', 'dead'] })).toEqual([]);
    expect(await store.listJobs({ state: 'pending' })).toHaveLength(2);
  });

  it('R25 resubmitting a link that already has a pending job bumps that job instead of adding one', async () => {
    await store.enqueueJob(link.id, 'crm-poll', time.at(0));
    const [job] = await store.claimJobs('w', time.at(0), 1, LEASE);
    await store.deadLetterJob(job!, 'gave up');
    await store.enqueueJob(link.id, 'partner-center-webhook', time.at(60_000));
    const [resubmitted] = await store.resubmit({ linkIds: [link.id] }, time.at(1_000));
    expect(resubmitted).toMatchObject({ state: 'pending', attempts: 0, nextRunAt: time.at(1_000) });
    expect(await store.listJobs({ linkId: link.id })).toHaveLength(1);
  });

  it('prunes succeeded jobs older than a cutoff', async () => {
    await store.enqueueJob(link.id, 'crm-poll', time.at(0));
    const [job] = await store.claimJobs('w', time.at(0), 1, LEASE);
    await store.completeJob(job!);
    time.advance(86_400_000);
    expect(await store.pruneJobs(time.at(-1))).toBe(1);
    expect(await store.getJob(job!.id)).toBeNull();
  });

  it('R25 a link failing on every re-check keeps one failed row: its newest failure, not one per attempt', async () => {
    for (let i = 0; i < 25; i++) {
      await store.enqueueJob(link.id, 'reconcile', time.at(i * 1_000));
      const [job] = await store.claimJobs('worker-a', time.at(i * 1_000), 1, LEASE);
      if (i % 2 === 0) await store.failJob(job!, `refused ${i}`);
      else await store.deadLetterJob(job!, `dead ${i}`);
    }
    await store.enqueueJob(other.id, 'reconcile', time.at(0));
    const [otherJob] = await store.claimJobs('worker-a', time.at(30_000), 1, LEASE);
    await store.failJob(otherJob!, 'other link');
    const jobs = await store.listJobs({ linkId: link.id, limit: 100 });
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ state: 'failed', lastError: 'refused 24' });
    expect(await store.listJobs({ linkId: other.id, limit: 100 })).toHaveLength(1);
  });

  it('R25 succeeded jobs and runs past their retention are pruned; newer ones stay', async () => {
    const start = time.clock().getTime();
    for (let i = 0; i < 2; i++) {
      if (i > 0) time.advance(10_000);
      await store.enqueueJob(link.id, 'reconcile', time.clock());
      const [job] = await store.claimJobs('worker-a', time.clock(), 1, LEASE);
      await store.completeJob(job!);
      await store.recordRun({
        jobId: job!.id,
        linkId: link.id,
        referralId: 'r-1',
        crmId: null,
        trigger: 'reconcile',
        outcome: 'unchanged',
        direction: 'none',
        error: null,
        apiCalls: {},
        durationMs: 5,
        diff: [],
        startedAt: time.clock(),
      });
    }
    const cutoff = new Date(start + 5_000);
    expect(await store.pruneJobs(cutoff)).toBe(1);
    expect(await store.pruneRuns(cutoff)).toBe(1);
    expect(await store.listJobs({ linkId: link.id, limit: 10 })).toHaveLength(1);
    expect((await store.listRuns({ linkId: link.id })).runs).toHaveLength(1);
  });
});
