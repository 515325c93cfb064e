// The store port (DESIGN.md §2 store/, §3): links, snapshots, inbox, jobs, create-intents, runs, cursors and
// secrets, behind one interface. SQLite implements it today (sqlite.ts); PostgreSQL implements the same
// interface later, so nothing here may assume one process or one connection: every operation that decides
// something from what it reads (find-or-create, merge, claim, coalesce) is one atomic call.
//
// Tenancy: a Store is bound to one tenant (`tenantId`); every row it reads or writes carries that tenant,
// and ids of another tenant's rows are "not found". `forTenant(id)` returns a Store for another tenant on
// the same connection, so one deployment can serve many partner tenants (DESIGN.md §2).
import type { DealKind } from '../core/deal.ts';
import type { FieldChange } from '../core/diff.ts';
import type { CanonicalValue, FieldOwner, Values } from '../core/mapping.ts';
import type { Referral } from '../core/referral.ts';
import type { CrmKind } from '../crm/port.ts';

export type { CrmKind, DealKind, Values };

export const DEFAULT_TENANT = 'default';

// ---- links ---------------------------------------------------------------------------------------------

/** 'unshared': the seller un-ticked Sync with Partner Center (R31, link kept); 'orphaned': the CRM record
 *  was deleted (referrals cannot be deleted, so the link stays for the dashboard). */
export type LinkState = 'active' | 'unshared' | 'orphaned';

/** One synced pair: a Partner Center referral and a CRM deal (DESIGN.md §3 "One link, one key"). */
export interface Link {
  id: number;
  tenantId: string;
  /** Null until the referral exists (a CRM deal seen first). */
  referralId: string | null;
  engagementId: string | null;
  crmKind: CrmKind;
  /** Null until the CRM record exists (a referral seen first). */
  crmId: string | null;
  dealKind: DealKind;
  state: LinkState;
  createdAt: Date;
  updatedAt: Date;
}

export interface LinkResult {
  link: Link;
  /** True when this call created the link. */
  created: boolean;
}

// ---- snapshots -----------------------------------------------------------------------------------------

export interface SnapshotError {
  /** The validation rule or error code that failed (e.g. 'coSellNeedsContact'); null for an API failure. */
  rule: string | null;
  message: string;
  /** Where both sides were when the sync failed for good (engine/failed-states.ts): a change-feed hint that finds
   *  them so again is the echo of the failure's own ✖ write, and is not tried again — also after a restart. */
  digest?: string | null;
}

/** The last-synced state of a link: the base of the 3-way diff and of echo suppression. */
export interface Snapshot {
  linkId: number;
  /** Normalised mapped values both sides agreed on at the last sync; null before the first success. */
  values: Values | null;
  referralETag: string | null;
  /** Partner Center `updatedDateTime`, exactly as received. */
  referralUpdatedAt: string | null;
  /** The CRM's version stamp (Salesforce SystemModstamp, Dataverse versionnumber). */
  crmVersion: string | null;
  /** The error state shown by ✖ and the audit line; null when the last sync succeeded (R19, R20). */
  error: SnapshotError | null;
  /** The referral as the last sync saw it, matching `referralETag`; null when unknown (then it is read). */
  referral: Referral | null;
  updatedAt: Date;
}

/** Keys left out keep their stored value, so the error state can change without touching the values. */
export type SnapshotUpdate = Partial<Omit<Snapshot, 'linkId' | 'updatedAt'>>;

// ---- inbox ---------------------------------------------------------------------------------------------

export type InboxSource = 'partner-center-webhook' | 'crm-poll' | 'reconcile' | 'manual';

export interface InboxEventInput {
  source: InboxSource;
  /** Same key, same event: a redelivered webhook (at-least-once, up to 10 tries) is stored once. */
  dedupeKey: string;
  /** The raw body as received. */
  payload: string;
  receivedAt?: Date;
}

export interface InboxEvent {
  id: number;
  source: InboxSource;
  dedupeKey: string;
  payload: string;
  receivedAt: Date;
  processedAt: Date | null;
}

// ---- jobs ----------------------------------------------------------------------------------------------

export type JobState = 'pending' | 'running' | 'succeeded' | 'failed' | 'dead';
export type JobTrigger = InboxSource | 'resubmit' | 'backfill';

/**
 * Work for one link. Per link there is at most one pending and at most one running job: a hint for a link
 * with a pending job coalesces into it, and a hint that arrives while a job runs waits as the one pending
 * job, so a change made during a run is never lost and never processed twice in parallel.
 */
export interface Job {
  id: number;
  linkId: number;
  state: JobState;
  /** The latest trigger that asked for this job. */
  trigger: JobTrigger;
  /** How many hints were coalesced into this job (1 = none). */
  hints: number;
  /** Times a worker claimed the job; the retry policy reads it. */
  attempts: number;
  nextRunAt: Date;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ClaimedJob extends Job {
  state: 'running';
  leaseOwner: string;
  leaseExpiresAt: Date;
}

/** What a worker names when it reports on a job: calls by a worker whose lease was lost return false. */
export type JobLease = Pick<ClaimedJob, 'id' | 'leaseOwner'>;

export interface JobFilter {
  state?: JobState | readonly JobState[];
  linkId?: number;
  /** Only jobs older than this one (the next page of a newest-first listing). */
  beforeId?: number;
  /** Newest first; default 100, at most 10,000. */
  limit?: number;
}

/** R25: resubmit by job, by link, or every failed/dead job of the tenant. */
export interface ResubmitTarget {
  jobIds?: readonly number[];
  linkIds?: readonly number[];
  allFailed?: boolean;
}

export interface RetryJobOptions {
  /** The claim did not really try the job (its API was paused: 429, credentials, budget), so it does not
   *  count toward the retry limit: a long throttling storm pauses work instead of dead-lettering it (R27). */
  refundAttempt?: boolean;
}

// ---- create intents ------------------------------------------------------------------------------------

export type CreateIntentState = 'pending' | 'confirmed' | 'adopted' | 'abandoned';

/** Persisted before a Partner Center POST, so a retry after an unknown outcome looks for the referral
 *  carrying `externalReferenceId` (created since `createdAt`) before creating again (DESIGN.md §3). */
export interface CreateIntent {
  id: number;
  linkId: number;
  crmId: string;
  externalReferenceId: string;
  state: CreateIntentState;
  referralId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface CreateIntentInput {
  linkId: number;
  crmId: string;
  externalReferenceId: string;
}

// ---- runs ----------------------------------------------------------------------------------------------

export type RunOutcome = 'changed' | 'unchanged' | 'failed' | 'skipped' | 'dead';
export type RunDirection = 'toCrm' | 'toReferral' | 'both' | 'none';

export interface RunError {
  message: string;
  fix: string | null;
}

/** One field of a run's diff; `before`/`after` are the written side's values. */
export interface RunFieldChange {
  field: string;
  change: FieldChange;
  winner?: FieldOwner;
  before?: CanonicalValue;
  after?: CanonicalValue;
  /** Set when personal data was removed by `purgePersonalData` (R33). */
  purged?: true;
}

export interface RunInput {
  linkId: number | null;
  jobId?: number | null;
  trigger: JobTrigger;
  referralId: string | null;
  crmId: string | null;
  outcome: RunOutcome;
  direction: RunDirection;
  error: RunError | null;
  /** Calls made, per API ('partner-center.referrals', 'salesforce', ...). */
  apiCalls: Readonly<Record<string, number>>;
  durationMs: number;
  diff: readonly RunFieldChange[];
  startedAt: Date;
  /** The record's name and customer as the run read them; kept on the link for the records list. */
  name?: string | null;
  customer?: string | null;
}

export interface Run extends Omit<RunInput, 'jobId'> {
  id: number;
  jobId: number | null;
}

export interface RunQuery {
  /** Only 'failed' and 'dead' outcomes. */
  failed?: boolean;
  linkId?: number;
  /** Runs of this referral / CRM record (R25: "why didn't this referral sync?"). */
  referralId?: string;
  crmId?: string;
  /** Runs started at or after. */
  since?: Date;
  /** Default 50, at most 500. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string | null;
}

export interface RunPage {
  /** Newest first. */
  runs: Run[];
  /** Null on the last page. */
  nextCursor: string | null;
}

// ---- records (the dashboard's list) ---------------------------------------------------------------------

/** failing: shows ✖ (or its last run failed); dead: its last run was dead-lettered; ok: neither. */
export type RecordState = 'ok' | 'failing' | 'dead' | 'unshared' | 'orphaned';

export interface RecordQuery {
  /** A referral or CRM id (exact), or part of the record's name or customer (any case). */
  search?: string;
  state?: RecordState;
  /** The direction of the last run that wrote something. */
  direction?: Exclude<RunDirection, 'none'>;
  /** Default 50, at most 500. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string | null;
}

export interface RecordSummary {
  link: Link;
  name: string | null;
  customer: string | null;
  /** Mapped values both sides agreed on last (deal value, currency, status…); null before the first success. */
  values: Values | null;
  error: SnapshotError | null;
  lastRunAt: Date | null;
  lastOutcome: RunOutcome | null;
  lastDirection: RunDirection | null;
}

export interface RecordPage {
  /** Newest link first. */
  records: RecordSummary[];
  nextCursor: string | null;
}

export interface RecordCounts {
  linked: number;
  failing: number;
  dead: number;
  unshared: number;
  orphaned: number;
}

// ---- retention -----------------------------------------------------------------------------------------

/** Canonical fields holding customer contact data (R33): the contacts list is keyed by e-mail address. */
export const PERSONAL_DATA_FIELDS: readonly string[] = ['contacts'];

export interface PurgeResult {
  snapshots: number;
  runs: number;
  inboxEvents: number;
}

// ---- errors --------------------------------------------------------------------------------------------

export type StoreErrorCode =
  | 'notFound'
  | 'linkConflict'
  | 'invalidArgument'
  | 'unsupportedUrl'
  | 'migrationFailed';

/** The error type of the store boundary; `fix` says what an operator can do. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    readonly fix: string,
    options?: { cause?: unknown },
  ) {
    super(`${message} ${fix}`, options);
  }
}

// ---- the port ------------------------------------------------------------------------------------------

export interface Store {
  readonly tenantId: string;
  /** The same store (same connection) bound to another tenant. */
  forTenant(tenantId: string): Store;

  // links
  getLink(linkId: number): Promise<Link | null>;
  linkByReferral(referralId: string): Promise<Link | null>;
  linkByCrm(crmKind: CrmKind, crmId: string): Promise<Link | null>;
  /** `related-referral-*` events name Microsoft's referral: resolve them through the engagement (R2). */
  linksByEngagement(engagementId: string): Promise<Link[]>;
  /** Active links with a CRM record whose last sync failed (the snapshot holds an error), by id after `afterId`:
   *  an indexed read, not one snapshot per link. */
  failedLinkIds(filter?: { afterId?: number; limit?: number }): Promise<number[]>;
  /** Active opportunity links with both sides whose referral's response deadline (values.responseDeadline) falls
   *  between `from` and `to`, by id after `afterId`: the expiry warnings' indexed question (R30). */
  linksWithDeadlineBetween(
    from: Date,
    to: Date,
    filter?: { afterId?: number; limit?: number },
  ): Promise<number[]>;
  listLinks(filter?: { state?: LinkState; limit?: number; afterId?: number }): Promise<Link[]>;
  /**
   * The link of a referral, created if none; atomic, so concurrent callers get one link. `crmId` (the
   * referral's externalReferenceId, checked by the caller to exist, R16) links to that CRM record: an
   * existing link of the CRM record is reused (and a separate link of the referral merged into it).
   * Ids already on a link are never overwritten here.
   */
  findOrCreateLinkForReferral(
    referralId: string,
    init: { crmKind: CrmKind; dealKind: DealKind; engagementId?: string | null; crmId?: string | null },
  ): Promise<LinkResult>;
  /** The link of a CRM deal, created if none; `referralId` (a Referral Identifier already on the record,
   *  R32) joins an existing link of that referral. Atomic like findOrCreateLinkForReferral. */
  findOrCreateLinkForCrm(
    crmKind: CrmKind,
    crmId: string,
    init: { dealKind: DealKind; referralId?: string | null; engagementId?: string | null },
  ): Promise<LinkResult>;
  /** Sets the referral of a link; another link holding that referral is merged into this one.
   *  Throws StoreError 'linkConflict' when either link already names a different referral or CRM record. */
  attachReferral(linkId: number, referralId: string, engagementId?: string | null): Promise<Link>;
  /** Sets the CRM record of a link; another link holding it is merged into this one ('linkConflict' as above). */
  attachCrm(linkId: number, crmId: string): Promise<Link>;
  /** Moves jobs, snapshot (when keep has none), create-intents and runs of `dropId` to `keepId`, fills
   *  keep's missing ids from drop, and deletes drop. 'linkConflict' when their ids differ. */
  mergeLinks(keepId: number, dropId: number): Promise<Link>;
  /** Relink to another CRM record: lead conversion (R9, dealKind 'opportunity') or a CRM merge (R31).
   *  A link already holding `crmId` is merged into this one. */
  replaceCrmId(linkId: number, crmId: string, dealKind?: DealKind): Promise<Link>;
  setLinkState(linkId: number, state: LinkState): Promise<Link>;

  // snapshots
  getSnapshot(linkId: number): Promise<Snapshot | null>;
  saveSnapshot(linkId: number, update: SnapshotUpdate): Promise<Snapshot>;

  // inbox
  /** Durable when it resolves (the webhook handler answers 2xx after it); idempotent on `dedupeKey`. */
  acceptInbox(event: InboxEventInput): Promise<{ event: InboxEvent; duplicate: boolean }>;
  /** Oldest first. */
  unprocessedInbox(limit: number): Promise<InboxEvent[]>;
  markInboxProcessed(eventId: number, at?: Date): Promise<void>;

  // jobs
  /** A pending job for the link, or the existing one bumped (latest trigger, earliest run time, hints+1). */
  enqueueJob(linkId: number, trigger: JobTrigger, runAt: Date): Promise<{ job: Job; coalesced: boolean }>;
  /**
   * Leases up to `limit` due jobs to `owner` until now+leaseMs, incrementing attempts: pending jobs whose
   * link has no running job, and running jobs whose lease expired (the worker died: nothing is lost).
   * `maxRunning`: no more than this many of the tenant's jobs run at once, whatever process runs them (the
   * tenant's API allows so many calls at once). Atomic across processes (SQLite: one IMMEDIATE transaction;
   * PostgreSQL: the rows it takes are locked with `FOR UPDATE SKIP LOCKED`, so workers claim side by side and
   * never wait on the tenant's other writes; with maxRunning, claims are counted one at a time; see driver.ts).
   */
  claimJobs(
    owner: string,
    now: Date,
    limit: number,
    leaseMs: number,
    options?: { maxRunning?: number | null },
  ): Promise<ClaimedJob[]>;
  extendLease(job: JobLease, now: Date, leaseMs: number): Promise<boolean>;
  /** The run succeeded. False (and nothing written) when the lease was lost to another worker. */
  completeJob(job: JobLease): Promise<boolean>;
  /** A non-retryable failure (validation, 400, closed referral): final, listed as failed, resubmittable. */
  failJob(job: JobLease, error: string): Promise<boolean>;
  /** Back to pending at `nextRunAt`. If a hint queued a pending job meanwhile, that job takes the
   *  attempts and the later of the two run times (a Retry-After is honoured) and this one is dropped. */
  retryJob(job: JobLease, nextRunAt: Date, error: string, options?: RetryJobOptions): Promise<boolean>;
  /** Retries exhausted: dead-lettered with the error, resubmittable (R25). */
  deadLetterJob(job: JobLease, error: string): Promise<boolean>;
  /** Queues each targeted link again now with attempts reset; its failed/dead jobs leave the dead-letter
   *  list (the runs keep the history). Returns the pending jobs. */
  resubmit(target: ResubmitTarget, now?: Date): Promise<Job[]>;
  getJob(jobId: number): Promise<Job | null>;
  listJobs(filter?: JobFilter): Promise<Job[]>;
  /** When work falls due: the earliest pending job's run time, and each running job's lease end (an index read,
   *  whatever the queue's length). */
  jobTimes(): Promise<{ nextPendingAt: Date | null; running: { id: number; leaseExpiresAt: Date | null }[] }>;
  /** How many jobs are in each state (for /metrics: one grouped count, not a listing). */
  jobCounts(): Promise<Record<JobState, number>>;
  /** Deletes succeeded jobs last updated before `olderThan`; returns how many. A link keeps at most one
   *  failed or dead job (its newest failure) whatever this is given. */
  pruneJobs(olderThan: Date): Promise<number>;
  /** Deletes runs started before `olderThan` (run history retention); returns how many. */
  pruneRuns(olderThan: Date): Promise<number>;

  // create intents
  /** Persist before POSTing a referral. Returns the link's pending intent if there already is one. */
  recordCreateIntent(intent: CreateIntentInput): Promise<CreateIntent>;
  pendingCreateIntent(linkId: number): Promise<CreateIntent | null>;
  /** The referral exists (our POST answered, or a look-up found it: 'adopted'): in one transaction the
   *  intent is closed and the referral attached to the link (merging a link a webhook created for it). */
  confirmCreateIntent(
    intentId: number,
    referralId: string,
    how?: 'confirmed' | 'adopted',
  ): Promise<{ intent: CreateIntent; link: Link }>;
  abandonCreateIntent(intentId: number): Promise<CreateIntent>;

  // runs
  recordRun(run: RunInput): Promise<Run>;
  listRuns(query?: RunQuery): Promise<RunPage>;

  // records (the dashboard's list, DESIGN.md §2 server/)
  listRecords(query?: RecordQuery): Promise<RecordPage>;
  getRecord(linkId: number): Promise<RecordSummary | null>;
  recordCounts(): Promise<RecordCounts>;
  /** When the last event of each inbox source arrived. */
  lastEvents(): Promise<Partial<Record<InboxSource, Date>>>;

  // cursors
  getCursor(name: string): Promise<string | null>;
  setCursor(name: string, value: string): Promise<void>;
  /** Read-modify-write of one cursor under the tenant's write lock, so processes sharing the store (several
   *  workers) never lose each other's update. `update` is pure and may run once per call; returning null or the
   *  current value writes nothing. Resolves with the value stored after. */
  updateCursor(name: string, update: (current: string | null) => string | null): Promise<string | null>;

  // secrets: opaque, already-encrypted blobs (the caller encrypts; see cache-plugin.ts)
  getSecret(name: string): Promise<string | null>;
  setSecret(name: string, ciphertext: string): Promise<void>;
  deleteSecret(name: string): Promise<void>;

  /** R33: removes contact data (`fields`, default PERSONAL_DATA_FIELDS) from snapshots and run diffs last
   *  written before `olderThan`, scrubs e-mail addresses from those runs' error messages, and deletes
   *  processed inbox events received before it. */
  purgePersonalData(olderThan: Date, options?: { fields?: readonly string[] }): Promise<PurgeResult>;

  /** Calls `listener` when a process sharing the store queues a job of this tenant (enqueue, resubmit), so a
   *  worker claims it at once rather than on its next poll; returns the unsubscribe. PostgreSQL only: on SQLite
   *  it is never called (the workers poll). */
  watchQueued(listener: () => void): () => void;

  /** Closes the connection shared by every `forTenant` view. */
  close(): Promise<void>;
}
