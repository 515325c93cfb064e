// What the dashboard and the admin JSON API show, read from the engine and the store and shaped once: both
// faces render these answers, so the page and the API never disagree.
import type { FieldMapping } from '../../core/mapping.ts';
import type { CrmKind } from '../../crm/port.ts';
import type { Engine } from '../../engine/engine.ts';
import { CURSORS } from '../../engine/intake.ts';
import type { RecordState, RecordSummary, Run, Store } from '../../store/store.ts';
import type {
  FailureGroup,
  Overview,
  RecordDetail,
  RecordJson,
  RecordsQuery,
  RunJson,
  SettingsJson,
} from './schemas.ts';

export type WebhookState = Overview['webhook'];

export interface AdminDataDeps {
  tenantId: string;
  crmKind: CrmKind;
  dryRun: boolean;
  store: Store;
  engine: Pick<Engine, 'pausedApis' | 'apiUsage' | 'apiHealth' | 'inspect' | 'resubmit'>;
  /** The effective mapping (defaults with the config's direction/owner overrides). */
  mapping: readonly FieldMapping[];
  /** The effective configuration with secrets redacted (config/redact.ts). */
  redactedConfig: Record<string, unknown>;
  webhook: () => WebhookState;
  referralUrl: (referralId: string) => string;
  crmUrl: (crmId: string, dealKind: string) => string | null;
}

const LABELS: Record<string, string> = {
  'partner-center': 'Partner Center',
  salesforce: 'Salesforce',
  dynamics: 'Dynamics 365',
  store: 'Store',
};

/** Recent runs read for the latency figures: enough for a p95, cheap at any size (newest by id). */
const LATENCY_RUNS = 300;
const SPARK_POINTS = 40;
/** Failing records read for the failures page; the rest are counted and resubmitted by "all". */
const FAILURES_SHOWN = 500;

export class AdminData {
  constructor(private readonly deps: AdminDataDeps) {}

  async overview(): Promise<Overview> {
    const { engine, store, crmKind } = this.deps;
    const [counts, jobs, lastEvents, lastCrmChange, recent] = await Promise.all([
      store.recordCounts(),
      store.jobCounts(),
      store.lastEvents(),
      store.getCursor(CURSORS.crmLastChange),
      store.listRuns({ limit: LATENCY_RUNS }),
    ]);
    const paused = engine.pausedApis();
    const storeOk = await store
      .getCursor('healthz')
      .then(() => null)
      .catch((error: Error) => error.message);
    const connections: Overview['connections'] = engine.apiHealth().map((h) => {
      const pause = paused.find((p) => p.api === h.api);
      const label = h.api === 'crm' ? LABELS[crmKind]! : LABELS[h.api]!;
      const reason = pause
        ? `${label} sync is paused (${pause.reason}) until ${pause.until.toISOString()}.`
        : !h.reachable && h.lastFailure
          ? `${label} could not be reached: ${h.lastFailure.message}`
          : null;
      const fix = pause
        ? pause.fix
        : reason
          ? `Check the network and ${label}'s status; cosell retries by itself and catches up.`
          : null;
      return {
        api: h.api,
        label,
        healthy: reason === null,
        reason,
        fix,
        lastOkAt: h.lastOkAt?.toISOString() ?? null,
        calls: h.calls,
      };
    });
    connections.push({
      api: 'store',
      label: LABELS.store!,
      healthy: storeOk === null,
      reason: storeOk,
      fix: storeOk ? 'Check the store (disk space, permissions, the database server).' : null,
      lastOkAt: null,
      calls: {},
    });
    const login = paused.find((p) => p.api === 'partner-center' && p.reason === 'credentials');
    return {
      tenantId: this.deps.tenantId,
      crm: crmKind,
      dryRun: this.deps.dryRun,
      connections,
      login: login
        ? {
            state: 'open',
            message: 'Partner Center refused the signed-in user: sync is paused.',
            fix: login.fix,
          }
        : { state: 'ok', message: 'A Partner Center user is signed in.', fix: null },
      webhook: this.deps.webhook(),
      lastEventAt: {
        partnerCenter: lastEvents['partner-center-webhook']?.toISOString() ?? null,
        crm: lastCrmChange ?? lastEvents['crm-poll']?.toISOString() ?? null,
      },
      latency: (['toCrm', 'toReferral'] as const).map((direction) => latencyOf(recent.runs, direction)),
      budgets: engine.apiUsage().map((u) => ({ api: u.api, usedToday: u.usedToday, limit: u.limit })),
      paused: paused.map((p) => ({ api: p.api, reason: p.reason, until: p.until.toISOString(), fix: p.fix })),
      counts: { ...counts, queued: jobs.pending + jobs.running },
    };
  }

  async records(query: RecordsQuery) {
    const page = await this.deps.store.listRecords({
      ...(query.q ? { search: query.q } : {}),
      ...(query.state ? { state: query.state } : {}),
      ...(query.direction ? { direction: query.direction } : {}),
      limit: query.limit,
      cursor: query.cursor ?? null,
    });
    return { records: page.records.map(recordJson), nextCursor: page.nextCursor };
  }

  async record(linkId: number): Promise<RecordDetail | null> {
    const { store, engine, mapping } = this.deps;
    const summary = await store.getRecord(linkId);
    if (!summary) return null;
    const [sides, history, changed, jobs] = await Promise.all([
      engine.inspect(linkId),
      store.listRuns({ linkId, limit: 20 }),
      store.listRuns({ linkId, limit: 50 }),
      store.listJobs({ linkId, state: ['pending', 'running'], limit: 1 }),
    ]);
    const { link } = summary;
    const pc = sides?.partnerCenter ?? { values: null, error: null };
    const crm = sides?.crm ?? { values: null, error: null };
    const lastChange = changed.runs.find((r) => r.outcome === 'changed' && r.diff.length > 0) ?? null;
    return {
      record: recordJson(summary),
      partnerCenter: { ...pc, url: link.referralId ? this.deps.referralUrl(link.referralId) : null },
      crm: { ...crm, url: link.crmId ? this.deps.crmUrl(link.crmId, link.dealKind) : null },
      fields: mapping.map((m) => ({
        field: m.field,
        label: m.label ?? m.field,
        partnerCenter: pc.values?.[m.field] ?? null,
        crm: crm.values?.[m.field] ?? null,
      })),
      audit: sides?.audit ?? [],
      lastChange: lastChange ? runJson(lastChange) : null,
      runs: history.runs.map(runJson),
      queued: jobs.length > 0,
    };
  }

  async failures(): Promise<{ groups: FailureGroup[]; total: number; shown: number }> {
    const { store } = this.deps;
    const [failing, counts] = await Promise.all([
      store.listRecords({ state: 'failing', limit: FAILURES_SHOWN }),
      store.recordCounts(),
    ]);
    const dead = await store.listRecords({ state: 'dead', limit: FAILURES_SHOWN });
    const seen = new Set<number>();
    const groups = new Map<string, FailureGroup>();
    for (const summary of [...failing.records, ...dead.records]) {
      if (seen.has(summary.link.id)) continue;
      seen.add(summary.link.id);
      const { runs } = await store.listRuns({ linkId: summary.link.id, failed: true, limit: 1 });
      const run = runs[0];
      const message = summary.error?.message ?? run?.error?.message ?? 'The last sync failed.';
      const key = summary.error?.rule ?? groupKeyOf(message);
      const group = groups.get(key) ?? { key, message, fix: run?.error?.fix ?? null, count: 0, records: [] };
      group.count++;
      group.records.push(recordJson(summary));
      groups.set(key, group);
    }
    return {
      groups: [...groups.values()].sort((a, b) => b.count - a.count),
      total: counts.failing + counts.dead,
      shown: seen.size,
    };
  }

  async resubmit(body: { linkIds?: number[]; allFailed?: true }): Promise<{ queued: number }> {
    if (body.allFailed) return { queued: await this.deps.engine.resubmit({ allFailed: true }) };
    const known: number[] = [];
    for (const id of body.linkIds ?? []) if (await this.deps.store.getLink(id)) known.push(id);
    if (known.length === 0) return { queued: 0 };
    return { queued: await this.deps.engine.resubmit({ linkIds: known }) };
  }

  settings(): SettingsJson {
    return {
      config: this.deps.redactedConfig,
      mapping: this.deps.mapping.map((m) => ({
        field: m.field,
        label: m.label ?? m.field,
        partnerCenter: m.referralPath || '(CRM only)',
        crm: m.crmField,
        direction: m.direction,
        owner: m.owner,
        kind: m.kind,
      })),
    };
  }
}

export function recordStateOf(summary: RecordSummary): RecordState {
  if (summary.link.state !== 'active') return summary.link.state;
  if (summary.lastOutcome === 'dead') return 'dead';
  if (summary.error || summary.lastOutcome === 'failed') return 'failing';
  return 'ok';
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

export function recordJson(summary: RecordSummary): RecordJson {
  const { link, values } = summary;
  return {
    id: link.id,
    referralId: link.referralId,
    crmId: link.crmId,
    dealKind: link.dealKind,
    name: summary.name ?? text(values?.name),
    customer: summary.customer,
    dealValue: text(values?.dealValue),
    currency: text(values?.currency),
    status: text(values?.status),
    state: recordStateOf(summary),
    error: summary.error ? { rule: summary.error.rule, message: summary.error.message } : null,
    lastRunAt: summary.lastRunAt?.toISOString() ?? null,
    lastOutcome: summary.lastOutcome,
    lastDirection: summary.lastDirection,
  };
}

export function runJson(run: Run): RunJson {
  return {
    id: run.id,
    startedAt: run.startedAt.toISOString(),
    trigger: run.trigger,
    outcome: run.outcome,
    direction: run.direction,
    durationMs: run.durationMs,
    apiCalls: { ...run.apiCalls },
    error: run.error,
    diff: run.diff.map((d) => ({ field: d.field, change: d.change, before: d.before, after: d.after })),
  };
}

/** Failures with the same cause read the same once the ids, names and numbers in them are left out. */
export function groupKeyOf(message: string): string {
  return message
    .replace(/'[^']*'|"[^"]*"/g, '…')
    .replace(/\b[0-9a-f]{8}-[0-9a-f-]{27,}\b/gi, '…')
    .replace(/\b[A-Za-z0-9]*\d[A-Za-z0-9-]*\b/g, '…');
}

/** p50/p95 of the recent runs that wrote in one direction, and the durations the sparkline draws. */
export function latencyOf(runs: readonly Run[], direction: 'toCrm' | 'toReferral') {
  const durations = runs
    .filter((r) => r.outcome === 'changed' && (r.direction === direction || r.direction === 'both'))
    .map((r) => r.durationMs);
  const sorted = [...durations].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return {
    direction,
    runs: durations.length,
    p50Ms: at(0.5),
    p95Ms: at(0.95),
    recentMs: durations.slice(0, SPARK_POINTS).reverse(),
  };
}
