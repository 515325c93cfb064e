// `/metrics` in Prometheus text format (prom-client): webhook events received, jobs by state (dead letters are
// state="dead"), sync duration by direction and outcome, API calls by API and status, API calls made by sync runs, today's calls against each
// daily budget, paused APIs. Gauges are read when scraped, so they cost nothing between scrapes. Every series
// carries the partner tenant (`tenant`): one deployment may serve several.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine } from '../engine/engine.ts';
import type { Run, Store } from '../store/store.ts';

export type WebhookResult = 'accepted' | 'duplicate' | 'refused';

export interface Metrics {
  registry: Registry;
  webhookReceived(result: WebhookResult, tenant: string): void;
}

export interface TenantMetrics {
  tenantId: string;
  engine: Pick<Engine, 'events' | 'pausedApis' | 'apiUsage' | 'apiHealth'>;
  store: Pick<Store, 'jobCounts'>;
}

export function createMetrics(deps: { tenants: readonly TenantMetrics[] }): Metrics {
  const registry = new Registry();
  const webhooks = new Counter({
    name: 'cosell_webhook_events_total',
    help: 'Partner Center webhook deliveries received, by result (refused: bad signature or body).',
    labelNames: ['tenant', 'result'],
    registers: [registry],
  });
  const syncs = new Histogram({
    name: 'cosell_sync_duration_seconds',
    help: 'Duration of one sync of a record (both sides read, compared and written), by direction and outcome.',
    labelNames: ['tenant', 'direction', 'outcome'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const calls = new Counter({
    name: 'cosell_sync_api_calls_total',
    help: 'API calls made by sync runs, by API (polls and sweeps are in cosell_api_calls_today).',
    labelNames: ['tenant', 'api'],
    registers: [registry],
  });
  new Gauge({
    name: 'cosell_jobs',
    help: 'Sync jobs by state; state="dead" are dead letters (cosell runs --failed, cosell resubmit).',
    labelNames: ['tenant', 'state'],
    registers: [registry],
    async collect() {
      for (const { tenantId: tenant, store } of deps.tenants)
        for (const [state, n] of Object.entries(await store.jobCounts())) this.set({ tenant, state }, n);
    },
  });
  new Counter({
    name: 'cosell_api_calls_total',
    help: 'API calls since the service started, by API and how they ended (ok, throttled, unauthorized, client-error, server-error, unreachable).',
    labelNames: ['tenant', 'api', 'status'],
    registers: [registry],
    collect() {
      // The engine keeps the totals (engine/api-health.ts); they are copied at scrape time.
      this.reset();
      for (const { tenantId: tenant, engine } of deps.tenants)
        for (const h of engine.apiHealth())
          for (const [status, n] of Object.entries(h.calls))
            if (n) this.inc({ tenant, api: h.api, status }, n);
    },
  });
  new Gauge({
    name: 'cosell_api_calls_today',
    help: 'API calls cosell made today (UTC), by API.',
    labelNames: ['tenant', 'api'],
    registers: [registry],
    collect() {
      for (const { tenantId: tenant, engine } of deps.tenants)
        for (const u of engine.apiUsage()) this.set({ tenant, api: u.api }, u.usedToday);
    },
  });
  new Gauge({
    name: 'cosell_api_budget_remaining',
    help: "Calls left in today's budget (engine.budgets), by API; absent when no budget is set.",
    labelNames: ['tenant', 'api'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { tenantId: tenant, engine } of deps.tenants)
        for (const u of engine.apiUsage())
          if (u.limit !== null) this.set({ tenant, api: u.api }, Math.max(0, u.limit - u.usedToday));
    },
  });
  new Gauge({
    name: 'cosell_api_paused',
    help: "1 while an API's work is paused (credentials, budget, throttling), by API and reason.",
    labelNames: ['tenant', 'api', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { tenantId: tenant, engine } of deps.tenants)
        for (const p of engine.pausedApis()) this.set({ tenant, api: p.api, reason: p.reason }, 1);
    },
  });
  for (const { tenantId: tenant, engine } of deps.tenants) {
    engine.events.on('run', (run: Run) => {
      syncs.observe({ tenant, direction: run.direction, outcome: run.outcome }, run.durationMs / 1000);
      for (const [api, n] of Object.entries(run.apiCalls)) if (n > 0) calls.inc({ tenant, api }, n);
    });
  }
  return {
    registry,
    webhookReceived: (result, tenant) => webhooks.inc({ tenant, result }),
  };
}
