// Row shapes of the store's tables, for kysely's typed query builder. Kept portable on purpose: times are
// ISO-8601 UTC text (`Date.toISOString()`, fixed width, so text order is time order), JSON is text, enums
// are text. The same builder queries then run on SQLite and PostgreSQL.
import type { Generated } from 'kysely';
import type {
  CreateIntentState,
  CrmKind,
  DealKind,
  InboxSource,
  JobState,
  JobTrigger,
  LinkState,
  RunDirection,
  RunOutcome,
} from './store.ts';

export interface LinksTable {
  id: Generated<number>;
  tenant_id: string;
  referral_id: string | null;
  engagement_id: string | null;
  crm_kind: CrmKind;
  crm_id: string | null;
  deal_kind: DealKind;
  state: LinkState;
  created_at: string;
  updated_at: string;
  /** The record summary the last run left (migration 0003): what the dashboard lists and searches. */
  display_name: string | null;
  customer_name: string | null;
  last_run_at: string | null;
  last_outcome: RunOutcome | null;
  last_direction: RunDirection | null;
}

export interface SnapshotsTable {
  link_id: number;
  tenant_id: string;
  values_json: string | null;
  referral_etag: string | null;
  referral_updated_at: string | null;
  crm_version: string | null;
  error_rule: string | null;
  error_message: string | null;
  failed_digest: string | null;
  referral_json: string | null;
  /** values.responseDeadline, for the expiry warnings' indexed question (R30). */
  response_deadline: string | null;
  updated_at: string;
}

export interface InboxTable {
  id: Generated<number>;
  tenant_id: string;
  source: InboxSource;
  dedupe_key: string;
  payload: string;
  received_at: string;
  processed_at: string | null;
}

export interface JobsTable {
  id: Generated<number>;
  tenant_id: string;
  link_id: number;
  state: JobState;
  trigger: JobTrigger;
  hints: number;
  attempts: number;
  next_run_at: string;
  lease_owner: string | null;
  lease_expires_at: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

export interface CreateIntentsTable {
  id: Generated<number>;
  tenant_id: string;
  link_id: number;
  crm_id: string;
  external_reference_id: string;
  state: CreateIntentState;
  referral_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface RunsTable {
  id: Generated<number>;
  tenant_id: string;
  link_id: number | null;
  job_id: number | null;
  trigger: JobTrigger;
  referral_id: string | null;
  crm_id: string | null;
  outcome: RunOutcome;
  direction: RunDirection;
  error_message: string | null;
  error_fix: string | null;
  api_calls_json: string;
  duration_ms: number;
  diff_json: string;
  started_at: string;
  personal_data_purged_at: string | null;
}

export interface CursorsTable {
  tenant_id: string;
  name: string;
  value: string;
  updated_at: string;
}

export interface SecretsTable {
  tenant_id: string;
  name: string;
  ciphertext: string;
  updated_at: string;
}

export interface StoreDatabase {
  links: LinksTable;
  snapshots: SnapshotsTable;
  inbox: InboxTable;
  jobs: JobsTable;
  create_intents: CreateIntentsTable;
  runs: RunsTable;
  cursors: CursorsTable;
  secrets: SecretsTable;
}
