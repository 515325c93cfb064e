// Claiming jobs on PostgreSQL: a tenant's workers claim side by side with `FOR UPDATE SKIP LOCKED` instead of
// queueing on the tenant's write lock, and the writes that change a job row wait for a claim in flight.
// Another transaction is played by a raw pg client holding the locks a worker or a write would hold.
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { until } from '../../test/helpers/until.ts';
import type { SqlStore } from './sql-store.ts';
import type { ClaimedJob, Link } from './store.ts';
import { openTestStore, temporaryDirectory, testClock, testStoreUrl } from './test-support.ts';

const LEASE = 60_000;

/** The promise's value, or a failure naming `what` when it has not settled within `ms` (a deadline, not a wait). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const outcome: { settled: boolean } = { settled: false };
  const settled = promise.finally(() => {
    outcome.settled = true;
  });
  await until(() => outcome.settled, ms, `${what} to finish`, 10);
  return settled;
}

describe('store on PostgreSQL: claiming jobs', () => {
  let tmp: ReturnType<typeof temporaryDirectory>;
  let time: ReturnType<typeof testClock>;
  let store: SqlStore;
  let raw: pg.Client;
  const others: SqlStore[] = [];

  /** Until a statement of this database waits on a lock (the transaction under test has reached it). */
  const aStatementWaits = () =>
    until(
      async () =>
        Number(
          (
            await raw.query(
              "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
          ).rows[0].n,
        ) > 0,
      5_000,
      'a statement to wait on a lock',
    );

  const newLink = async (referralId: string): Promise<Link> =>
    (await store.findOrCreateLinkForReferral(referralId, { crmKind: 'salesforce', dealKind: 'opportunity' }))
      .link;

  beforeEach(async () => {
    tmp = temporaryDirectory();
    time = testClock();
    store = await openTestStore(tmp, { clock: time.clock });
    raw = new pg.Client({ connectionString: await testStoreUrl(tmp) });
    await raw.connect();
  });
  afterEach(async () => {
    await raw.query('ROLLBACK').catch(() => {});
    await raw.end();
    for (const other of others.splice(0)) await other.close();
    await store.close();
    tmp.remove();
  });

  it("R27 a claim does not wait for the tenant's write lock: a worker claims while another write of the tenant is under way", async () => {
    const link = await newLink('r-1');
    const { job } = await store.enqueueJob(link.id, 'partner-center-webhook', time.at(0));
    await raw.query('BEGIN');
    await raw.query('SELECT pg_advisory_xact_lock(hashtext($1))', [store.tenantId]);

    const claimed = await within(store.claimJobs('worker-a', time.at(0), 5, LEASE), 5_000, 'the claim');
    expect(claimed.map((c) => c.id)).toEqual([job.id]);
    // Writes still wait for the tenant's lock.
    let enqueued = false;
    const write = store.enqueueJob(link.id, 'reconcile', time.at(0)).then((r) => {
      enqueued = true;
      return r;
    });
    await aStatementWaits();
    expect(enqueued).toBe(false);
    await raw.query('COMMIT');
    expect((await write).coalesced).toBe(false);
  });

  it('R27 a job another transaction holds is passed over, not waited for, and claimed once it is let go', async () => {
    const held = await store.enqueueJob((await newLink('r-1')).id, 'backfill', time.at(0));
    const free = await store.enqueueJob((await newLink('r-2')).id, 'backfill', time.at(1));
    await raw.query('BEGIN');
    await raw.query('SELECT id FROM jobs WHERE id = $1 FOR UPDATE', [held.job.id]);

    const first = await within(store.claimJobs('worker-a', time.at(5), 5, LEASE), 5_000, 'the claim');
    expect(first.map((c) => c.id)).toEqual([free.job.id]);
    await raw.query('COMMIT');
    const second = await store.claimJobs('worker-b', time.at(5), 5, LEASE);
    expect(second.map((c) => c.id)).toEqual([held.job.id]);
  });

  it('R5 a hint that arrives while its pending job is being claimed is not folded into the claimed job: it becomes the next pending job', async () => {
    const link = await newLink('r-1');
    const { job } = await store.enqueueJob(link.id, 'partner-center-webhook', time.at(0));
    // A worker's claim, half done: the row is locked and about to turn running.
    await raw.query('BEGIN');
    await raw.query('SELECT id FROM jobs WHERE id = $1 FOR UPDATE', [job.id]);
    const hint = store.enqueueJob(link.id, 'crm-poll', time.at(0));
    await aStatementWaits();
    await raw.query(
      "UPDATE jobs SET state = 'running', lease_owner = 'worker-a', lease_expires_at = $2, attempts = 1 WHERE id = $1",
      [job.id, time.at(LEASE).toISOString()],
    );
    await raw.query('COMMIT');

    const after = await within(hint, 5_000, 'the hint');
    expect(after.coalesced).toBe(false);
    expect(after.job).toMatchObject({ state: 'pending', hints: 1, trigger: 'crm-poll' });
    expect(await store.getJob(job.id)).toMatchObject({ state: 'running', hints: 1 });
  });

  it('R27 a worker whose lease is being taken over after it ran out cannot finish the job: the new owner has it', async () => {
    const link = await newLink('r-1');
    await store.enqueueJob(link.id, 'backfill', time.at(0));
    const [old] = await store.claimJobs('worker-a', time.at(0), 1, LEASE);
    if (!old) throw new Error('nothing claimed');
    // Worker b reclaims the expired job, half done.
    await raw.query('BEGIN');
    await raw.query('SELECT id FROM jobs WHERE id = $1 FOR UPDATE', [old.id]);
    const late = store.completeJob(old);
    await aStatementWaits();
    await raw.query("UPDATE jobs SET lease_owner = 'worker-b', attempts = 2 WHERE id = $1", [old.id]);
    await raw.query('COMMIT');

    expect(await within(late, 5_000, 'the late report')).toBe(false);
    expect(await store.getJob(old.id)).toMatchObject({ state: 'running', leaseOwner: 'worker-b' });
  });

  it('R27 four processes claiming at once take every job exactly once, never two of one link at a time, and a cap on running jobs holds across them', async () => {
    const links: Link[] = [];
    for (let i = 0; i < 60; i++) links.push(await newLink(`r-${i}`));
    for (const link of links) await store.enqueueJob(link.id, 'backfill', time.at(0));
    for (let i = 0; i < 4; i++) others.push(await openTestStore(tmp, { clock: time.clock }));

    // Capped: 4 workers asking for 5 each at once, 7 may run.
    const capped = await Promise.all(
      others.map((s, i) => s.claimJobs(`w${i}`, time.at(1), 5, LEASE, { maxRunning: 7 })),
    );
    expect(capped.flat()).toHaveLength(7);
    for (const job of capped.flat()) await store.completeJob(job);

    // Uncapped: every worker claims until nothing is left, finishing each job and hinting its link again once
    // (the hint must land as a new pending job, never inside the running one).
    const seen = new Map<number, string>();
    const hinted = new Set<number>();
    const work = others.map(async (s, i) => {
      for (;;) {
        const claimed: ClaimedJob[] = await s.claimJobs(`w${i}`, time.at(2), 3, LEASE);
        if (claimed.length === 0) {
          if ((await s.jobCounts()).pending === 0) return;
          continue;
        }
        for (const job of claimed) {
          expect(seen.has(job.id), `job ${job.id} claimed twice`).toBe(false);
          seen.set(job.id, `w${i}`);
          if (!hinted.has(job.linkId)) {
            hinted.add(job.linkId);
            expect((await s.enqueueJob(job.linkId, 'reconcile', time.at(2))).coalesced).toBe(false);
          }
          expect(await s.completeJob(job)).toBe(true);
        }
      }
    });
    await within(Promise.all(work), 25_000, 'the workers');
    // The 53 jobs left after the capped round, then the 53 hints' jobs.
    expect(seen.size).toBe(106);
    expect(new Set(seen.values()).size).toBeGreaterThan(1);
    expect(await store.jobCounts()).toMatchObject({ pending: 0, running: 0, succeeded: 113 });
  });
});
