// A deployment serving two partner tenants on one store and one server: each admin token opens its own tenant's
// records and nothing of the other's, over the API, the pages and the session cookie a sign-in sets.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYNC_MAPPING } from '../../core/deal-values.ts';

import { openSqliteStore, type SqliteStore } from '../../store/sqlite.ts';
import type { Store } from '../../store/store.ts';
import { buildServer, type CosellServer } from '../app.ts';
import { createLogger } from '../logger.ts';
import { AdminData } from './data.ts';

const TOKENS = { acme: 'acme-admin-token-0123456789-abc', globex: 'globex-admin-token-0123456789-xyz' };

async function seed(store: Store, crmId: string, name: string): Promise<number> {
  const { link } = await store.findOrCreateLinkForCrm('salesforce', crmId, { dealKind: 'opportunity' });
  await store.recordRun({
    linkId: link.id,
    trigger: 'crm-poll',
    referralId: null,
    crmId,
    outcome: 'failed',
    direction: 'none',
    error: { message: `No country on ${name}`, fix: 'Set the country on the account.' },
    apiCalls: {},
    durationMs: 30,
    diff: [],
    startedAt: new Date(),
    name,
    customer: name,
  });
  return link.id;
}

function adminData(tenantId: string, store: Store): AdminData {
  return new AdminData({
    tenantId,
    crmKind: 'salesforce',
    dryRun: false,
    store,
    engine: {
      pausedApis: () => [],
      apiUsage: () => [],
      apiHealth: () => [],
      inspect: async () => ({
        partnerCenter: { values: null, error: null },
        crm: { values: null, error: null },
        audit: [],
      }),
      resubmit: async () => 0,
    },
    mapping: SYNC_MAPPING,
    redactedConfig: { tenantId },
    webhook: () => ({ state: 'ours', url: `https://x/webhooks/${tenantId}`, message: 'ok', checkedAt: null }),
    referralUrl: (id) => `https://partner.example/${id}`,
    crmUrl: (id) => `https://crm.example/${id}`,
  });
}

describe('two partner tenants behind one dashboard', () => {
  let store: SqliteStore;
  let server: CosellServer;
  let url: string;
  const links: Record<string, number> = {};

  beforeAll(async () => {
    store = await openSqliteStore({ file: ':memory:', tenantId: 'acme' });
    const globex = store.forTenant('globex');
    links['acme'] = await seed(store, '006ACME', 'Acme Rockets');
    links['globex'] = await seed(globex, '006GLOBEX', 'Globex Hammocks');
    const data = new Map([
      ['acme', adminData('acme', store)],
      ['globex', adminData('globex', globex)],
    ]);
    server = await buildServer({
      webhooks: [],
      checkStore: async () => {},
      admin: {
        access: {
          tenants: [
            { tenantId: 'acme', token: TOKENS.acme },
            { tenantId: 'globex', token: TOKENS.globex },
          ],
        },
        dataFor: (tenantId) => data.get(tenantId)!,
        version: '0.1.0',
      },
      logger: createLogger({
        level: 'fatal',
        destination: new Writable({ write: (_c, _e, done) => done() }),
      }),
      bodyLimit: 4096,
    });
    url = (await server.listen({ port: 0, host: '127.0.0.1' })).replace(/\/$/, '');
  });
  afterAll(async () => {
    await server.close();
    await store.close();
  });

  const as = (tenant: keyof typeof TOKENS) => ({ authorization: `Bearer ${TOKENS[tenant]}` });

  it("R23 each tenant's token lists its own records only, and another tenant's record is not found", async () => {
    const acme = await (await fetch(`${url}/api/records`, { headers: as('acme') })).text();
    expect(acme).toContain('Acme Rockets');
    expect(acme).not.toContain('Globex');
    const globex = await (await fetch(`${url}/api/records`, { headers: as('globex') })).text();
    expect(globex).toContain('Globex Hammocks');
    expect(globex).not.toContain('Acme');
    const crossed = await fetch(`${url}/records/${links['globex']}`, { headers: as('acme') });
    expect(crossed.status).toBe(404);
    expect(await crossed.text()).not.toContain('Globex');
    const overview = await (await fetch(`${url}/api/overview`, { headers: as('globex') })).json();
    expect(overview).toMatchObject({ tenantId: 'globex' });
    expect((await fetch(`${url}/api/records`, { headers: { authorization: 'Bearer nobody' } })).status).toBe(
      401,
    );
  });

  it("R23 the session cookie a sign-in sets opens the signed-in tenant's pages, and only them", async () => {
    const signIn = await fetch(`${url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: TOKENS.globex, next: '/failures' }).toString(),
    });
    expect(signIn.status).toBe(303);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const page = await (await fetch(`${url}/failures`, { headers: { cookie } })).text();
    expect(page).toContain('tenant globex');
    expect(page).toContain('Globex Hammocks');
    expect(page).not.toContain('Acme');
    expect((await fetch(`${url}/records/${links['acme']}`, { headers: { cookie } })).status).toBe(404);
    expect(cookie).not.toContain(TOKENS.globex);
  });
});
