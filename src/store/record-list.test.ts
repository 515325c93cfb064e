// The records list the dashboard pages through: the summary each run leaves on its link, search by id, name and
// customer, filters by state and direction, keyset paging, counts, and another tenant's rows never showing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqliteStore } from './sqlite.ts';
import type { RunInput } from './store.ts';
import { openTestStore, temporaryDirectory, testClock } from './test-support.ts';

function run(linkId: number, overrides: Partial<RunInput> = {}): RunInput {
  return {
    linkId,
    trigger: 'crm-poll',
    referralId: null,
    crmId: null,
    outcome: 'changed',
    direction: 'toReferral',
    error: null,
    apiCalls: {},
    durationMs: 40,
    diff: [],
    startedAt: new Date('2026-01-05T09:00:00Z'),
    ...overrides,
  };
}

describe('store: the records list (dashboard)', () => {
  let tmp: ReturnType<typeof temporaryDirectory>;
  let store: SqliteStore;
  beforeEach(async () => {
    tmp = temporaryDirectory();
    store = await openTestStore(tmp, { clock: testClock().clock });
  });
  afterEach(async () => {
    await store.close();
    tmp.remove();
  });

  async function link(crmId: string, name: string, customer: string, over: Partial<RunInput> = {}) {
    const { link } = await store.findOrCreateLinkForCrm('salesforce', crmId, { dealKind: 'opportunity' });
    await store.recordRun(run(link.id, { crmId, name, customer, ...over }));
    return link;
  }

  it('R25 each run leaves the name, customer, time, outcome and direction on its record; search finds by id, name or customer', async () => {
    const fabrikam = await link('006A', 'Fabrikam Analytics', 'Fabrikam Inc');
    await store.attachReferral(fabrikam.id, 'ref-fab');
    await link('006B', 'Northwind 50%_off estate', 'Northwind Traders', {
      outcome: 'failed',
      direction: 'none',
    });
    await link('006C', 'Contoso migration', 'Contoso Ltd', { direction: 'toCrm' });

    const all = await store.listRecords();
    expect(all.records.map((r) => r.link.crmId)).toEqual(['006C', '006B', '006A']);
    const northwind = all.records[1]!;
    expect(northwind).toMatchObject({ name: 'Northwind 50%_off estate', customer: 'Northwind Traders' });
    expect(northwind.lastOutcome).toBe('failed');
    expect(northwind.lastDirection).toBeNull();
    expect(northwind.lastRunAt?.toISOString()).toBe('2026-01-05T09:00:00.000Z');

    const names = async (search: string) => (await store.listRecords({ search })).records.map((r) => r.name);
    expect(await names('ref-fab')).toEqual(['Fabrikam Analytics']);
    expect(await names('006C')).toEqual(['Contoso migration']);
    expect(await names('northwind')).toEqual(['Northwind 50%_off estate']);
    expect(await names('CONTOSO LTD')).toEqual(['Contoso migration']);
    // LIKE wildcards typed by a user are literal text.
    expect(await names('50%_')).toEqual(['Northwind 50%_off estate']);
    expect(await names('%')).toEqual(['Northwind 50%_off estate']);
    expect(await names('nothing like it')).toEqual([]);
  });

  it('R19 R25 filters by state (ok, failing, dead, unshared) and direction; counts agree', async () => {
    await link('006A', 'Synced', 'A');
    const failing = await link('006B', 'Refused', 'B', { outcome: 'failed', direction: 'none' });
    await store.saveSnapshot(failing.id, { error: { rule: 'country-code-missing', message: 'No country' } });
    await link('006C', 'Dead', 'C', { outcome: 'dead', direction: 'none' });
    const unshared = await link('006D', 'Unticked', 'D', { direction: 'toCrm' });
    await store.setLinkState(unshared.id, 'unshared');

    const names = async (query: Parameters<SqliteStore['listRecords']>[0]) =>
      (await store.listRecords(query)).records.map((r) => r.name);
    expect(await names({ state: 'ok' })).toEqual(['Synced']);
    expect(await names({ state: 'failing' })).toEqual(['Refused']);
    expect(await names({ state: 'dead' })).toEqual(['Dead']);
    expect(await names({ state: 'unshared' })).toEqual(['Unticked']);
    expect(await names({ direction: 'toCrm' })).toEqual(['Unticked']);
    expect((await store.getRecord(failing.id))?.error).toEqual({
      rule: 'country-code-missing',
      message: 'No country',
    });

    expect(await store.recordCounts()).toEqual({ linked: 4, failing: 1, dead: 1, unshared: 1, orphaned: 0 });
    // Another tenant on the same file sees none of it.
    const other = store.forTenant('other');
    expect((await other.listRecords()).records).toEqual([]);
    expect(await other.recordCounts()).toEqual({ linked: 0, failing: 0, dead: 0, unshared: 0, orphaned: 0 });
    expect(await other.getRecord(failing.id)).toBeNull();
  });

  it('R25 pages newest first with a cursor, every record once; a later success clears failing', async () => {
    for (let i = 0; i < 7; i++) await link(`006${i}`, `Deal ${i}`, 'Customer');
    const seen: string[] = [];
    for (let cursor: string | null = null; ; ) {
      const page = await store.listRecords({ limit: 3, cursor });
      seen.push(...page.records.map((r) => r.name!));
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toEqual(['Deal 6', 'Deal 5', 'Deal 4', 'Deal 3', 'Deal 2', 'Deal 1', 'Deal 0']);

    const again = await link('006X', 'Flaky', 'Customer', { outcome: 'failed', direction: 'none' });
    expect((await store.listRecords({ state: 'failing' })).records).toHaveLength(1);
    await store.recordRun(run(again.id, { outcome: 'changed', direction: 'toReferral' }));
    expect((await store.listRecords({ state: 'failing' })).records).toHaveLength(0);
    expect((await store.getRecord(again.id))?.name).toBe('Flaky');
  });
});
