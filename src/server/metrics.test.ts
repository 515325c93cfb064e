// /metrics over HTTP with a stub engine and store: refused deliveries are counted, budgets and pauses show, and
// the text is Prometheus'. The runtime suites check the counters move with real syncs on both CRMs.
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildServer } from './app.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';

describe('/metrics', () => {
  it('R27 R2 counts refused deliveries and API calls by status, shows the budget left and a paused API, as Prometheus text', async () => {
    const events = new EventEmitter();
    const metrics = createMetrics({
      tenants: [
        {
          tenantId: 'acme',
          engine: {
            events,
            apiUsage: () => [
              { api: 'partner-center', usedToday: 40, limit: 100 },
              { api: 'crm', usedToday: 7, limit: null },
            ],
            pausedApis: () => [
              { api: 'partner-center', until: new Date(), reason: 'credentials', fix: 'cosell login' },
            ],
            apiHealth: () => [
              {
                api: 'partner-center',
                calls: { ok: 12, unauthorized: 2 },
                lastOkAt: new Date(),
                lastFailure: null,
                reachable: true,
              },
              {
                api: 'crm',
                calls: { ok: 5, throttled: 1 },
                lastOkAt: null,
                lastFailure: null,
                reachable: true,
              },
            ],
          },
          store: { jobCounts: async () => ({ pending: 2, running: 0, succeeded: 9, failed: 1, dead: 3 }) },
        },
      ],
    });
    const server = await buildServer({
      webhooks: [
        {
          path: '/webhooks/partner-center',
          tenantId: 'acme',
          engine: { acceptWebhook: async () => ({ duplicate: false }) },
          verifySignature: async () => ({ ok: false, code: 'missing-signature', reason: 'no signature' }),
        },
      ],
      checkStore: async () => {},
      metrics,
      logger: createLogger({
        level: 'fatal',
        destination: new Writable({ write: (_c, _e, done) => done() }),
      }),
      bodyLimit: 4096,
    });
    try {
      const url = await server.listen({ port: 0, host: '127.0.0.1' });
      const refused = await fetch(`${url}/webhooks/partner-center`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"EventName":"referral-created"}',
      });
      expect(refused.status).toBe(401);
      events.emit('run', {
        direction: 'toCrm',
        outcome: 'changed',
        durationMs: 420,
        apiCalls: { salesforce: 3 },
      });

      const response = await fetch(`${url}/metrics`);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await response.text();
      expect(text).toContain('cosell_webhook_events_total{tenant="acme",result="refused"} 1');
      expect(text).toContain('cosell_jobs{tenant="acme",state="dead"} 3');
      expect(text).toContain('cosell_api_budget_remaining{tenant="acme",api="partner-center"} 60');
      expect(text).not.toContain('cosell_api_budget_remaining{tenant="acme",api="crm"}');
      expect(text).toContain('cosell_api_paused{tenant="acme",api="partner-center",reason="credentials"} 1');
      expect(text).toContain(
        'cosell_sync_duration_seconds_count{tenant="acme",direction="toCrm",outcome="changed"} 1',
      );
      expect(text).toContain('cosell_sync_api_calls_total{tenant="acme",api="salesforce"} 3');
      expect(text).toContain(
        'cosell_api_calls_total{tenant="acme",api="partner-center",status="unauthorized"} 2',
      );
      expect(text).toContain('cosell_api_calls_total{tenant="acme",api="crm",status="throttled"} 1');
      expect(text).toContain('# TYPE cosell_api_calls_total counter');
    } finally {
      await server.close();
    }
  });
});
