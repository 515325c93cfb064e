// The admin JSON API's shapes (DESIGN.md §2 server/): one zod schema per answer and per query, so requests are
// validated, answers are typed, and `/api/openapi.json` is generated from the same definitions (openapi.ts).
import { z } from 'zod';

const when = z.string().describe('ISO-8601 UTC time');
const api = z.enum(['partner-center', 'crm']);
const callStatus = z.enum(['ok', 'throttled', 'unauthorized', 'client-error', 'server-error', 'unreachable']);
export const recordStates = ['ok', 'failing', 'dead', 'unshared', 'orphaned'] as const;
export const directions = ['toCrm', 'toReferral', 'both'] as const;

export const problemSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string(), fix: z.string().optional() }) })
  .describe('Every refusal: what is wrong and how to fix it.');

const connection = z.object({
  api: z.enum(['partner-center', 'crm', 'store']),
  label: z.string(),
  healthy: z.boolean(),
  /** Why not, in words; null when healthy. */
  reason: z.string().nullable(),
  fix: z.string().nullable(),
  lastOkAt: when.nullable(),
  calls: z.partialRecord(callStatus, z.number().int()).describe('Calls since start, by how they ended'),
});

const latency = z.object({
  direction: z.enum(['toCrm', 'toReferral']),
  runs: z.number().int(),
  p50Ms: z.number().nullable(),
  p95Ms: z.number().nullable(),
  /** Durations of the recent runs that changed something, oldest first (the sparkline). */
  recentMs: z.array(z.number()),
});

export const overviewSchema = z.object({
  tenantId: z.string(),
  crm: z.enum(['salesforce', 'dynamics']),
  dryRun: z.boolean(),
  connections: z.array(connection),
  login: z.object({ state: z.enum(['ok', 'open']), message: z.string(), fix: z.string().nullable() }),
  webhook: z.object({
    state: z.enum(['ours', 'missing', 'drift', 'unchecked', 'error']),
    url: z.string(),
    message: z.string(),
    checkedAt: when.nullable(),
  }),
  lastEventAt: z.object({ partnerCenter: when.nullable(), crm: when.nullable() }),
  latency: z.array(latency),
  budgets: z.array(z.object({ api, usedToday: z.number().int(), limit: z.number().int().nullable() })),
  paused: z.array(z.object({ api, reason: z.string(), until: when, fix: z.string() })),
  counts: z.object({
    linked: z.number().int(),
    failing: z.number().int(),
    dead: z.number().int(),
    unshared: z.number().int(),
    orphaned: z.number().int(),
    queued: z.number().int().describe('Jobs pending or running'),
  }),
});
export type Overview = z.infer<typeof overviewSchema>;

const values = z
  .record(z.string(), z.unknown())
  .describe('Mapped values by canonical field (engine.mapping)');

export const recordSchema = z.object({
  id: z.number().int().describe('The link id'),
  referralId: z.string().nullable(),
  crmId: z.string().nullable(),
  dealKind: z.enum(['opportunity', 'lead']),
  name: z.string().nullable(),
  customer: z.string().nullable(),
  dealValue: z.string().nullable(),
  currency: z.string().nullable(),
  status: z.string().nullable(),
  state: z.enum(recordStates),
  error: z.object({ rule: z.string().nullable(), message: z.string() }).nullable(),
  lastRunAt: when.nullable(),
  lastOutcome: z.string().nullable(),
  lastDirection: z.string().nullable(),
});
export type RecordJson = z.infer<typeof recordSchema>;

export const recordsQuerySchema = z
  .object({
    q: z.string().max(200).optional().describe('A referral or CRM id, or part of a name or customer'),
    state: z.enum(recordStates).optional(),
    direction: z.enum(directions).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().regex(/^\d+$/, 'must be the nextCursor of the previous page').optional(),
  })
  .strict();
export type RecordsQuery = z.infer<typeof recordsQuerySchema>;

export const recordsPageSchema = z.object({
  records: z.array(recordSchema),
  nextCursor: z.string().nullable(),
});

const change = z.object({
  field: z.string(),
  change: z.string(),
  before: z.unknown().optional(),
  after: z.unknown().optional(),
});

export const runSchema = z.object({
  id: z.number().int(),
  startedAt: when,
  trigger: z.string(),
  outcome: z.string(),
  direction: z.string(),
  durationMs: z.number(),
  apiCalls: z.record(z.string(), z.number()),
  error: z.object({ message: z.string(), fix: z.string().nullable() }).nullable(),
  diff: z.array(change),
});
export type RunJson = z.infer<typeof runSchema>;

const side = z.object({
  values: values.nullable(),
  error: z.string().nullable().describe('Why this side could not be read now'),
  url: z.string().nullable().describe('The record in Partner Center / the CRM'),
});

export const recordDetailSchema = z.object({
  record: recordSchema,
  partnerCenter: side,
  crm: side,
  /** The fields of both sides side by side, in mapping order. */
  fields: z.array(
    z.object({ field: z.string(), label: z.string(), partnerCenter: z.unknown(), crm: z.unknown() }),
  ),
  audit: z.array(z.string()).describe("The CRM record's audit lines, newest last"),
  lastChange: runSchema.nullable().describe('The last run that wrote something'),
  runs: z.array(runSchema),
  queued: z.boolean().describe('A sync of this record is pending or running'),
});
export type RecordDetail = z.infer<typeof recordDetailSchema>;

export const failureGroupSchema = z.object({
  key: z.string().describe('The rule that failed, or the error with ids left out'),
  message: z.string().describe('The latest message of the group'),
  fix: z.string().nullable(),
  count: z.number().int(),
  records: z.array(recordSchema),
});
export const failuresSchema = z.object({
  groups: z.array(failureGroupSchema),
  total: z.number().int(),
  shown: z.number().int(),
});
export type FailureGroup = z.infer<typeof failureGroupSchema>;

export const resubmitBodySchema = z
  .object({
    linkIds: z.array(z.number().int().positive()).min(1).max(1000).optional(),
    allFailed: z.literal(true).optional(),
  })
  .strict()
  .refine((b) => (b.linkIds ? !b.allFailed : b.allFailed === true), {
    message: 'give linkIds (the records to sync again) or allFailed: true, not both',
  });
export const resubmitResultSchema = z.object({ queued: z.number().int() });

export const settingsSchema = z.object({
  config: z.record(z.string(), z.unknown()).describe('The effective configuration, secrets redacted'),
  mapping: z.array(
    z.object({
      field: z.string(),
      label: z.string(),
      partnerCenter: z.string(),
      crm: z.string(),
      direction: z.enum(['both', 'toCrm', 'toReferral']),
      owner: z.enum(['crm', 'partnerCenter']),
      kind: z.string(),
    }),
  ),
});
export type SettingsJson = z.infer<typeof settingsSchema>;
