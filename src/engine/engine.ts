// The sync engine (DESIGN.md §2 engine/, §3): intake -> store -> worker -> core -> adapters.
//
// Public API (the server, the CLI and the demo call only this):
//
//   engineSettingsSchema / EngineSettings     the `engine:` config section (zod, every key defaulted)
//   createEngine(deps: EngineDeps): Engine
//     deps: { store, referrals (ReferralsClient), crm (CrmAdapter), crmKind, settings, logger,
//             tenantId?, now?, workerId?, referralLinkFor?(referralId) }
//   engine.acceptWebhook(rawBody)   a signature-verified Partner Center event: on disk in the inbox and its
//                                   job queued when this resolves -> { duplicate }; the server answers 2xx after
//   engine.start() / engine.stop()  worker loop, adaptive CRM change-feed poller, reconcile sweep, re-check of
//                                   failed links; stop waits for running jobs (their leases expire otherwise)
//   engine.drain({ timeoutMs })     run everything due now and before the deadline (tests, `cosell backfill`)
//   engine.pollCrmOnce()            one change-feed poll -> hints queued
//   engine.reconcileOnce()          one reconcile sweep + re-check of failed links -> links queued
//   engine.resubmit(target)         R25: failed / dead work queued again -> jobs queued
//   engine.pruneOnce()              succeeded jobs and runs past the retention settings deleted
//   engine.events                   'run' (Run) after every recorded run
//   engine.pausedApis()             APIs paused by the credential / budget circuit, for health and doctor
//
// Orchestration is small and deterministic; all I/O is in the activities (sync-link.ts, intake.ts). One
// retry policy (src/lib/retry.ts) decides when a failed job runs again; the store's job state machine
// (pending -> running -> succeeded | failed | dead, leases, coalescing per link) keeps one job per link.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { formatAuditLine, type SyncDirection } from '../core/audit.ts';
import { type CrmAdapter, CrmError, type CrmKind } from '../crm/port.ts';
import { systemTimers, type TimerHandle, type Timers } from '../lib/timers.ts';
import { PartnerCenterError } from '../partner-center/errors.ts';
import type { ReferralsClient } from '../partner-center/referrals.ts';
import type { ClaimedJob, Link, ResubmitTarget, Run, RunInput, RunOutcome, Store } from '../store/store.ts';
import { type CallCounters, countCrmCalls, countReferralCalls, withCallCounters } from './api-calls.ts';
import { ApiHealth, type ApiHealthReport } from './api-health.ts';
import {
  type BackfillCounts,
  type BackfillScope,
  type BackfillSide,
  scanCrm,
  scanPartnerCenter,
} from './backfill.ts';
import { Circuits, hasChanges, mergeShared, type PausedApi, parseShared } from './circuits.ts';
import { type ApiName, classifyError, describeFailure, type ErrorVerdict, SyncRefusal } from './errors.ts';
import { warnExpiringReferrals } from './expiry.ts';
import type { AttemptState } from './failed-states.ts';
import { inspectLink, type LinkSides } from './inspect.ts';
import {
  dedupeKeyOf,
  type IntakeContext,
  nextPollInterval,
  parseWebhookEvent,
  pollCrmChanges,
  reconcileReferrals,
  requeueFailedLinks,
  routeInboxEvent,
  SeenChanges,
} from './intake.ts';
import { decideAfterFailure } from './job-decision.ts';
import { noteOwnWrites, OwnChanges } from './own-changes.ts';
import {
  holderGoneOnThisHost,
  leaseHolder,
  releaseLease,
  SCHEDULE_LEASE_CURSOR,
  takeLease,
} from './schedule-lease.ts';
import { type Schedule, Scheduler } from './scheduler.ts';
import type { EngineSettings } from './settings.ts';
import { type SyncContext, type SyncResult, syncLink } from './sync-link.ts';
import { TOKEN_RENEWED_CURSOR } from './token-renewal.ts';

export {
  type EngineSettings,
  type EngineSettingsInput,
  engineSettingsSchema,
  parseEngineSettings,
} from './settings.ts';
export type { ResubmitTarget };

export interface EngineDeps {
  tenantId?: string;
  store: Store;
  referrals: ReferralsClient;
  crm: CrmAdapter;
  crmKind: CrmKind;
  settings: EngineSettings;
  logger: Logger;
  /** The clock, timers and randomness the engine schedules, retries and leases with (tests skip time). */
  now?: () => Date;
  timers?: Timers;
  random?: () => number;
  workerId?: string;
  /** The Partner Center page of a referral, written to the CRM's Referral Link field. */
  referralLinkFor?: (referralId: string) => string;
  /** R3: redeems the Partner Center refresh token now (a new one comes back), so an idle service keeps its
   *  sign-in past Entra's 90-day inactivity limit. Absent: no renewal schedule. */
  renewCredentials?: () => Promise<void>;
}

export interface Engine {
  /** Intake of a Partner Center webhook whose signature the server already verified: stored durably in the
   *  inbox and a job enqueued before it resolves (the server answers 2xx after). */
  acceptWebhook(rawBody: string): Promise<{ duplicate: boolean }>;
  start(): Promise<void>;
  stop(): Promise<void>;
  drain(options?: { timeoutMs?: number }): Promise<void>;
  pollCrmOnce(): Promise<number>;
  reconcileOnce(): Promise<number>;
  resubmit(target: ResubmitTarget): Promise<number>;
  /** Deletes succeeded jobs and runs older than the retention settings; returns how many of each. */
  pruneOnce(): Promise<{ jobs: number; runs: number }>;
  /** R30: one pass of the expiry warnings; returns how many records were warned. */
  warnExpiringOnce(): Promise<number>;
  /** APIs whose work is paused (expired credentials, used-up budget, long throttling) and until when. */
  pausedApis(): { api: ApiName; until: Date; reason: string; fix: string }[];
  /** R27: API calls made today (UTC, every call cosell made) against each daily budget. */
  apiUsage(): { api: ApiName; usedToday: number; limit: number | null }[];
  /** Shares pauses and the day's calls with the tenant's other processes (the workers do it as they claim; a
   *  web process that runs no worker calls it to show what they see). */
  shareCircuits(force?: boolean): Promise<void>;
  /** What each API's calls said lately: calls by how they ended, last success, last failure, reachable. */
  apiHealth(): ApiHealthReport[];
  /** Both sides of a link as they are now, read live (the dashboard's record detail); null: no such link. */
  inspect(linkId: number): Promise<LinkSides | null>;
  /** R3: one renewal of the Partner Center refresh token; false when Entra refused it (the API is paused and
   *  `cosell login` is named, as for any refused credentials). */
  renewCredentialsOnce(): Promise<boolean>;
  /** R34: lists one side for the first import and queues what is in scope. */
  scanForBackfill(
    side: BackfillSide,
    scope: BackfillScope,
    onPage?: (counts: BackfillCounts) => void,
  ): Promise<BackfillCounts>;
  readonly events: EventEmitter;
}

/** Partner Center's referral page (the deep-link format is not documented; deployments can override it). */
export const DEFAULT_REFERRAL_LINK = (referralId: string) =>
  `https://partner.microsoft.com/dashboard/referrals/v2/${encodeURIComponent(referralId)}`;

export function createEngine(deps: EngineDeps): Engine {
  return new SyncEngine(deps);
}

/** The snapshot error rule of a failure whose ✖ and audit line could not be written to the CRM. */
const FAILURE_NOT_SHOWN = 'failureNotShown';

/** A 412 means Partner Center changed between our read and our write, a stale CRM error the same of the CRM
 *  record (a lead converted meanwhile): read both sides again, re-merge. */
const MAX_PRECONDITION_RERUNS = 3;

class SyncEngine implements Engine {
  readonly events = new EventEmitter();
  private readonly store: Store;
  private readonly settings: EngineSettings;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly scheduler: Scheduler;
  private readonly workerId: string;
  private readonly sync: SyncContext;
  private readonly intake: IntakeContext;
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly circuits: Circuits;
  private readonly health: ApiHealth;
  private readonly seenChanges = new SeenChanges();
  private running = false;
  private workerTimer: TimerHandle | null = null;
  private workerBusy = false;
  private wakeRequested = false;
  private stopWatching: (() => void) | null = null;
  private ticking: Promise<number> | null = null;
  private inboxRun: Promise<void> | null = null;
  private pollIntervalMs: number;
  private readonly renewCredentials: (() => Promise<void>) | null;
  private readonly ownChanges = new OwnChanges();
  /** When the circuits were last shared with the store (engine clock, ms). */
  private sharedAt = Number.NEGATIVE_INFINITY;
  private sharing: Promise<void> | null = null;

  constructor(deps: EngineDeps) {
    this.store =
      deps.tenantId && deps.tenantId !== deps.store.tenantId
        ? deps.store.forTenant(deps.tenantId)
        : deps.store;
    this.settings = deps.settings;
    this.logger = deps.logger;
    this.now = deps.now ?? (() => new Date());
    this.timers = deps.timers ?? systemTimers;
    this.random = deps.random ?? Math.random;
    this.scheduler = new Scheduler(this.timers);
    this.workerId = deps.workerId ?? `${hostname()}:${process.pid}:${this.random().toString(36).slice(2, 8)}`;
    this.renewCredentials = deps.renewCredentials ?? null;
    this.circuits = new Circuits(deps.settings, this.now, deps.logger);
    this.health = new ApiHealth(this.now);
    const referrals = noteOwnWrites(
      countReferralCalls(
        deps.referrals,
        (n) => this.circuits.spend('partner-center', n),
        (n, error) => this.health.record('partner-center', n, error),
      ),
      this.ownChanges,
    );
    const crm = countCrmCalls(
      deps.crm,
      deps.crmKind,
      (n) => this.circuits.spend('crm', n),
      (n, error) => this.health.record('crm', n, error),
    );
    this.sync = {
      store: this.store,
      referrals,
      crm,
      crmKind: deps.crmKind,
      settings: deps.settings,
      now: this.now,
      referralLinkFor: deps.referralLinkFor ?? DEFAULT_REFERRAL_LINK,
    };
    this.intake = {
      store: this.store,
      referrals,
      crm,
      crmKind: deps.crmKind,
      settings: deps.settings,
      logger: deps.logger,
      now: this.now,
      ownChanges: this.ownChanges,
    };
    this.pollIntervalMs = deps.settings.crmPoll.minIntervalMs;
  }

  // ---- intake --------------------------------------------------------------------------------------------

  async acceptWebhook(rawBody: string): Promise<{ duplicate: boolean }> {
    let dedupeKey: string;
    try {
      dedupeKey = dedupeKeyOf(parseWebhookEvent(rawBody));
    } catch {
      // Signed by Partner Center but unreadable to us: keep it for the record; routing marks it processed.
      dedupeKey = `raw|${createHash('sha256').update(rawBody).digest('hex')}`;
    }
    const { event, duplicate } = await this.store.acceptInbox({
      source: 'partner-center-webhook',
      dedupeKey,
      payload: rawBody,
      receivedAt: this.now(),
    });
    if (!duplicate) {
      try {
        await routeInboxEvent(this.intake, event, false);
      } catch (error) {
        // The event is on disk: the worker routes it again; the sender still gets its 2xx.
        this.logger.warn({
          event: 'inbox-route-deferred',
          inboxId: event.id,
          reason: (error as Error).message,
        });
      }
      this.wake();
    }
    return { duplicate };
  }

  /** Events still in the inbox: related-referral events needing a look-up, and any left by a crash. */
  private processInbox(): Promise<void> {
    if (this.inboxRun) return this.inboxRun;
    this.inboxRun = (async () => {
      try {
        if (this.isPaused('partner-center')) return;
        for (const event of await this.store.unprocessedInbox(100)) {
          try {
            await routeInboxEvent(this.intake, event, true);
          } catch (error) {
            if (error instanceof PartnerCenterError && error.status === 404) {
              this.logger.warn({ event: 'inbox-referral-missing', inboxId: event.id });
              await this.store.markInboxProcessed(event.id, this.now());
              continue;
            }
            this.pauseIfNeeded(classifyError(error));
            this.logger.warn({
              event: 'inbox-route-failed',
              inboxId: event.id,
              reason: (error as Error).message,
            });
            return;
          }
        }
      } finally {
        this.inboxRun = null;
      }
    })();
    return this.inboxRun;
  }

  async pollCrmOnce(): Promise<number> {
    if (this.isPaused('crm')) return 0;
    const queued = await pollCrmChanges(this.intake, this.seenChanges);
    if (queued > 0) this.wake();
    return queued;
  }

  async reconcileOnce(): Promise<number> {
    let queued = 0;
    if (!this.isPaused('partner-center')) queued += await reconcileReferrals(this.intake);
    queued += await requeueFailedLinks(this.intake);
    if (queued > 0) this.wake();
    return queued;
  }

  /** R30: warns on the records of incoming referrals close to expiring. */
  async warnExpiringOnce(): Promise<number> {
    if (this.isPaused('crm')) return 0;
    return warnExpiringReferrals({
      store: this.store,
      crm: this.sync.crm,
      settings: this.settings,
      logger: this.logger,
      now: this.now,
    });
  }

  async pruneOnce(): Promise<{ jobs: number; runs: number }> {
    const now = this.now().getTime();
    const { succeededJobsMs, runsMs } = this.settings.retention;
    const jobs = await this.store.pruneJobs(new Date(now - succeededJobsMs));
    const runs = await this.store.pruneRuns(new Date(now - runsMs));
    if (jobs + runs > 0) this.logger.info({ event: 'pruned', jobs, runs });
    const { personalDataMs } = this.settings.retention;
    if (personalDataMs !== null) {
      const purged = await this.store.purgePersonalData(new Date(now - personalDataMs));
      if (purged.snapshots + purged.runs + purged.inboxEvents > 0)
        this.logger.info({ event: 'personal-data-purged', ...purged });
    }
    return { jobs, runs };
  }

  async resubmit(target: ResubmitTarget): Promise<number> {
    const jobs = await this.store.resubmit(target, this.now());
    if (jobs.length > 0) this.wake();
    return jobs.length;
  }

  async renewCredentialsOnce(): Promise<boolean> {
    if (!this.renewCredentials) return true;
    try {
      await this.renewCredentials();
      await this.store.setCursor(TOKEN_RENEWED_CURSOR, this.now().toISOString());
      this.logger.info({ event: 'token-renewed', api: 'partner-center' });
      return true;
    } catch (error) {
      const verdict = classifyError(error);
      if (verdict.kind === 'pause') this.pauseIfNeeded(verdict);
      this.logger.warn({
        event: 'token-renewal-failed',
        reason: (error as Error).message,
        fix: (error as { fix?: string }).fix,
      });
      return false;
    }
  }

  /** R34: lists one side for the first import and queues what is in scope (see backfill.ts). */
  async scanForBackfill(
    side: BackfillSide,
    scope: BackfillScope,
    onPage?: (counts: BackfillCounts) => void,
  ): Promise<BackfillCounts> {
    const counts =
      side === 'partner-center'
        ? await scanPartnerCenter(this.intake, scope, onPage)
        : await scanCrm(this.intake, scope, onPage);
    if (counts.queuedLinkIds.length > 0) this.wake();
    return counts;
  }

  // ---- loops ---------------------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.shareCircuits(true);
    this.logger.info({ event: 'engine-started', workerId: this.workerId, dryRun: this.settings.dryRun });
    this.scheduleWorker(0);
    // Another process (a web process taking webhooks, the CLI) queued work: claim it now, not at the next poll.
    this.stopWatching = this.store.watchQueued(() => this.wake());
    this.scheduler.start(this.schedules());
  }

  /** The recurring work, as data: name, first delay, one run returning the delay to the next (R26, R3, R30, R33). */
  private schedules(): Schedule[] {
    const s = this.settings;
    const onError = (name: string, retryMs: number) => (error: unknown) => {
      this.pauseIfNeeded(classifyError(error));
      this.logger.warn({ event: `${name}-failed`, reason: (error as Error).message });
      return retryMs;
    };
    // One process of the tenant runs the recurring work (schedule-lease.ts); the others look again within half a
    // lease, so the work moves on when its holder stops or dies.
    const schedule = (name: string, firstDelayMs: number, run: () => Promise<number>, retryMs?: number) => ({
      name,
      firstDelayMs,
      run: async () => ((await this.holdsScheduleLease()) ? await run() : s.worker.leaseMs / 2),
      onError: onError(name, retryMs ?? s.worker.pollIntervalMs * 5),
    });
    return [
      schedule(
        'crm-poll',
        0,
        async () => {
          const queued = await this.pollCrmOnce();
          this.pollIntervalMs = nextPollInterval(this.pollIntervalMs, queued, s.crmPoll);
          return this.pollIntervalMs;
        },
        s.crmPoll.maxIntervalMs,
      ),
      // A sweep at start catches up on whatever happened while cosell was down (R26).
      schedule('reconcile', 0, async () => {
        if (!this.isPaused('partner-center')) await reconcileReferrals(this.intake);
        return s.reconcile.intervalMs;
      }),
      ...(this.renewCredentials
        ? [
            schedule('token-renewal', 0, async () => {
              await this.renewCredentialsOnce();
              return s.tokenRenewEveryMs;
            }),
          ]
        : []),
      schedule('retention', 0, async () => {
        await this.pruneOnce();
        return s.retention.everyMs;
      }),
      schedule('expiry-warnings', 0, async () => {
        await this.warnExpiringOnce();
        return s.expiry.checkEveryMs;
      }),
      schedule('revalidate', s.revalidateFailedEveryMs, async () => {
        await requeueFailedLinks(this.intake);
        return s.revalidateFailedEveryMs;
      }),
    ];
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopWatching?.();
    this.stopWatching = null;
    this.scheduler.stop();
    this.timers.clearTimeout(this.workerTimer);
    this.workerTimer = null;
    // Running jobs finish (each is one sync); a job stuck beyond its lease is taken over by another worker. The
    // wait is wall-clock on purpose: a stop must end even when a test holds the engine's clock still.
    const deadline = new Promise((resolve) => setTimeout(resolve, this.settings.worker.leaseMs).unref());
    await Promise.race([Promise.allSettled([...this.inFlight.values()]), deadline]);
    // The day's count survives the restart; a store that no longer answers does not hold up the stop.
    await Promise.race([this.shareCircuits(true).catch(() => {}), deadline]);
    // Another process (or the next start) takes the recurring work over now, not when the lease runs out.
    await Promise.race([this.releaseScheduleLease().catch(() => {}), deadline]);
    this.logger.info({ event: 'engine-stopped', workerId: this.workerId });
  }

  async drain(options: { timeoutMs?: number } = {}): Promise<void> {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    for (;;) {
      await this.processInbox();
      const claimed = await this.tick();
      if (this.inFlight.size > 0) {
        await Promise.race(this.inFlight.values());
        continue;
      }
      if (claimed > 0) continue;
      const next = await this.nextDueAt();
      const wait = next === null ? null : next - this.now().getTime();
      if (wait === null || Date.now() + wait > deadline) return;
      // Wall-clock waiting for a job due on the engine's clock (drain is for one-off commands and tests).
      await new Promise((resolve) => setTimeout(resolve, Math.max(5, Math.min(wait, deadline - Date.now()))));
      if (Date.now() > deadline) return;
    }
  }

  pausedApis(): PausedApi[] {
    return this.circuits.paused();
  }

  apiUsage(): { api: ApiName; usedToday: number; limit: number | null }[] {
    return this.circuits.usage();
  }

  apiHealth(): ApiHealthReport[] {
    return this.health.report();
  }

  async inspect(linkId: number): Promise<LinkSides | null> {
    const link = await this.store.getLink(linkId);
    return link ? inspectLink(this.sync, link) : null;
  }

  /** When the next job becomes due (a pending job's run time, or a crashed worker's lease end), if any. */
  private async nextDueAt(): Promise<number | null> {
    const { nextPendingAt, running } = await this.store.jobTimes();
    let next = nextPendingAt?.getTime() ?? null;
    for (const job of running) {
      if (this.inFlight.has(job.id) || !job.leaseExpiresAt) continue;
      const at = job.leaseExpiresAt.getTime();
      next = next === null ? at : Math.min(next, at);
    }
    const resume = Math.max(0, ...this.pausedApis().map((p) => p.until.getTime()));
    return next === null ? null : Math.max(next, resume);
  }

  /** Look for work now (a webhook arrived, a job finished). */
  private wake(): void {
    if (!this.running) return;
    if (this.workerBusy) this.wakeRequested = true;
    else this.scheduleWorker(0);
  }

  private scheduleWorker(delayMs: number): void {
    if (!this.running) return;
    this.timers.clearTimeout(this.workerTimer);
    this.workerTimer = this.timers.setTimeout(() => void this.workerLoop(), delayMs);
  }

  /** One worker pass, repeated while wake-ups arrived during it; then the idle poll interval. */
  private async workerLoop(): Promise<void> {
    this.workerTimer = null;
    if (this.workerBusy) {
      this.wakeRequested = true;
      return;
    }
    this.workerBusy = true;
    try {
      do {
        this.wakeRequested = false;
        await this.tick();
      } while (this.wakeRequested && this.running);
    } catch (error) {
      this.pauseIfNeeded(classifyError(error));
      this.logger.warn({ event: 'worker-failed', reason: (error as Error).message });
    } finally {
      this.workerBusy = false;
    }
    this.scheduleWorker(this.settings.worker.pollIntervalMs);
  }

  // ---- worker --------------------------------------------------------------------------------------------

  /** Claims what the free slots allow and starts it; returns how many jobs were claimed. */
  private async tick(): Promise<number> {
    while (this.ticking) await this.ticking;
    this.ticking = (async () => {
      await this.shareCircuits();
      if (!(await this.circuitsClosed())) return 0;
      await this.processInbox();
      const free = this.settings.worker.concurrency - this.inFlight.size;
      if (free <= 0) return 0;
      const jobs = await this.store.claimJobs(this.workerId, this.now(), free, this.settings.worker.leaseMs, {
        maxRunning: this.settings.worker.maxRunning,
      });
      for (const job of jobs) {
        const done = this.runJob(job)
          .catch((error: unknown) => {
            this.logger.error({ event: 'job-crashed', jobId: job.id, reason: (error as Error).message });
          })
          .finally(() => {
            this.inFlight.delete(job.id);
            this.wake();
          });
        this.inFlight.set(job.id, done);
      }
      return jobs.length;
    })();
    try {
      return await this.ticking;
    } finally {
      this.ticking = null;
    }
  }

  private async runJob(job: ClaimedJob): Promise<void> {
    const startedAt = this.now();
    const t0 = performance.now();
    const calls: CallCounters = {};
    const leaseMs = this.settings.worker.leaseMs;
    const keepLease = this.timers.setInterval(
      () => {
        void this.store.extendLease(job, this.now(), leaseMs).catch(() => {});
      },
      Math.max(1_000, Math.floor(leaseMs / 3)),
    );
    let run: Omit<RunInput, 'durationMs' | 'apiCalls'>;
    try {
      run = await withCallCounters(calls, () => this.attempt(job, startedAt));
    } finally {
      this.timers.clearInterval(keepLease);
    }
    const input: RunInput = { ...run, apiCalls: calls, durationMs: Math.round(performance.now() - t0) };
    let recorded: Run;
    try {
      recorded = await this.store.recordRun(input);
    } catch {
      // The link was merged away while the job ran: keep the history without it.
      recorded = await this.store.recordRun({ ...input, linkId: null });
    }
    this.events.emit('run', recorded);
  }

  /** One sync attempt of a job and what the job becomes; returns the run to record. */
  private async attempt(
    job: ClaimedJob,
    startedAt: Date,
  ): Promise<Omit<RunInput, 'durationMs' | 'apiCalls'>> {
    const base = { jobId: job.id, trigger: job.trigger, startedAt };
    let link = await this.store.getLink(job.linkId);
    if (!link) {
      await this.store.completeJob(job);
      return {
        ...base,
        linkId: null,
        referralId: null,
        crmId: null,
        outcome: 'skipped',
        direction: 'none',
        error: null,
        diff: [],
      };
    }
    const seen: AttemptState = {};
    try {
      const result = await this.syncWithRereads(link, job, seen);
      await this.store.completeJob(job);
      this.circuits.succeeded();
      const entry = {
        event: 'sync',
        ...this.logIds(result.link, seen),
        outcome: result.outcome,
        direction: result.direction,
        msg: result.note ?? describeOutcome(result),
      };
      const notice = result.ignored ?? result.problem;
      if (notice) this.logger.warn({ ...entry, msg: notice.message, fix: notice.fix });
      else this.logger.info(entry);
      return {
        ...base,
        ...runIds(result.link),
        ...labelOf(seen),
        outcome: result.outcome,
        direction: result.direction,
        error: result.ignored ?? result.problem ?? null,
        diff: result.diff,
      };
    } catch (error) {
      link = (await this.store.getLink(job.linkId)) ?? link;
      const verdict = classifyError(error);
      const failure = describeFailure(error);
      const error_ = { message: failure.message, fix: failure.fix };
      const ids = runIds(link);
      const log = {
        ...this.logIds(link, seen),
        jobId: job.id,
        attempts: job.attempts,
        msg: failure.message,
        ...(failure.fix ? { fix: failure.fix } : {}),
      };
      const decision = decideAfterFailure({
        verdict,
        attempts: job.attempts,
        policy: this.settings.retry,
        now: this.now(),
        random: this.random,
      });
      let outcome: RunOutcome;
      if (decision.kind === 'pause' && verdict.kind === 'pause') {
        // Credentials and budgets are a circuit, not a retry: no dead letter, no ✖ on every record.
        const until = this.pauseIfNeeded(verdict);
        await this.store.retryJob(job, new Date(until), failure.message, { refundAttempt: true });
        this.logger.warn({
          ...log,
          event: 'sync-paused',
          outcome: 'paused',
          api: verdict.api,
          reason: verdict.reason,
        });
        outcome = 'skipped';
      } else if (decision.kind === 'retry') {
        // Shown while the job is still ours: once rescheduled, the retry could read the record before this line
        // lands and write its own audit append over it.
        await this.showRetrying(link, error, decision.at);
        await this.store.retryJob(job, decision.at, failure.message);
        this.logger.warn({ ...log, event: 'sync-retry', outcome: 'retrying', delayMs: decision.delayMs });
        outcome = 'failed';
      } else {
        const dead = decision.kind === 'dead-letter';
        await this.showFailure(link, error, verdict, seen);
        if (dead) await this.store.deadLetterJob(job, failure.message);
        else await this.store.failJob(job, failure.message);
        this.logger.warn({
          ...log,
          event: dead ? 'sync-dead-lettered' : 'sync-failed',
          outcome: dead ? 'dead' : 'failed',
        });
        outcome = dead ? 'dead' : 'failed';
      }
      return { ...base, ...ids, ...labelOf(seen), outcome, direction: 'none', error: error_, diff: [] };
    }
  }

  private async syncWithRereads(link: Link, job: ClaimedJob, seen: AttemptState): Promise<SyncResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await syncLink(this.sync, link, job.trigger, seen);
      } catch (error) {
        const reread =
          (error instanceof PartnerCenterError && error.status === 412) ||
          (error instanceof CrmError && error.stale);
        if (!reread || attempt >= MAX_PRECONDITION_RERUNS) throw error;
        // Not a failure, but an operator asking why a record took two passes finds the race here.
        this.logger.info({
          ...this.logIds(link, seen),
          event: 'sync-reread',
          msg:
            error instanceof PartnerCenterError
              ? 'Partner Center: the referral changed while cosell wrote it (HTTP 412): read again and recomputed'
              : 'CRM: the record changed while cosell wrote it: read again and recomputed',
        });
        link = (await this.store.getLink(link.id)) ?? link;
        seen.readReferral = true;
      }
    }
  }

  /**
   * After the first failed attempt, one audit line says the sync is being retried (no ✖ yet: that comes
   * only if the retries run out), so the record never shows a silent ✔ while its change waits. Its echo through
   * the change feed does not pull the retry forward (the store keeps a pending retry's time). Best effort.
   */
  private async showRetrying(link: Link, error: unknown, nextAt: Date): Promise<void> {
    if (!link.crmId || this.settings.dryRun) return;
    const failure = describeFailure(error);
    try {
      const context = error instanceof SyncRefusal ? error.context : {};
      const deal = context.deal ?? (await this.sync.crm.findDeal({ kind: link.dealKind, id: link.crmId }));
      // Said once per failing spell: the record's last line already says it (a claim refunded by a pause can
      // make the first real failure any attempt, so the count cannot tell).
      if (!deal || lastAuditLine(deal.audit).includes(RETRYING)) return;
      const at = nextAt.toISOString().slice(11, 19);
      await this.sync.crm.updateDeal(
        deal,
        {},
        {
          auditLine: formatAuditLine({
            now: this.now(),
            direction: context.direction ?? failedDirection(error, link),
            changes: [
              `${RETRYING} (next try ${at} UTC, up to ${this.settings.retry.maxAttempts} attempts): ${failure.message}`,
            ],
          }),
        },
      );
    } catch (writeError) {
      this.logger.warn({
        event: 'retrying-not-shown',
        linkId: link.id,
        reason: (writeError as Error).message,
      });
    }
  }

  /**
   * ✖ and one audit line naming the problem and its fix, in one CRM update — only when the error state
   * changed, so a failure that repeats writes nothing (R19, R20). Best effort: the run keeps the error anyway.
   */
  private async showFailure(
    link: Link,
    error: unknown,
    verdict: ErrorVerdict,
    seen: AttemptState,
  ): Promise<void> {
    const failure = describeFailure(error);
    const rule = verdict.kind === 'fail' ? (verdict.rule ?? 'error') : 'retries-exhausted';
    try {
      const snapshot = await this.store.getSnapshot(link.id);
      const digest = seen.seen?.digest ?? null;
      if (this.settings.dryRun) return;
      if (snapshot?.error?.message === failure.message && snapshot.error.rule === rule) {
        // Shown already: only where both sides stand now is new (so this failure's echo is recognised too).
        if (snapshot.error.digest !== digest) {
          await this.store.saveSnapshot(link.id, { error: { ...snapshot.error, digest } });
        }
        return;
      }
      const context = error instanceof SyncRefusal ? error.context : {};
      if (link.crmId && !(verdict.kind === 'pause' && verdict.api === 'crm')) {
        const deal = context.deal ?? (await this.sync.crm.findDeal({ kind: link.dealKind, id: link.crmId }));
        if (deal) {
          await this.sync.crm.updateDeal(
            deal,
            {},
            {
              auditLine: formatAuditLine({
                now: this.now(),
                direction: context.direction ?? failedDirection(error, link),
                error: { message: failure.message, ...(failure.fix ? { fix: failure.fix } : {}) },
              }),
              ...(this.settings.displayCheckMark ? { mark: 'error' as const } : {}),
            },
          );
        }
      }
      // A new referral with no CRM record yet: which version failed, so the sweep leaves it until it changes.
      const version =
        !link.crmId && seen.referralUpdatedAt !== undefined
          ? { referralUpdatedAt: seen.referralUpdatedAt }
          : {};
      await this.store.saveSnapshot(link.id, {
        error: { rule, message: failure.message, digest },
        ...version,
      });
    } catch (writeError) {
      this.logger.warn({
        event: 'failure-not-shown',
        linkId: link.id,
        reason: (writeError as Error).message,
      });
      // Still remembered as failed, so the periodic re-check tries the link again (a CRM outage that swallowed
      // the write-back of a new referral heals by itself); the rule differs, so the ✖ is written next time.
      await this.store
        .saveSnapshot(link.id, { error: { rule: FAILURE_NOT_SHOWN, message: failure.message } })
        .catch(() => {});
    }
  }

  // ---- budgets (R27) -------------------------------------------------------------------------------------

  /**
   * Shares the circuits with the other processes of the tenant (circuits.ts): this process's calls and pauses go
   * into the stored row, theirs come back. At once when a pause opened or closed here, else at most once a
   * second: a read per second per worker, a write only when something changed.
   */
  async shareCircuits(force = false): Promise<void> {
    while (this.sharing) await this.sharing;
    const now = this.now().getTime();
    const changes = this.circuits.takeChanges();
    const urgent = Object.keys(changes.opened).length > 0 || Object.keys(changes.closed).length > 0;
    if (!force && !urgent && now - this.sharedAt < SHARE_CIRCUITS_EVERY_MS) {
      this.circuits.giveBack(changes);
      return;
    }
    this.sharedAt = now;
    this.sharing = (async () => {
      try {
        const stored = hasChanges(changes)
          ? await this.store.updateCursor(CIRCUITS_CURSOR, (current) =>
              JSON.stringify(mergeShared(parseShared(current), changes)),
            )
          : await this.store.getCursor(CIRCUITS_CURSOR);
        this.circuits.adopt(parseShared(stored));
      } catch (error) {
        this.circuits.giveBack(changes);
        throw error;
      }
    })();
    try {
      await this.sharing;
    } finally {
      this.sharing = null;
    }
  }

  private async releaseScheduleLease(): Promise<void> {
    await this.store.updateCursor(SCHEDULE_LEASE_CURSOR, (current) => releaseLease(current, this.workerId));
  }

  /** True while this process holds (or just took) the tenant's lease on the recurring work. */
  private async holdsScheduleLease(): Promise<boolean> {
    const stored = await this.store.updateCursor(SCHEDULE_LEASE_CURSOR, (current) =>
      takeLease(
        current,
        this.workerId,
        this.now().getTime(),
        this.settings.worker.leaseMs,
        holderGoneOnThisHost,
      ),
    );
    return leaseHolder(stored) === this.workerId;
  }

  // ---- circuits ------------------------------------------------------------------------------------------

  /**
   * False while an API is paused. When a credentials pause runs out, one cheap read probes the API before any
   * job is claimed: a claim counts an attempt, so probing with jobs used up their retries while nobody could
   * sign in, and the first transient error after `cosell login` dead-lettered them.
   */
  private async circuitsClosed(): Promise<boolean> {
    if (this.circuits.anyRunning()) return false;
    for (const pause of this.circuits.expired()) {
      if (pause.reason !== 'credentials') continue;
      try {
        await this.probe(pause.api);
        this.circuits.close(pause.api);
        this.logger.info({ event: 'api-resumed', api: pause.api });
      } catch (error) {
        const verdict = classifyError(error);
        this.circuits.pause(
          verdict.kind === 'pause'
            ? verdict
            : { kind: 'pause', api: pause.api, reason: 'credentials', fix: pause.fix },
        );
        this.logger.warn({ event: 'api-probe-refused', api: pause.api, reason: (error as Error).message });
        return false;
      }
    }
    return true;
  }

  /** One read that needs the API's credentials and changes nothing (no cursor moves). */
  private async probe(api: ApiName): Promise<void> {
    if (api === 'partner-center') {
      for await (const _page of this.sync.referrals.listPages({ top: 1 })) break;
    } else {
      await this.sync.crm.probe();
    }
  }

  private isPaused(api: ApiName): boolean {
    return this.circuits.isPaused(api);
  }

  /** What an operator searches sync log lines by: the referral, the CRM record and its name (not our link id). */
  private logIds(link: Link, seen: AttemptState) {
    return {
      referralId: link.referralId,
      crm: this.sync.crmKind,
      crmId: link.crmId,
      ...(seen.name ? { name: seen.name } : {}),
      linkId: link.id,
    };
  }

  private pauseIfNeeded(verdict: ErrorVerdict): number {
    return this.circuits.pause(verdict);
  }
}

const RETRYING = 'not synced yet, retrying';

/** The tenant's shared circuits (pauses, the day's calls): one row every process of the tenant reads. */
const CIRCUITS_CURSOR = 'circuits';
const SHARE_CIRCUITS_EVERY_MS = 1_000;

function lastAuditLine(audit: string | null | undefined): string {
  return audit?.trimEnd().split('\n').at(-1) ?? '';
}

/** The way the failed change was going: a refused Partner Center write was the CRM's change going to Partner
 *  Center, whatever the link's origin; otherwise a link that began as a referral syncs mostly the other way. */
function failedDirection(error: unknown, link: Link): SyncDirection {
  if (error instanceof PartnerCenterError && error.method !== 'GET') return 'CRM->PC';
  return link.referralId ? 'PC->CRM' : 'CRM->PC';
}

/** 'created/updated …' for a sync log line whose result carries no note. */
function describeOutcome(result: SyncResult): string {
  if (result.outcome === 'unchanged') return 'nothing to change';
  // Fields a create leaves empty are not news.
  const fields = result.diff
    .filter(
      (d) => d.after !== null && d.after !== undefined && !(Array.isArray(d.after) && d.after.length === 0),
    )
    .map((d) => d.field);
  const where = { toReferral: 'Partner Center', toCrm: 'the CRM', both: 'both sides', none: 'neither side' }[
    result.direction
  ];
  return fields.length > 0 ? `${fields.join(', ')} written to ${where}` : `written to ${where}`;
}

function runIds(link: Link): Pick<RunInput, 'linkId' | 'referralId' | 'crmId'> {
  return { linkId: link.id, referralId: link.referralId, crmId: link.crmId };
}

/** What the attempt read of the record's name and customer, for the records list (kept when unknown). */
function labelOf(seen: AttemptState): { name?: string; customer?: string } {
  return { ...(seen.name ? { name: seen.name } : {}), ...(seen.customer ? { customer: seen.customer } : {}) };
}
