// The store on SQL, the same queries on SQLite and PostgreSQL (DESIGN.md §2): one object per tenant made of one
// part per aggregate (./sql/: links, snapshots, jobs and inbox, create intents, runs and records, cursors and
// secrets, retention). This class is the Store interface over them: the table of contents of the store.
import type { DealKind } from '../core/deal.ts';
import type { CrmKind } from '../crm/port.ts';
import { CursorSql } from './sql/cursors.ts';
import { IntentSql } from './sql/intents.ts';
import { JobSql } from './sql/jobs.ts';
import { LinkSql } from './sql/links.ts';
import type { Connection, Parts } from './sql/part.ts';
import { PurgeSql } from './sql/purge.ts';
import { RunSql } from './sql/runs.ts';
import { SnapshotSql } from './sql/snapshots.ts';
import type {
  ClaimedJob,
  CreateIntent,
  CreateIntentInput,
  InboxEvent,
  InboxEventInput,
  InboxSource,
  Job,
  JobFilter,
  JobLease,
  JobState,
  JobTrigger,
  Link,
  LinkResult,
  LinkState,
  PurgeResult,
  RecordCounts,
  RecordPage,
  RecordQuery,
  RecordSummary,
  ResubmitTarget,
  RetryJobOptions,
  Run,
  RunInput,
  RunPage,
  RunQuery,
  Snapshot,
  SnapshotUpdate,
  Store,
} from './store.ts';

export type { Connection } from './sql/part.ts';

/** The parts of one tenant's store, each able to reach the others. */
function partsOf(connection: Connection, tenantId: string): Parts {
  const parts = {} as Parts;
  parts.links = new LinkSql(connection, tenantId, parts);
  parts.snapshots = new SnapshotSql(connection, tenantId, parts);
  parts.jobs = new JobSql(connection, tenantId, parts);
  parts.intents = new IntentSql(connection, tenantId, parts);
  parts.runs = new RunSql(connection, tenantId, parts);
  parts.cursors = new CursorSql(connection, tenantId, parts);
  parts.purge = new PurgeSql(connection, tenantId, parts);
  return parts;
}

export class SqlStore implements Store {
  private readonly parts: Parts;

  constructor(
    private readonly connection: Connection,
    readonly tenantId: string,
  ) {
    this.parts = partsOf(connection, tenantId);
  }

  forTenant(tenantId: string): Store {
    return new SqlStore(this.connection, tenantId);
  }

  /** One PRAGMA's current value on this connection (operators' diagnostics and tests). */
  pragma(name: 'journal_mode' | 'synchronous' | 'busy_timeout' | 'foreign_keys'): unknown {
    return this.connection.sqlite?.pragma(name, { simple: true });
  }

  watchQueued(listener: () => void): () => void {
    return this.connection.driver.watchQueued(this.tenantId, listener);
  }

  async close(): Promise<void> {
    await this.connection.release();
  }

  // links
  getLink(linkId: number): Promise<Link | null> {
    return this.parts.links.getLink(linkId);
  }

  linkByReferral(referralId: string): Promise<Link | null> {
    return this.parts.links.linkByReferral(referralId);
  }

  linkByCrm(crmKind: CrmKind, crmId: string): Promise<Link | null> {
    return this.parts.links.linkByCrm(crmKind, crmId);
  }

  linksByEngagement(engagementId: string): Promise<Link[]> {
    return this.parts.links.linksByEngagement(engagementId);
  }

  listLinks(filter: { state?: LinkState; limit?: number; afterId?: number } = {}): Promise<Link[]> {
    return this.parts.links.listLinks(filter);
  }

  failedLinkIds(filter: { afterId?: number; limit?: number } = {}): Promise<number[]> {
    return this.parts.links.failedLinkIds(filter);
  }

  linksWithDeadlineBetween(
    from: Date,
    to: Date,
    filter: { afterId?: number; limit?: number } = {},
  ): Promise<number[]> {
    return this.parts.links.linksWithDeadlineBetween(from, to, filter);
  }

  findOrCreateLinkForReferral(
    referralId: string,
    init: { crmKind: CrmKind; dealKind: DealKind; engagementId?: string | null; crmId?: string | null },
  ): Promise<LinkResult> {
    return this.parts.links.findOrCreateLinkForReferral(referralId, init);
  }

  findOrCreateLinkForCrm(
    crmKind: CrmKind,
    crmId: string,
    init: { dealKind: DealKind; referralId?: string | null; engagementId?: string | null },
  ): Promise<LinkResult> {
    return this.parts.links.findOrCreateLinkForCrm(crmKind, crmId, init);
  }

  attachReferral(linkId: number, referralId: string, engagementId?: string | null): Promise<Link> {
    return this.parts.links.attachReferral(linkId, referralId, engagementId);
  }

  attachCrm(linkId: number, crmId: string): Promise<Link> {
    return this.parts.links.attachCrm(linkId, crmId);
  }

  mergeLinks(keepId: number, dropId: number): Promise<Link> {
    return this.parts.links.mergeLinks(keepId, dropId);
  }

  replaceCrmId(linkId: number, crmId: string, dealKind?: DealKind): Promise<Link> {
    return this.parts.links.replaceCrmId(linkId, crmId, dealKind);
  }

  setLinkState(linkId: number, state: LinkState): Promise<Link> {
    return this.parts.links.setLinkState(linkId, state);
  }

  // snapshots
  getSnapshot(linkId: number): Promise<Snapshot | null> {
    return this.parts.snapshots.getSnapshot(linkId);
  }

  saveSnapshot(linkId: number, update: SnapshotUpdate): Promise<Snapshot> {
    return this.parts.snapshots.saveSnapshot(linkId, update);
  }

  // jobs
  acceptInbox(event: InboxEventInput): Promise<{ event: InboxEvent; duplicate: boolean }> {
    return this.parts.jobs.acceptInbox(event);
  }

  unprocessedInbox(limit: number): Promise<InboxEvent[]> {
    return this.parts.jobs.unprocessedInbox(limit);
  }

  markInboxProcessed(eventId: number, at?: Date): Promise<void> {
    return this.parts.jobs.markInboxProcessed(eventId, at);
  }

  enqueueJob(linkId: number, trigger: JobTrigger, runAt: Date): Promise<{ job: Job; coalesced: boolean }> {
    return this.parts.jobs.enqueueJob(linkId, trigger, runAt);
  }

  claimJobs(
    owner: string,
    now: Date,
    wanted: number,
    leaseMs: number,
    options: { maxRunning?: number | null } = {},
  ): Promise<ClaimedJob[]> {
    return this.parts.jobs.claimJobs(owner, now, wanted, leaseMs, options);
  }

  extendLease(job: JobLease, now: Date, leaseMs: number): Promise<boolean> {
    return this.parts.jobs.extendLease(job, now, leaseMs);
  }

  completeJob(job: JobLease): Promise<boolean> {
    return this.parts.jobs.completeJob(job);
  }

  failJob(job: JobLease, error: string): Promise<boolean> {
    return this.parts.jobs.failJob(job, error);
  }

  deadLetterJob(job: JobLease, error: string): Promise<boolean> {
    return this.parts.jobs.deadLetterJob(job, error);
  }

  retryJob(job: JobLease, nextRunAt: Date, error: string, options: RetryJobOptions = {}): Promise<boolean> {
    return this.parts.jobs.retryJob(job, nextRunAt, error, options);
  }

  resubmit(target: ResubmitTarget, now?: Date): Promise<Job[]> {
    return this.parts.jobs.resubmit(target, now);
  }

  getJob(jobId: number): Promise<Job | null> {
    return this.parts.jobs.getJob(jobId);
  }

  jobCounts(): Promise<Record<JobState, number>> {
    return this.parts.jobs.jobCounts();
  }

  jobTimes(): ReturnType<Store['jobTimes']> {
    return this.parts.jobs.jobTimes();
  }

  listJobs(filter: JobFilter = {}): Promise<Job[]> {
    return this.parts.jobs.listJobs(filter);
  }

  pruneJobs(olderThan: Date): Promise<number> {
    return this.parts.jobs.pruneJobs(olderThan);
  }

  // intents
  recordCreateIntent(intent: CreateIntentInput): Promise<CreateIntent> {
    return this.parts.intents.recordCreateIntent(intent);
  }

  pendingCreateIntent(linkId: number): Promise<CreateIntent | null> {
    return this.parts.intents.pendingCreateIntent(linkId);
  }

  confirmCreateIntent(
    intentId: number,
    referralId: string,
    how: 'confirmed' | 'adopted' = 'confirmed',
  ): Promise<{ intent: CreateIntent; link: Link }> {
    return this.parts.intents.confirmCreateIntent(intentId, referralId, how);
  }

  abandonCreateIntent(intentId: number): Promise<CreateIntent> {
    return this.parts.intents.abandonCreateIntent(intentId);
  }

  // runs
  pruneRuns(olderThan: Date): Promise<number> {
    return this.parts.runs.pruneRuns(olderThan);
  }

  recordRun(run: RunInput): Promise<Run> {
    return this.parts.runs.recordRun(run);
  }

  listRecords(query: RecordQuery = {}): Promise<RecordPage> {
    return this.parts.runs.listRecords(query);
  }

  getRecord(linkId: number): Promise<RecordSummary | null> {
    return this.parts.runs.getRecord(linkId);
  }

  recordCounts(): Promise<RecordCounts> {
    return this.parts.runs.recordCounts();
  }

  lastEvents(): Promise<Partial<Record<InboxSource, Date>>> {
    return this.parts.runs.lastEvents();
  }

  listRuns(query: RunQuery = {}): Promise<RunPage> {
    return this.parts.runs.listRuns(query);
  }

  // cursors
  getCursor(name: string): Promise<string | null> {
    return this.parts.cursors.getCursor(name);
  }

  setCursor(name: string, value: string): Promise<void> {
    return this.parts.cursors.setCursor(name, value);
  }

  updateCursor(name: string, update: (current: string | null) => string | null): Promise<string | null> {
    return this.parts.cursors.updateCursor(name, update);
  }

  getSecret(name: string): Promise<string | null> {
    return this.parts.cursors.getSecret(name);
  }

  setSecret(name: string, ciphertext: string): Promise<void> {
    return this.parts.cursors.setSecret(name, ciphertext);
  }

  deleteSecret(name: string): Promise<void> {
    return this.parts.cursors.deleteSecret(name);
  }

  // purge
  purgePersonalData(olderThan: Date, options: { fields?: readonly string[] } = {}): Promise<PurgeResult> {
    return this.parts.purge.purgePersonalData(olderThan, options);
  }
}
