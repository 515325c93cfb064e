// The admin surface over real HTTP: the token guard (bearer for scripts, a session cookie for browsers that never
// holds the token), cross-site writes refused, validation errors that say what to send, the OpenAPI document
// generated from the routes, and no secret in any answer. The browser suite drives the same pages on both CRMs.
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromObject } from '../../config/load.ts';
import { redactedConfig, withoutPassword } from '../../config/redact.ts';
import { SYNC_MAPPING } from '../../core/deal-values.ts';
import { openSqliteStore, type SqliteStore } from '../../store/sqlite.ts';
import { buildServer, type CosellServer } from '../app.ts';
import { createLogger } from '../logger.ts';
import { API_ROUTES } from './api.ts';
import { adminTokenProblem, isLoopback, sessionValue } from './auth.ts';
import { AdminData, groupKeyOf, latencyOf } from './data.ts';
import { overviewSchema, recordsPageSchema } from './schemas.ts';

const TOKEN = 'admin-token-0123456789-abcdefghij';

/** The service's HTTP server with only the admin surface wired (the webhook refuses everything). */
function adminServer(data: AdminData, token: string | null): Promise<CosellServer> {
  return buildServer({
    webhooks: [
      {
        path: '/webhooks/partner-center',
        tenantId: 'default',
        engine: { acceptWebhook: async () => ({ duplicate: false }) },
        verifySignature: async () => ({ ok: false, code: 'missing-signature', reason: 'no signature' }),
      },
    ],
    checkStore: async () => {},
    admin: { access: { tenants: [{ tenantId: 'default', token }] }, dataFor: () => data, version: '0.1.0' },
    logger: createLogger({ level: 'fatal', destination: new Writable({ write: (_c, _e, done) => done() }) }),
    bodyLimit: 4096,
  });
}
const CLIENT_SECRET = 'sf-client-secret-value-4242';
const STORE_PASSWORD = 'pg-password-9911';

describe('admin API and dashboard over HTTP, token required', () => {
  let store: SqliteStore;
  let server: CosellServer;
  let url: string;
  const bodies: string[] = [];
  const get = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${url}${path}`, { redirect: 'manual', ...init });
    bodies.push(await response.clone().text());
    return response;
  };
  const bearer = { authorization: `Bearer ${TOKEN}` };
  const resubmitted: unknown[] = [];

  beforeAll(async () => {
    store = await openSqliteStore({ file: ':memory:' });
    const { link } = await store.findOrCreateLinkForCrm('salesforce', '006NW', { dealKind: 'opportunity' });
    await store.saveSnapshot(link.id, {
      error: { rule: 'country-code-missing', message: 'No country on Northwind' },
    });
    await store.recordRun({
      linkId: link.id,
      trigger: 'crm-poll',
      referralId: null,
      crmId: '006NW',
      outcome: 'failed',
      direction: 'none',
      error: { message: 'No country on Northwind', fix: 'Set the country on the account.' },
      apiCalls: {},
      durationMs: 30,
      diff: [],
      startedAt: new Date(),
      name: 'Northwind <script>alert(1)</script>',
      customer: 'Northwind Traders',
    });
    const config = await configFromObject(
      {
        partnerCenter: { tenantId: 't', clientId: 'c' },
        crm: {
          kind: 'salesforce',
          salesforce: { connection: { auth: { grant: 'client-credentials', clientId: 'x' } } },
        },
      },
      {
        COSELL_SF_CLIENT_SECRET: CLIENT_SECRET,
        COSELL_STORE_URL: `postgres://cosell:${STORE_PASSWORD}@db.internal/cosell`,
      },
      { file: 'test', baseDir: '/tmp' },
    );
    const data = new AdminData({
      tenantId: 'default',
      crmKind: 'salesforce',
      dryRun: false,
      store,
      engine: {
        pausedApis: () => [],
        apiUsage: () => [{ api: 'partner-center', usedToday: 90, limit: 100 }],
        apiHealth: () => [],
        inspect: async () => ({
          partnerCenter: { values: null, error: null },
          crm: { values: { name: 'Northwind' }, error: null },
          audit: ['one line'],
        }),
        resubmit: async (target) => {
          resubmitted.push(target);
          return 1;
        },
      },
      mapping: SYNC_MAPPING,
      redactedConfig: redactedConfig(config),
      webhook: () => ({ state: 'ours', url: 'https://x/webhooks', message: 'ok', checkedAt: null }),
      referralUrl: (id) => `https://partner.example/${id}`,
      crmUrl: (id) => `https://crm.example/${id}`,
    });
    server = await adminServer(data, TOKEN);
    url = (await server.listen({ port: 0, host: '127.0.0.1' })).replace(/\/$/, '');
  });
  afterAll(async () => {
    await server.close();
    await store.close();
  });

  it('refuses the API without the token (401 with the fix) and sends a browser to sign in', async () => {
    const api = await get('/api/overview');
    expect(api.status).toBe(401);
    expect(await api.json()).toMatchObject({
      error: { code: 'unauthorized', fix: expect.stringContaining('Bearer') },
    });
    expect((await get('/api/records', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const page = await get('/failures');
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/login?next=%2Ffailures');
    // The sign-in page and the stylesheet are open: nothing in them is data.
    expect((await get('/login')).status).toBe(200);
    expect((await get('/assets/cosell.css')).status).toBe(200);
  });

  it('R25 answers with the token: overview and records validate against their schemas; bad queries say what to send', async () => {
    const overview = await get('/api/overview', { headers: bearer });
    expect(overview.status).toBe(200);
    const o = overviewSchema.parse(await overview.json());
    expect(o.counts).toMatchObject({ linked: 1, failing: 1 });
    expect(o.budgets[0]).toEqual({ api: 'partner-center', usedToday: 90, limit: 100 });
    const records = recordsPageSchema.parse(
      await (await get('/api/records?q=northwind', { headers: bearer })).json(),
    );
    expect(records.records.map((r) => [r.name, r.state])).toEqual([
      ['Northwind <script>alert(1)</script>', 'failing'],
    ]);

    const bad = await get('/api/records?limit=abc&state=broken', { headers: bearer });
    expect(bad.status).toBe(400);
    const problem = (await bad.json()) as { error: { message: string; fix: string } };
    expect(problem.error.message).toMatch(/^The request's query is not valid: .*limit: /);
    expect(problem.error.message).toMatch(/state: .*"failing"/);
    expect(problem.error.fix).toContain('/api/openapi.json');
    expect((await get('/api/records/999', { headers: bearer })).status).toBe(404);
  });

  it('signs a browser in with a cookie that is not the token; a page never runs markup from a record name', async () => {
    const wrong = await get('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'nope', next: '/failures' }).toString(),
    });
    expect(wrong.headers.get('location')).toBe('/login?failed=1&next=%2Ffailures');
    const right = await get('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: TOKEN, next: '//evil.example/' }).toString(),
    });
    expect(right.status).toBe(303);
    expect(right.headers.get('location')).toBe('/');
    const cookie = right.headers.get('set-cookie')!;
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).not.toContain(TOKEN);
    const session = cookie.split(';')[0]!;
    expect(session).toBe(`cosell_admin=${sessionValue(TOKEN)}`);
    const failures = await get('/failures', { headers: { cookie: session } });
    expect(failures.status).toBe(200);
    const page = await failures.text();
    expect(page).toContain('Northwind &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).not.toContain('<script>');
    expect(page).toContain('Set the country on the account.');
  });

  it('R25 resubmits from the API with the token; a write from another site is refused even with the cookie', async () => {
    const ok = await get('/api/resubmit', {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/json' },
      body: JSON.stringify({ allFailed: true }),
    });
    expect(await ok.json()).toEqual({ queued: 1 });
    const both = await get('/api/resubmit', {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/json' },
      body: JSON.stringify({ allFailed: true, linkIds: [1] }),
    });
    expect(both.status).toBe(400);
    const crossSite = await get('/failures/resubmit', {
      method: 'POST',
      headers: {
        cookie: `cosell_admin=${sessionValue(TOKEN)}`,
        origin: 'https://evil.example',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'scope=all',
    });
    expect(crossSite.status).toBe(403);
    expect(resubmitted).toEqual([{ allFailed: true }]);

    // The failures page's form: the ticked records only, then back to the page with how many were queued.
    const form = new URLSearchParams([
      ['scope', 'selected'],
      ['linkId', '1'],
      ['linkId', '999'],
    ]);
    const selected = await get('/failures/resubmit', {
      method: 'POST',
      headers: {
        cookie: `cosell_admin=${sessionValue(TOKEN)}`,
        origin: url,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: form.toString(),
    });
    expect(selected.status).toBe(303);
    expect(selected.headers.get('location')).toBe('/failures?queued=1');
    // 999 names no record of this tenant: only the known one is queued.
    expect(resubmitted.at(-1)).toEqual({ linkIds: [1] });
  });

  it('serves an OpenAPI 3 document generated from every admin route', async () => {
    const doc = (await (await get('/api/openapi.json', { headers: bearer })).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { parameters?: { name: string }[] }>>;
    };
    expect(doc.openapi).toBe('3.0.3');
    for (const route of API_ROUTES) {
      expect(doc.paths[route.path.replace(/:(\w+)/g, '{$1}')]?.[route.method.toLowerCase()]).toBeDefined();
    }
    expect(doc.paths['/api/records']?.get?.parameters?.map((p) => p.name)).toEqual([
      'q',
      'state',
      'direction',
      'limit',
      'cursor',
    ]);
  });

  it('shows the effective settings with every secret redacted, in the page and in the API', async () => {
    const settings = (await (await get('/api/settings', { headers: bearer })).json()) as {
      config: {
        crm: { salesforce: { connection: { auth: { clientSecret: string } } } };
        store: { url: string };
      };
      mapping: { field: string; direction: string; owner: string }[];
    };
    expect(settings.config.crm.salesforce.connection.auth.clientSecret).toBe(
      '[redacted: from COSELL_SF_CLIENT_SECRET]',
    );
    expect(settings.config.store.url).toContain('db.internal');
    expect(settings.mapping.find((m) => m.field === 'dealValue')).toMatchObject({ direction: 'both' });
    expect((await get('/settings', { headers: bearer })).status).toBe(200);
    for (const body of bodies) {
      expect(body).not.toContain(CLIENT_SECRET);
      expect(body).not.toContain(STORE_PASSWORD);
      expect(body).not.toContain(TOKEN);
    }
  });
});

describe('admin helpers', () => {
  it('needs a token of 24+ characters off loopback, none on it', () => {
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('localhost')).toBe(true);
    expect(isLoopback('0.0.0.0')).toBe(false);
    expect(adminTokenProblem('127.0.0.1', undefined)).toBeNull();
    expect(adminTokenProblem('0.0.0.0', undefined)).toMatch(/COSELL_ADMIN_TOKEN.*openssl rand/);
    expect(adminTokenProblem('0.0.0.0', 'short')).toMatch(/shorter than 24/);
    expect(adminTokenProblem('0.0.0.0', TOKEN)).toBeNull();
  });

  it('groups failures that differ only by names and ids', () => {
    expect(groupKeyOf("Account 'Northwind' (001A7) has no country")).toBe(
      groupKeyOf("Account 'Fabrikam' (001B9) has no country"),
    );
    expect(groupKeyOf('Salesforce refused: timeout')).not.toBe(groupKeyOf('Salesforce refused: 500'));
  });

  it('p50/p95 from the runs that changed something in one direction', () => {
    const runs = [10, 20, 30, 40, 1000].map((durationMs, i) => ({
      id: i,
      linkId: 1,
      jobId: null,
      trigger: 'crm-poll' as const,
      referralId: null,
      crmId: null,
      outcome: 'changed' as const,
      direction: 'toReferral' as const,
      error: null,
      apiCalls: {},
      durationMs,
      diff: [],
      startedAt: new Date(),
    }));
    expect(latencyOf(runs, 'toReferral')).toMatchObject({ runs: 5, p50Ms: 30, p95Ms: 1000 });
    expect(latencyOf(runs, 'toCrm')).toMatchObject({ runs: 0, p50Ms: null });
  });

  it('keeps a database URL readable without its password', () => {
    expect(withoutPassword('postgres://u:p4ss@h/db')).toBe(
      'postgres://u:redacted@h/db (password from COSELL_STORE_URL)',
    );
    expect(withoutPassword('/var/lib/cosell.db')).toBe('/var/lib/cosell.db');
  });
});

describe('admin surface without a token (loopback only)', () => {
  it('answers requests addressed to 127.0.0.1 and refuses another Host name (DNS rebinding)', async () => {
    const store = await openSqliteStore({ file: ':memory:' });
    const data = new AdminData({
      tenantId: 'default',
      crmKind: 'dynamics',
      dryRun: false,
      store,
      engine: {
        pausedApis: () => [],
        apiUsage: () => [],
        apiHealth: () => [],
        inspect: async () => null,
        resubmit: async () => 0,
      },
      mapping: SYNC_MAPPING,
      redactedConfig: {},
      webhook: () => ({ state: 'unchecked', url: '', message: 'Not checked yet.', checkedAt: null }),
      referralUrl: (id) => id,
      crmUrl: () => null,
    });
    const server = await adminServer(data, null);
    try {
      const base = (await server.listen({ port: 0, host: '127.0.0.1' })).replace(/\/$/, '');
      expect((await fetch(`${base}/api/overview`)).status).toBe(200);
      expect((await fetch(`${base}/`)).status).toBe(200);
      const port = new URL(base).port;
      expect((await fetch(`http://localhost:${port}/api/records`)).status).toBe(200);
      // fetch() will not set Host itself: node:http does, as a rebinding browser would send its own name.
      const status = await new Promise<number>((resolve, reject) => {
        request(
          { host: '127.0.0.1', port, path: '/api/overview', headers: { host: `evil.example:${port}` } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        )
          .on('error', reject)
          .end();
      });
      expect(status).toBe(403);
    } finally {
      await server.close();
      await store.close();
    }
  });
});
