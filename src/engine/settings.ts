// The `engine:` section of the config file: how the sync behaves (seed flags, worker, retries, polling,
// reconcile). Every key has a default, so `engine: {}` (or no section) is a working configuration.
import { z } from 'zod';
import { isCurrencyCode } from '../core/currencies.ts';
import { SYNC_MAPPING } from '../core/deal-values.ts';
import {
  DEFAULT_TAXONOMY,
  type ServicesTaxonomy,
  servicesTaxonomySchema,
} from '../core/services-taxonomy.ts';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../lib/deadline.ts';
import type { RetryPolicy } from '../lib/retry.ts';

const ms = (fallback: number) => z.number().int().nonnegative().default(fallback);
const positiveMs = (fallback: number) => z.number().int().positive().default(fallback);

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const workerSchema = z.object({
  /** Jobs run at the same time (one per link at most). */
  concurrency: z.number().int().min(1).max(64).default(4),
  /** A claimed job belongs to this worker for so long; a crashed worker's jobs are taken over after it. */
  leaseMs: positiveMs(60_000),
  /** How often the worker looks for due jobs when nothing woke it. */
  pollIntervalMs: positiveMs(1_000),
  /** Jobs of this tenant running at once across every worker process (null: each process's concurrency alone).
   *  Set it to what the tenant's APIs allow at once when several workers run (Dataverse: 52 per user). */
  maxRunning: z.number().int().min(1).max(1000).nullable().default(null),
});

// One policy for the whole engine (src/lib/retry.ts); job retries are minutes apart, not milliseconds.
const retrySchema = z.object({
  maxAttempts: z.number().int().min(1).max(100).default(8),
  baseDelayMs: positiveMs(2_000),
  maxDelayMs: positiveMs(15 * MINUTE),
  maxRetryAfterMs: positiveMs(HOUR),
});

const crmPollSchema = z.object({
  /** Interval right after activity. */
  minIntervalMs: positiveMs(2_000),
  /** The interval doubles while nothing changes, up to this. */
  maxIntervalMs: positiveMs(60_000),
  /** Look this far behind the cursor again (records committed late with an earlier stamp). */
  overlapMs: ms(2 * MINUTE),
});

const reconcileSchema = z.object({
  intervalMs: positiveMs(15 * MINUTE),
  overlapMs: ms(5 * MINUTE),
  /** First sweep without a watermark looks back this far (R34: no flood of old referrals). */
  initialLookbackMs: ms(24 * HOUR),
});

const retentionSchema = z.object({
  /** Succeeded jobs are deleted this long after they finished (the runs keep the history). */
  succeededJobsMs: positiveMs(24 * HOUR),
  /** Run history (R25) is kept this long; personal data in it has its own, shorter purge (R33). */
  runsMs: positiveMs(30 * 24 * HOUR),
  /** R33: customer contact data in snapshots and run history is purged once this old (null: kept as long as the
   *  runs; `cosell purge` removes it on demand). */
  personalDataMs: positiveMs(1).nullable().default(null),
  /** How often old rows are pruned. */
  everyMs: positiveMs(HOUR),
});

const expirySchema = z.object({
  /** R30: warn this long before Partner Center expires an unanswered incoming referral. */
  warnBeforeMs: positiveMs(3 * 24 * HOUR),
  /** How often the records are checked for a coming deadline. */
  checkEveryMs: positiveMs(HOUR),
  /** Optional: each warning is also POSTed here as JSON ({ event: 'referral-expiring', referralId, crmId, name,
   *  deadline }), e.g. a Teams or Slack workflow. */
  notifyUrl: z
    .url({ protocol: /^https?$/ })
    .nullable()
    .default(null),
});

/** R22: the sync fields whose direction or owner a deployment may change. The fields of the sync mapping (core/mapping.ts): a field added there can be given a direction and owner here. */
export const MAPPED_FIELDS = SYNC_MAPPING.map((m) => m.field) as [string, ...string[]];
export type MappedField = string;

export interface FieldOverride {
  direction?: 'both' | 'toCrm' | 'toReferral';
  owner?: 'crm' | 'partnerCenter';
}

/** A value the CRM receives as given: a CRM field name's default on records cosell creates. */
const defaultValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const crmFieldName = z
  .string()
  .trim()
  .min(1)
  .regex(/^[A-Za-z][\w@.]*$/, 'must be a CRM field name (API / logical name), not a display name');

const mappingSchema = z.object({
  /** Per-field direction and owner: `notes: { direction: toCrm }` makes Partner Center the only source of the
   *  notes; `dealValue: { owner: partnerCenter }` lets Partner Center win when both sides changed it. */
  fields: z
    .partialRecord(
      z.enum(MAPPED_FIELDS),
      z
        .object({
          direction: z.enum(['both', 'toCrm', 'toReferral']).optional(),
          owner: z.enum(['crm', 'partnerCenter']).optional(),
        })
        .strict(),
    )
    .default({}),
  /** Extra fields the CRM requires (validation rules, plug-ins, business rules): CRM field name -> value,
   *  written on the records cosell creates from referrals. Fields cosell writes itself keep cosell's value. */
  createDefaults: z
    .object({
      opportunity: z.record(crmFieldName, defaultValue).default({}),
      lead: z.record(crmFieldName, defaultValue).default({}),
    })
    .prefault({}),
});

/** R27: self-imposed daily allowances, counted from the calls cosell makes (null: no allowance of ours; the
 *  APIs' own limits — 429, REQUEST_LIMIT_EXCEEDED — are honoured either way). */
const budgetsSchema = z.object({
  /** Partner Center Referrals API calls per UTC day (the Power Automate connector allowed 10,000). */
  partnerCenterPerDay: z.number().int().positive().nullable().default(null),
  /** CRM API calls per UTC day (Salesforce counts against the org's daily allocation). */
  crmPerDay: z.number().int().positive().nullable().default(null),
});

const schema = z.object({
  /** R24: compute and record what would change, write nothing. */
  dryRun: z.boolean().default(false),
  /** R20: ✔ / ✖ at the end of the deal name. */
  displayCheckMark: z.boolean().default(true),
  /** Seed "Sync Co-sell opportunity": Yes = only co-sell opportunities come from Partner Center, no leads. */
  syncCoSellOnly: z.boolean().default(false),
  /** The currency of a deal that carries none, when the CRM cannot say (a CRM that names its own corporate
   *  currency — Salesforce's Organization, Dataverse's base currency — is asked first). */
  defaultCurrency: z
    .string()
    .refine(isCurrencyCode, 'must be the ISO 4217 code of a real currency, upper case, such as USD or EUR')
    .nullable()
    .default('USD'),
  /** Close date of a record created from a referral that has none (Microsoft sends many; Salesforce requires
   *  one): the day it arrives plus this many days, said in the audit line. Null: leave it empty. */
  defaultCloseDays: z.number().int().min(1).max(3650).nullable().default(90),
  /** R29: owner of an incoming referral's record when no CRM user has the e-mail of its partner team member
   *  (a CRM user id; in Salesforce a queue id works for leads). Null: the integration user owns it. */
  defaultOwnerId: z.string().trim().min(1).nullable().default(null),
  worker: workerSchema.prefault({}),
  retry: retrySchema.prefault({}),
  crmPoll: crmPollSchema.prefault({}),
  reconcile: reconcileSchema.prefault({}),
  retention: retentionSchema.prefault({}),
  expiry: expirySchema.prefault({}),
  mapping: mappingSchema.prefault({}),
  /** Services co-sell partner roles, solution areas and plays (R11): Microsoft's lists of the fiscal year ship with
   *  cosell; a deployment replaces them here when Microsoft renames them before cosell is updated. */
  servicesTaxonomy: servicesTaxonomySchema.default(DEFAULT_TAXONOMY),
  budgets: budgetsSchema.prefault({}),
  /** Links whose last sync failed validation are checked again this often (a fix may not touch the deal). */
  revalidateFailedEveryMs: positiveMs(15 * MINUTE),
  /** R3: the Partner Center refresh token is renewed this often, also when idle (Entra drops one unused for 90
   *  days; only an interactive `cosell login` replaces it). */
  tokenRenewEveryMs: positiveMs(24 * HOUR),
  /** Expired or revoked credentials pause that API this long before a probe (doubling while refused). */
  credentialPauseMs: positiveMs(MINUTE),
  /** A used-up daily API allocation pauses that API this long (R27). */
  budgetPauseMs: positiveMs(15 * MINUTE),
  /** Clock skew allowed when looking for a referral created after a create-intent. */
  createLookupMarginMs: ms(5 * MINUTE),
  /** A call to Partner Center or the CRM with no answer after this is abandoned and retried: a connection that
   *  hangs must not hold a worker. */
  requestTimeoutMs: z
    .number()
    .int()
    .min(1_000)
    .max(10 * MINUTE)
    .default(DEFAULT_REQUEST_TIMEOUT_MS),
});

export interface EngineSettings {
  dryRun: boolean;
  displayCheckMark: boolean;
  syncCoSellOnly: boolean;
  defaultCurrency: string | null;
  defaultOwnerId: string | null;
  defaultCloseDays: number | null;
  worker: { concurrency: number; leaseMs: number; pollIntervalMs: number; maxRunning: number | null };
  retry: RetryPolicy;
  crmPoll: { minIntervalMs: number; maxIntervalMs: number; overlapMs: number };
  reconcile: { intervalMs: number; overlapMs: number; initialLookbackMs: number };
  retention: { succeededJobsMs: number; runsMs: number; personalDataMs: number | null; everyMs: number };
  expiry: { warnBeforeMs: number; checkEveryMs: number; notifyUrl: string | null };
  budgets: { partnerCenterPerDay: number | null; crmPerDay: number | null };
  mapping: {
    fields: Partial<Record<MappedField, FieldOverride>>;
    createDefaults: Record<'opportunity' | 'lead', Record<string, string | number | boolean | null>>;
  };
  servicesTaxonomy: ServicesTaxonomy;
  revalidateFailedEveryMs: number;
  credentialPauseMs: number;
  tokenRenewEveryMs: number;
  budgetPauseMs: number;
  createLookupMarginMs: number;
  requestTimeoutMs: number;
}
export type EngineSettingsInput = z.input<typeof schema>;

export const engineSettingsSchema: z.ZodType<EngineSettings, EngineSettingsInput> = schema;

/** Settings with every default applied. */
export function parseEngineSettings(input: EngineSettingsInput = {}): EngineSettings {
  return engineSettingsSchema.parse(input);
}
