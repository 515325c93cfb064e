// The inbox (events durable before the 2xx) and the job queue: one pending and one running job per link,
// hints coalesced, claims, leases, retries, resubmits.
import type { Executor } from '../driver.ts';
import {
  attemptsAfterRetry,
  checkTransition,
  coalesceHint,
  foldRetry,
  mergePending,
  resubmitRunAt,
} from '../job-rules.ts';
import { iso, type JobRow, toClaimedJob, toInboxEvent, toJob } from '../rows.ts';
import type {
  ClaimedJob,
  InboxEvent,
  InboxEventInput,
  Job,
  JobFilter,
  JobLease,
  JobState,
  JobTrigger,
  ResubmitTarget,
  RetryJobOptions,
} from '../store.ts';

import { clampLimit, first, notFound, one, SqlPart } from './part.ts';

export class JobSql extends SqlPart {
  /** Keeps "one pending, one running job per link" while moving drop's jobs to keep. */
  async moveJobs(x: Executor, keepId: number, dropId: number, now: string): Promise<void> {
    const dropPending = await this.activeJobRow(x, dropId, 'pending');
    const keepPending = await this.activeJobRow(x, keepId, 'pending');
    if (dropPending && keepPending) {
      await x.run(
        this.db
          .updateTable('jobs')
          .set({ ...mergePending(keepPending, dropPending), updated_at: now })
          .where('id', '=', keepPending.id),
      );
      await x.run(this.db.deleteFrom('jobs').where('id', '=', dropPending.id));
    } else if (dropPending) {
      await x.run(this.db.updateTable('jobs').set({ link_id: keepId }).where('id', '=', dropPending.id));
    }
    const dropRunning = await this.activeJobRow(x, dropId, 'running');
    if (dropRunning && (await this.activeJobRow(x, keepId, 'running'))) {
      // Two workers on the two halves of one pair: drop's worker loses its lease (its report is refused)
      // and keep gets a pending job, so the merged link is synced again after keep's run.
      await x.run(this.db.deleteFrom('jobs').where('id', '=', dropRunning.id));
      await this.enqueueRow(x, keepId, dropRunning.trigger, now);
    }
    // What is left on drop: its running job (keep had none) and finished jobs, history only.
    await x.run(this.db.updateTable('jobs').set({ link_id: keepId }).where('link_id', '=', dropId));
  }

  async acceptInbox(event: InboxEventInput): Promise<{ event: InboxEvent; duplicate: boolean }> {
    // Returns only after COMMIT, which with synchronous=FULL has fsynced the WAL: the caller may ack.
    return this.transaction(async (x) => {
      const existing = await first(
        x,
        this.db
          .selectFrom('inbox')
          .selectAll()
          .where('tenant_id', '=', this.tenantId)
          .where('dedupe_key', '=', event.dedupeKey),
      );
      if (existing) return { event: toInboxEvent(existing), duplicate: true };
      const row = await one(
        x,
        this.db
          .insertInto('inbox')
          .values({
            tenant_id: this.tenantId,
            source: event.source,
            dedupe_key: event.dedupeKey,
            payload: event.payload,
            received_at: iso(event.receivedAt ?? this.connection.clock()),
            processed_at: null,
          })
          .returningAll(),
      );
      return { event: toInboxEvent(row), duplicate: false };
    });
  }

  async unprocessedInbox(limit: number): Promise<InboxEvent[]> {
    return (
      await this.all(
        this.db
          .selectFrom('inbox')
          .selectAll()
          .where('tenant_id', '=', this.tenantId)
          .where('processed_at', 'is', null)
          .orderBy('id')
          .limit(clampLimit(limit, 100, 10_000)),
      )
    ).map(toInboxEvent);
  }

  async markInboxProcessed(eventId: number, at?: Date): Promise<void> {
    const changed = await this.run(
      this.db
        .updateTable('inbox')
        .set({ processed_at: iso(at ?? this.connection.clock()) })
        .where('tenant_id', '=', this.tenantId)
        .where('id', '=', eventId),
    );
    if (changed === 0) throw notFound('Inbox event', eventId);
  }

  private async activeJobRow(
    x: Executor,
    linkId: number,
    state: 'pending' | 'running',
  ): Promise<JobRow | undefined> {
    // Locked: a claim in flight (which takes no tenant lock) is waited for and seen, and none starts on it.
    return await first(
      x,
      this.connection.driver.forUpdate(
        this.db.selectFrom('jobs').selectAll().where('link_id', '=', linkId).where('state', '=', state),
      ),
    );
  }

  private async enqueueRow(
    x: Executor,
    linkId: number,
    trigger: JobTrigger,
    runAt: string,
  ): Promise<{ row: JobRow; coalesced: boolean }> {
    const now = this.now();
    const pending = await this.activeJobRow(x, linkId, 'pending');
    if (pending) {
      const row = await one(
        x,
        this.db
          .updateTable('jobs')
          .set({ ...coalesceHint(pending, trigger, runAt), updated_at: now })
          .where('id', '=', pending.id)
          .returningAll(),
      );
      return { row, coalesced: true };
    }
    const row = await one(
      x,
      this.db
        .insertInto('jobs')
        .values({
          tenant_id: this.tenantId,
          link_id: linkId,
          state: 'pending',
          trigger,
          hints: 1,
          attempts: 0,
          next_run_at: runAt,
          lease_owner: null,
          lease_expires_at: null,
          last_error: null,
          created_at: now,
          updated_at: now,
        })
        .returningAll(),
    );
    return { row, coalesced: false };
  }

  async enqueueJob(
    linkId: number,
    trigger: JobTrigger,
    runAt: Date,
  ): Promise<{ job: Job; coalesced: boolean }> {
    return this.transaction(async (x) => {
      await this.parts.links.requireLink(x, linkId);
      const { row, coalesced } = await this.enqueueRow(x, linkId, trigger, iso(runAt));
      if (row.next_run_at <= this.now()) await this.connection.driver.announceQueued(x, this.tenantId);
      return { job: toJob(row), coalesced };
    });
  }

  /** Due pending jobs and running jobs whose lease ran out: two indexed reads (jobs_due: tenant, state, time),
   *  as an OR of the two would read every job of the tenant. */
  private dueJobs(state: 'pending' | 'running', at: string) {
    return this.db
      .selectFrom('jobs as j')
      .select(['j.id', 'j.next_run_at'])
      .where('j.tenant_id', '=', this.tenantId)
      .where('j.state', '=', state)
      .where(state === 'pending' ? 'j.next_run_at' : 'j.lease_expires_at', '<=', at);
  }

  private async anyJobDue(x: Executor, at: string): Promise<boolean> {
    if (await first(x, this.dueJobs('pending', at).limit(1))) return true;
    return (await first(x, this.dueJobs('running', at).limit(1))) !== undefined;
  }

  async claimJobs(
    owner: string,
    now: Date,
    wanted: number,
    leaseMs: number,
    options: { maxRunning?: number | null } = {},
  ): Promise<ClaimedJob[]> {
    if (wanted <= 0) return [];
    const at = iso(now);
    const expires = iso(new Date(now.getTime() + leaseMs));
    // Most polls of an idle or busy-elsewhere tenant find nothing: two indexed reads say so without opening a
    // claiming transaction (on SQLite the write lock, which every worker's poll would otherwise queue on).
    if (!(await this.read((x) => this.anyJobDue(x, at)))) return [];
    const maxRunning = options.maxRunning ?? null;
    // Workers claim side by side: each locks the rows it picks and passes over those another claim (or a write
    // changing the job) holds. A cap on running jobs is counted with the tenant's other capped claims held off.
    const mode = maxRunning === null ? 'claim' : 'counted-claim';
    const skipLocked = { skipLocked: true };
    const { forUpdate } = this.connection.driver;
    return this.connection.driver.transaction(this.tenantId, mode, async (x) => {
      let limit = wanted;
      if (maxRunning !== null) {
        // Jobs whose lease still runs are running somewhere; expired ones are up for claiming.
        const live = await one(
          x,
          this.db
            .selectFrom('jobs')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('tenant_id', '=', this.tenantId)
            .where('state', '=', 'running')
            .where('lease_expires_at', '>', at),
        );
        limit = Math.min(limit, maxRunning - Number(live.n));
        if (limit <= 0) return [];
      }
      // Due pending jobs of links with nothing running, in order; and running jobs whose lease ran out.
      const pending = await x.all(
        forUpdate(
          this.dueJobs('pending', at)
            .where((eb) =>
              eb.not(
                eb.exists(
                  eb
                    .selectFrom('jobs as r')
                    .select('r.id')
                    .whereRef('r.link_id', '=', 'j.link_id')
                    .where('r.state', '=', 'running'),
                ),
              ),
            )
            .orderBy('j.next_run_at')
            .orderBy('j.id')
            .limit(limit),
          skipLocked,
        ),
      );
      const expired = await x.all(
        forUpdate(
          this.dueJobs('running', at).orderBy('j.next_run_at').orderBy('j.id').limit(limit),
          skipLocked,
        ),
      );
      const due = [...pending, ...expired]
        .sort((a, b) =>
          a.next_run_at < b.next_run_at ? -1 : a.next_run_at > b.next_run_at ? 1 : a.id - b.id,
        )
        .slice(0, limit);
      const claimed: ClaimedJob[] = [];
      for (const { id } of due) {
        claimed.push(
          toClaimedJob(
            await one(
              x,
              this.db
                .updateTable('jobs')
                .set((eb) => ({
                  state: 'running',
                  lease_owner: owner,
                  lease_expires_at: expires,
                  attempts: eb('attempts', '+', 1),
                  updated_at: at,
                }))
                .where('id', '=', id)
                .returningAll(),
            ),
          ),
        );
      }
      return claimed;
    });
  }

  /** The job row if `lease` still holds it. */
  private async leasedRow(x: Executor, lease: JobLease): Promise<JobRow | undefined> {
    // Locked, as activeJobRow: a reclaim of an expired lease in flight is waited for, and then this is not ours.
    return await first(
      x,
      this.connection.driver.forUpdate(
        this.db
          .selectFrom('jobs')
          .selectAll()
          .where('tenant_id', '=', this.tenantId)
          .where('id', '=', lease.id)
          .where('state', '=', 'running')
          .where('lease_owner', '=', lease.leaseOwner),
      ),
    );
  }

  async extendLease(job: JobLease, now: Date, leaseMs: number): Promise<boolean> {
    return this.transaction(async (x) => {
      if (!(await this.leasedRow(x, job))) return false;
      await x.run(
        this.db
          .updateTable('jobs')
          .set({ lease_expires_at: iso(new Date(now.getTime() + leaseMs)), updated_at: iso(now) })
          .where('id', '=', job.id),
      );
      return true;
    });
  }

  private async finish(
    job: JobLease,
    state: 'succeeded' | 'failed' | 'dead',
    error: string | null,
  ): Promise<boolean> {
    return this.transaction(async (x) => {
      if (!(await this.leasedRow(x, job))) return false;
      checkTransition('running', state);
      await x.run(
        this.db
          .updateTable('jobs')
          .set({ state, last_error: error, lease_expires_at: null, updated_at: this.now() })
          .where('id', '=', job.id),
      );
      if (state !== 'succeeded') {
        // The newest failure stands for the link (resubmit works by link): a link failing on every re-check
        // keeps one row, not one per attempt. The runs keep the history.
        const row = await first(x, this.db.selectFrom('jobs').select('link_id').where('id', '=', job.id));
        if (row) {
          await x.run(
            this.db
              .deleteFrom('jobs')
              .where('tenant_id', '=', this.tenantId)
              .where('link_id', '=', row.link_id)
              .where('state', 'in', ['failed', 'dead'])
              .where('id', '!=', job.id),
          );
        }
      }
      return true;
    });
  }

  async completeJob(job: JobLease): Promise<boolean> {
    return this.finish(job, 'succeeded', null);
  }

  async failJob(job: JobLease, error: string): Promise<boolean> {
    return this.finish(job, 'failed', error);
  }

  async deadLetterJob(job: JobLease, error: string): Promise<boolean> {
    return this.finish(job, 'dead', error);
  }

  async retryJob(
    job: JobLease,
    nextRunAt: Date,
    error: string,
    options: RetryJobOptions = {},
  ): Promise<boolean> {
    return this.transaction(async (x) => {
      const row = await this.leasedRow(x, job);
      if (!row) return false;
      const now = this.now();
      const attempts = attemptsAfterRetry(row.attempts, options.refundAttempt ?? false);
      const pending = await this.activeJobRow(x, row.link_id, 'pending');
      checkTransition('running', pending ? null : 'pending');
      if (pending) {
        await x.run(
          this.db
            .updateTable('jobs')
            .set({ ...foldRetry(pending, attempts, iso(nextRunAt)), last_error: error, updated_at: now })
            .where('id', '=', pending.id),
        );
        await x.run(this.db.deleteFrom('jobs').where('id', '=', row.id));
        return true;
      }
      await x.run(
        this.db
          .updateTable('jobs')
          .set({
            state: 'pending',
            attempts,
            next_run_at: iso(nextRunAt),
            last_error: error,
            lease_owner: null,
            lease_expires_at: null,
            updated_at: now,
          })
          .where('id', '=', row.id),
      );
      return true;
    });
  }

  async resubmit(target: ResubmitTarget, now?: Date): Promise<Job[]> {
    const at = iso(now ?? this.connection.clock());
    return this.transaction(async (x) => {
      const linkIds = new Set<number>();
      for (const linkId of target.linkIds ?? [])
        linkIds.add((await this.parts.links.requireLink(x, linkId)).id);
      for (const jobId of target.jobIds ?? []) {
        const row = await first(
          x,
          this.db
            .selectFrom('jobs')
            .select('link_id')
            .where('tenant_id', '=', this.tenantId)
            .where('id', '=', jobId),
        );
        if (!row) throw notFound('Job', jobId);
        linkIds.add(row.link_id);
      }
      if (target.allFailed) {
        const rows = await x.all(
          this.db
            .selectFrom('jobs')
            .select('link_id')
            .distinct()
            .where('tenant_id', '=', this.tenantId)
            .where('state', 'in', ['failed', 'dead']),
        );
        for (const row of rows) linkIds.add(row.link_id);
      }
      const jobs: Job[] = [];
      for (const linkId of [...linkIds].sort((a, b) => a - b))
        jobs.push(toJob(await this.resubmitLink(x, linkId, at)));
      if (jobs.length > 0) await this.connection.driver.announceQueued(x, this.tenantId);
      return jobs;
    });
  }

  private async resubmitLink(x: Executor, linkId: number, at: string): Promise<JobRow> {
    const finished = await x.all(
      this.db
        .selectFrom('jobs')
        .selectAll()
        .where('link_id', '=', linkId)
        .where('state', 'in', ['failed', 'dead'])
        .orderBy('id', 'desc'),
    );
    const pending = await this.activeJobRow(x, linkId, 'pending');
    const revive = pending ?? finished[0];
    if (revive) checkTransition(revive.state, 'pending');
    const drop = finished.filter((row) => row.id !== revive?.id).map((row) => row.id);
    if (drop.length > 0) await x.run(this.db.deleteFrom('jobs').where('id', 'in', drop));
    if (!revive) return (await this.enqueueRow(x, linkId, 'resubmit', at)).row;
    return await one(
      x,
      this.db
        .updateTable('jobs')
        .set({
          state: 'pending',
          trigger: 'resubmit',
          attempts: 0,
          next_run_at: resubmitRunAt(pending, at),
          lease_owner: null,
          lease_expires_at: null,
          updated_at: at,
        })
        .where('id', '=', revive.id)
        .returningAll(),
    );
  }

  async getJob(jobId: number): Promise<Job | null> {
    const row = await this.first(
      this.db.selectFrom('jobs').selectAll().where('tenant_id', '=', this.tenantId).where('id', '=', jobId),
    );
    return row ? toJob(row) : null;
  }

  async jobCounts(): Promise<Record<JobState, number>> {
    const rows = await this.all(
      this.db
        .selectFrom('jobs')
        .select((eb) => ['state', eb.fn.countAll<number>().as('n')])
        .where('tenant_id', '=', this.tenantId)
        .groupBy('state'),
    );
    const counts: Record<JobState, number> = { pending: 0, running: 0, succeeded: 0, failed: 0, dead: 0 };
    for (const row of rows) counts[row.state as JobState] = Number(row.n);
    return counts;
  }

  async jobTimes(): Promise<{
    nextPendingAt: Date | null;
    running: { id: number; leaseExpiresAt: Date | null }[];
  }> {
    const next = await this.first(
      this.db
        .selectFrom('jobs')
        .select('next_run_at')
        .where('tenant_id', '=', this.tenantId)
        .where('state', '=', 'pending')
        .orderBy('next_run_at')
        .limit(1),
    );
    const running = await this.all(
      this.db
        .selectFrom('jobs')
        .select(['id', 'lease_expires_at'])
        .where('tenant_id', '=', this.tenantId)
        .where('state', '=', 'running'),
    );
    return {
      nextPendingAt: next ? new Date(next.next_run_at) : null,
      running: running.map((r) => ({
        id: r.id,
        leaseExpiresAt: r.lease_expires_at ? new Date(r.lease_expires_at) : null,
      })),
    };
  }

  async listJobs(filter: JobFilter = {}): Promise<Job[]> {
    let query = this.db.selectFrom('jobs').selectAll().where('tenant_id', '=', this.tenantId);
    if (filter.state !== undefined) {
      const states: readonly JobState[] = typeof filter.state === 'string' ? [filter.state] : filter.state;
      if (states.length === 0) return [];
      query = query.where('state', 'in', states);
    }
    if (filter.linkId !== undefined) query = query.where('link_id', '=', filter.linkId);
    if (filter.beforeId !== undefined) query = query.where('id', '<', filter.beforeId);
    return (await this.all(query.orderBy('id', 'desc').limit(clampLimit(filter.limit, 100, 10_000)))).map(
      toJob,
    );
  }

  async pruneJobs(olderThan: Date): Promise<number> {
    return this.transaction(
      async (x) =>
        await x.run(
          this.db
            .deleteFrom('jobs')
            .where('tenant_id', '=', this.tenantId)
            .where('state', '=', 'succeeded')
            .where('updated_at', '<', iso(olderThan)),
        ),
    );
  }
}
