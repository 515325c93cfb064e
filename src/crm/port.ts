// The one interface the engine uses for every CRM (DESIGN.md §2). It speaks CRM-neutral types from
// src/core/deal.ts; each adapter maps them to its own objects and field names, which come from settings
// (R21), so the engine never names a CRM field.
// The CRM-neutral write shapes live with the Deal (the pure mapping in core/deal-values.ts builds them).
import type {
  CurrencySupport,
  Deal,
  DealKind,
  DealPatch,
  NewDeal,
  SolutionRef,
  SyncWrite,
} from '../core/deal.ts';
import type { FieldLimits } from '../core/fit.ts';

export type { CurrencySupport, DealPatch, NewDeal, SyncWrite };

export type CrmKind = 'salesforce' | 'dynamics';

/** How a caller names a deal: by the CRM's id, or by the Partner Center referral id stored on it. The kind is
 *  always given: an id alone says nothing about it in every CRM (Dataverse ids are GUIDs). */
export type DealRef = { kind: DealKind; id: string } | { kind: DealKind; referralId: string };

export interface SolutionImportResult {
  created: number;
  updated: number;
  unchanged: number;
}

export interface CreateDealResult {
  id: string;
  kind: DealKind;
  /** False when a deal with this referral id already existed (a retried create): nothing was written. */
  created: boolean;
  accountId?: string;
  accountCreated?: boolean;
  contactIds: string[];
}

export interface AccountMatch {
  duns?: string | null;
  name: string;
  postalCode?: string | null;
}

/** One entry of the change feed: a hint that this deal may have changed (the worker reads it fresh). */
export interface DealChange {
  kind: DealKind;
  id: string;
  /** Why it is listed: its own stamp moved, or a related record did (account, contact role, solution row). */
  reason: 'deal' | 'account' | 'contact' | 'solution';
  deleted?: boolean;
  modifiedAt?: string;
  /** The CRM's row version when it has one (Dataverse `versionnumber`): tells apart two changes stamped in the
   *  same second, which `modifiedAt` (whole seconds in Dataverse) cannot. */
  version?: string;
}

export interface ChangeFeedPage {
  changes: DealChange[];
  /** Opaque (a timestamp, a delta link…); store it and pass it back. Never moves backwards. */
  cursor: string;
  /** ISO time: changes stamped before it will not be listed again by later polls (a feed that re-lists an
   *  overlap window says how far it reaches, so remembered hints can be forgotten). Absent: nothing re-listed. */
  relistsAfter?: string;
}

export interface ChangeFeedOptions {
  /** How far before the cursor to look again, for records committed late with an earlier stamp. */
  overlapMs?: number;
  /** First run without a cursor: how far back to look (R34 backfill scope). */
  initialLookbackMs?: number;
  now?: Date;
}

export type SchemaProblemKind =
  | 'missing-object'
  | 'missing-field'
  | 'wrong-type'
  | 'wrong-length'
  | 'missing-picklist-value'
  | 'not-external-id'
  | 'not-readable'
  | 'not-editable';

export interface SchemaProblem {
  kind: SchemaProblemKind;
  object: string;
  field?: string;
  message: string;
  fix: string;
}

export interface SchemaReport {
  /** API version the adapter talks. */
  apiVersion: string;
  objects: { name: string; present: boolean; fields: string[] }[];
  problems: SchemaProblem[];
}

export interface CrmAdapter {
  readonly crm: CrmKind;

  findDeal(ref: DealRef): Promise<Deal | null>;
  /** Creates the deal with its account, contacts and solutions in as few calls as the CRM allows.
   *  Idempotent by `referralId`: a retried create never makes a second deal. */
  createDeal(input: NewDeal, sync?: SyncWrite): Promise<CreateDealResult>;
  /** Writes `patch` and `sync` in one update. `current` is the deal as just read (for the audit and name). */
  updateDeal(current: Deal, patch: DealPatch, sync?: SyncWrite): Promise<void>;
  /**
   * Closes an opportunity won or lost the CRM's own way (Salesforce: the won/lost stage; Dataverse: the
   * WinOpportunity / LoseOpportunity actions), with `patch` and `sync` in the same change, so the audit line
   * never lands without the close it describes.
   */
  closeDeal(current: Deal, outcome: 'won' | 'lost', patch?: DealPatch, sync?: SyncWrite): Promise<void>;

  /** The id of the active CRM user with this e-mail address, or null (R29: owners of incoming referrals). The
   *  answer may be kept for a few minutes. */
  findUserByEmail(email: string): Promise<string | null>;
  /** R15: loads solutions into the CRM's solution catalogue (Microsoft Solution Details), at most 200 per call:
   *  an unknown id is created, a known one gets the given name; matched by id without case. */
  importSolutions(solutions: readonly SolutionRef[]): Promise<SolutionImportResult>;

  /** Hints of deals that may have changed since `cursor` (null: first poll). */
  listChangedDeals(cursor: string | null, options?: ChangeFeedOptions): Promise<ChangeFeedPage>;
  /** One cheap read that needs the credentials and changes nothing (no cursor moves): the circuit's probe. */
  probe(): Promise<void>;
  /** Where a person opens the record in the CRM's own app (the dashboard links to it). */
  recordUrl(ref: { kind: DealKind; id: string }): string;
  /** Requests sent to the CRM's API so far by this adapter (run history counts calls per run, R25). */
  apiCallCount(): number;
  /** How long each text field the sync writes may be, so values are cut (and the cut audited) before the CRM
   *  would refuse the record. */
  fieldLimits(kind: DealKind): Promise<FieldLimits>;
  /** Read from the CRM and kept for a few minutes, so an admin enabling a currency is seen without a restart. */
  currencies(): Promise<CurrencySupport>;
  describeSchema(): Promise<SchemaReport>;
  /**
   * Optional: gather opportunity creates that arrive within `lingerMs` into batched calls (a bulk import with
   * many workers). Results and errors stay per record.
   */
  batchCreates?(options: { lingerMs: number }): void;
}

export interface CrmErrorInit {
  crm: CrmKind;
  operation: string;
  message: string;
  status?: number;
  code?: string;
  record?: string;
  fields?: string[];
  fix?: string;
  retryable?: boolean;
  /** The CRM's API allocation is used up: stop work until it frees; do not retry in a loop (R27). */
  budgetExhausted?: boolean;
  /** The CRM throttled the caller and said when to come back (Dataverse's Retry-After): all CRM work waits that
   *  long, instead of every job retrying into the limit on its own. */
  retryAfterMs?: number;
  /** The credentials were refused even after minting a fresh token (a circuit, not a retry). */
  authFailed?: boolean;
  /** The record changed state between the read and the write (a lead converted meanwhile): read again and
   *  decide anew, at once; not a failure. */
  stale?: boolean;
}

/** The one error type of the CRM boundary: what an operator needs to act on it. Never carries secrets. */
export class CrmError extends Error {
  readonly crm: CrmKind;
  readonly operation: string;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly record: string | undefined;
  readonly fields: string[];
  readonly fix: string | undefined;
  readonly retryable: boolean;
  readonly budgetExhausted: boolean;
  readonly retryAfterMs: number | undefined;
  readonly authFailed: boolean;
  readonly stale: boolean;

  constructor(init: CrmErrorInit) {
    super(init.message);
    this.name = 'CrmError';
    this.crm = init.crm;
    this.operation = init.operation;
    this.status = init.status;
    this.code = init.code;
    this.record = init.record;
    this.fields = init.fields ?? [];
    this.fix = init.fix;
    this.retryable = init.retryable ?? false;
    this.budgetExhausted = init.budgetExhausted ?? false;
    this.retryAfterMs = init.retryAfterMs;
    this.authFailed = init.authFailed ?? false;
    this.stale = init.stale ?? false;
  }
}
