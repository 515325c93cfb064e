// Row <-> domain object mapping shared by every store implementation (the row shapes are the same on
// SQLite and PostgreSQL: see schema.ts).
import type { Selectable } from 'kysely';
import type { Referral } from '../core/referral.ts';
import type {
  CreateIntentsTable,
  InboxTable,
  JobsTable,
  LinksTable,
  RunsTable,
  SnapshotsTable,
} from './schema.ts';
import type {
  ClaimedJob,
  CreateIntent,
  InboxEvent,
  Job,
  Link,
  RecordSummary,
  Run,
  RunFieldChange,
  Snapshot,
  Values,
} from './store.ts';

export type LinkRow = Selectable<LinksTable>;
export type JobRow = Selectable<JobsTable>;
export type IntentRow = Selectable<CreateIntentsTable>;
export type RunRow = Selectable<RunsTable>;

export const iso = (date: Date) => date.toISOString();
export const dateOrNull = (text: string | null) => (text === null ? null : new Date(text));

export function toLink(row: LinkRow): Link {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    referralId: row.referral_id,
    engagementId: row.engagement_id,
    crmKind: row.crm_kind,
    crmId: row.crm_id,
    dealKind: row.deal_kind,
    state: row.state,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export function toJob(row: JobRow): Job {
  return {
    id: row.id,
    linkId: row.link_id,
    state: row.state,
    trigger: row.trigger,
    hints: row.hints,
    attempts: row.attempts,
    nextRunAt: new Date(row.next_run_at),
    leaseOwner: row.lease_owner,
    leaseExpiresAt: dateOrNull(row.lease_expires_at),
    lastError: row.last_error,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export function toClaimedJob(row: JobRow): ClaimedJob {
  const job = toJob(row);
  if (job.state !== 'running' || job.leaseOwner === null || job.leaseExpiresAt === null) {
    throw new Error(`job ${job.id} was claimed but is ${job.state}`);
  }
  return { ...job, state: 'running', leaseOwner: job.leaseOwner, leaseExpiresAt: job.leaseExpiresAt };
}

export function toSnapshot(row: Selectable<SnapshotsTable>): Snapshot {
  return {
    linkId: row.link_id,
    values: row.values_json === null ? null : (JSON.parse(row.values_json) as Values),
    referralETag: row.referral_etag,
    referralUpdatedAt: row.referral_updated_at,
    crmVersion: row.crm_version,
    error:
      row.error_message === null
        ? null
        : { rule: row.error_rule, message: row.error_message, digest: row.failed_digest ?? null },
    referral: row.referral_json === null ? null : (JSON.parse(row.referral_json) as Referral),
    updatedAt: new Date(row.updated_at),
  };
}

export function toInboxEvent(row: Selectable<InboxTable>): InboxEvent {
  return {
    id: row.id,
    source: row.source,
    dedupeKey: row.dedupe_key,
    payload: row.payload,
    receivedAt: new Date(row.received_at),
    processedAt: dateOrNull(row.processed_at),
  };
}

export function toIntent(row: IntentRow): CreateIntent {
  return {
    id: row.id,
    linkId: row.link_id,
    crmId: row.crm_id,
    externalReferenceId: row.external_reference_id,
    state: row.state,
    referralId: row.referral_id,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export function toRun(row: RunRow): Run {
  return {
    id: row.id,
    linkId: row.link_id,
    jobId: row.job_id,
    trigger: row.trigger,
    referralId: row.referral_id,
    crmId: row.crm_id,
    outcome: row.outcome,
    direction: row.direction,
    error: row.error_message === null ? null : { message: row.error_message, fix: row.error_fix },
    apiCalls: JSON.parse(row.api_calls_json) as Record<string, number>,
    durationMs: row.duration_ms,
    diff: JSON.parse(row.diff_json) as RunFieldChange[],
    startedAt: new Date(row.started_at),
  };
}

/** A link with its snapshot's values and error, as the records list reads it (sqlite.ts recordSelect). */
export type RecordRow = LinkRow &
  Pick<Selectable<SnapshotsTable>, 'error_rule'> & {
    values_json: string | null;
    error_message: string | null;
  };

export function toRecord(row: RecordRow): RecordSummary {
  return {
    link: toLink(row),
    name: row.display_name,
    customer: row.customer_name,
    values: row.values_json === null ? null : (JSON.parse(row.values_json) as Values),
    error: row.error_message === null ? null : { rule: row.error_rule ?? null, message: row.error_message },
    lastRunAt: dateOrNull(row.last_run_at),
    lastOutcome: row.last_outcome,
    lastDirection: row.last_direction,
  };
}
