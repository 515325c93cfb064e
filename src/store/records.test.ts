import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Referral } from '../core/referral.ts';
import type { SqliteStore } from './sqlite.ts';
import type { RunInput } from './store.ts';
import { openTestStore, temporaryDirectory, testClock } from './test-support.ts';

const DAY = 86_400_000;

function run(overrides: Partial<RunInput> = {}): RunInput {
  return {
    linkId: null,
    trigger: 'crm-poll',
    referralId: 'r-1',
    crmId: '006A',
    outcome: 'changed',
    direction: 'toReferral',
    error: null,
    apiCalls: { 'partner-center.referrals': 2, salesforce: 1 },
    durationMs: 42,
    diff: [{ field: 'dealValue', change: 'changedInCrm', winner: 'crm', before: '10.00', after: '12.50' }],
    startedAt: new Date('2026-01-05T09:00:00Z'),
    ...overrides,
  };
}

describe('store: inbox, runs, cursors, secrets, retention', () => {
  let tmp: ReturnType<typeof temporaryDirectory>;
  let store: SqliteStore;
  let time: ReturnType<typeof testClock>;
  beforeEach(async () => {
    tmp = temporaryDirectory();
    time = testClock();
    store = await openTestStore(tmp, { clock: time.clock });
  });
  afterEach(async () => {
    await store.close();
    tmp.remove();
  });

  it('R2 stores a redelivered webhook once (idempotent on the dedupe key) and lists unprocessed events in order', async () => {
    const first = await store.acceptInbox({
      source: 'partner-center-webhook',
      dedupeKey: 'k1',
      payload: '{"a":1}',
    });
    const again = await store.acceptInbox({
      source: 'partner-center-webhook',
      dedupeKey: 'k1',
      payload: '{"a":1}',
    });
    const second = await store.acceptInbox({ source: 'crm-poll', dedupeKey: 'k2', payload: '{"b":2}' });
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ event: first.event, duplicate: true });
    expect((await store.unprocessedInbox(10)).map((e) => e.dedupeKey)).toEqual(['k1', 'k2']);
    await store.markInboxProcessed(first.event.id);
    expect((await store.unprocessedInbox(10)).map((e) => e.id)).toEqual([second.event.id]);
    // The same key in another tenant is another event.
    expect(
      (await store.forTenant('contoso').acceptInbox({ source: 'manual', dedupeKey: 'k1', payload: '' }))
        .duplicate,
    ).toBe(false);
  });

  it('R25 records runs with ids, outcome, error, API calls, duration and diff; pages newest first', async () => {
    const link = (
      await store.findOrCreateLinkForReferral('r-1', { crmKind: 'salesforce', dealKind: 'opportunity' })
    ).link;
    const recorded = [];
    for (let i = 0; i < 7; i++) {
      const failed = i % 3 === 0;
      recorded.push(
        await store.recordRun(
          run({
            linkId: i < 4 ? link.id : null,
            startedAt: time.at(i * 1_000),
            outcome: failed ? 'failed' : 'changed',
            error: failed ? { message: `failure ${i}`, fix: 'Add a contact.' } : null,
          }),
        ),
      );
    }
    expect(recorded[0]).toMatchObject({
      linkId: link.id,
      trigger: 'crm-poll',
      referralId: 'r-1',
      crmId: '006A',
      outcome: 'failed',
      direction: 'toReferral',
      error: { message: 'failure 0', fix: 'Add a contact.' },
      apiCalls: { 'partner-center.referrals': 2, salesforce: 1 },
      durationMs: 42,
      diff: [{ field: 'dealValue', change: 'changedInCrm', winner: 'crm', before: '10.00', after: '12.50' }],
      startedAt: time.at(0),
    });

    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page = await store.listRuns({ limit: 3, cursor });
      expect(page.runs.length).toBeLessThanOrEqual(3);
      seen.push(...page.runs.map((r) => r.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(recorded.map((r) => r.id).reverse());

    expect((await store.listRuns({ failed: true })).runs.map((r) => r.error?.message)).toEqual([
      'failure 6',
      'failure 3',
      'failure 0',
    ]);
    expect((await store.listRuns({ linkId: link.id, since: time.at(2_000) })).runs).toHaveLength(2);
    await expect(store.listRuns({ cursor: 'nonsense' })).rejects.toMatchObject({ code: 'invalidArgument' });
  });

  it('keeps named cursors per tenant', async () => {
    expect(await store.getCursor('salesforce.systemModstamp')).toBeNull();
    await store.setCursor('salesforce.systemModstamp', '2026-01-05T09:00:00.000Z');
    await store.setCursor('salesforce.systemModstamp', '2026-01-05T09:05:00.000Z');
    expect(await store.getCursor('salesforce.systemModstamp')).toBe('2026-01-05T09:05:00.000Z');
    expect(await store.forTenant('contoso').getCursor('salesforce.systemModstamp')).toBeNull();
  });

  it('R27 updates a cursor atomically across store connections: concurrent increments from two openings all count', async () => {
    const other = await openTestStore(tmp, { clock: time.clock });
    try {
      const increment = (current: string | null) => String(Number(current ?? '0') + 1);
      await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? store : other).updateCursor('budget:crm', increment)),
      );
      expect(await store.getCursor('budget:crm')).toBe('40');
      // Returning the current value (or null) writes nothing and answers what is stored.
      expect(await store.updateCursor('budget:crm', () => null)).toBe('40');
      expect(await store.forTenant('contoso').updateCursor('budget:crm', increment)).toBe('1');
      expect(await store.getCursor('budget:crm')).toBe('40');
    } finally {
      await other.close();
    }
  });

  it('keeps opaque secrets per tenant and deletes them', async () => {
    await store.setSecret('token-cache', 'ciphertext-1');
    await store.setSecret('token-cache', 'ciphertext-2');
    expect(await store.getSecret('token-cache')).toBe('ciphertext-2');
    expect(await store.forTenant('contoso').getSecret('token-cache')).toBeNull();
    await store.deleteSecret('token-cache');
    expect(await store.getSecret('token-cache')).toBeNull();
  });

  it('R33 purges contact data from old snapshots and runs, and old processed inbox events', async () => {
    const old = (
      await store.findOrCreateLinkForReferral('r-old', { crmKind: 'salesforce', dealKind: 'opportunity' })
    ).link;
    const values = { dealValue: '10.00', contacts: ['jane@contoso.com'] };
    // The referral the last sync saw holds the customer's team: dropped whole.
    const referral = { id: 'r-old', customerProfile: { team: [{ email: 'jane@contoso.com' }] } } as Referral;
    await store.saveSnapshot(old.id, { values, referralETag: 'e-1', referral });
    const oldRun = await store.recordRun(
      run({
        linkId: old.id,
        startedAt: time.at(0),
        diff: [
          {
            field: 'contacts',
            change: 'changedInCrm',
            winner: 'crm',
            before: [],
            after: ['jane@contoso.com'],
          },
          { field: 'dealValue', change: 'changedInCrm', winner: 'crm', before: '9.00', after: '10.00' },
        ],
        error: { message: 'Contact jane@contoso.com has no last name.', fix: 'Add a last name.' },
      }),
    );
    const oldEvent = await store.acceptInbox({
      source: 'crm-poll',
      dedupeKey: 'old',
      payload: 'jane@contoso.com',
    });
    await store.markInboxProcessed(oldEvent.event.id);
    await store.acceptInbox({ source: 'crm-poll', dedupeKey: 'old-unprocessed', payload: '{}' });

    time.advance(40 * DAY);
    const fresh = (
      await store.findOrCreateLinkForReferral('r-new', { crmKind: 'salesforce', dealKind: 'opportunity' })
    ).link;
    await store.saveSnapshot(fresh.id, { values, referralETag: 'e-2', referral });
    const freshRun = await store.recordRun(
      run({
        linkId: fresh.id,
        startedAt: time.clock(),
        diff: [{ field: 'contacts', change: 'changedInCrm', after: ['joe@contoso.com'] }],
      }),
    );

    const result = await store.purgePersonalData(time.at(-30 * DAY));
    expect(result).toEqual({ snapshots: 1, runs: 1, inboxEvents: 1 });
    expect((await store.getSnapshot(old.id))?.values).toEqual({ dealValue: '10.00' });
    expect((await store.getSnapshot(old.id))?.referral).toBeNull();
    expect((await store.getSnapshot(fresh.id))?.values).toEqual(values);
    expect((await store.getSnapshot(fresh.id))?.referral).toEqual(referral);
    const runs = (await store.listRuns()).runs;
    const purged = runs.find((r) => r.id === oldRun.id)!;
    expect(purged.diff).toEqual([
      { field: 'contacts', change: 'changedInCrm', winner: 'crm', purged: true },
      { field: 'dealValue', change: 'changedInCrm', winner: 'crm', before: '9.00', after: '10.00' },
    ]);
    expect(purged.error?.message).toBe('Contact [removed] has no last name.');
    expect(runs.find((r) => r.id === freshRun.id)?.diff).toEqual(freshRun.diff);
    expect((await store.unprocessedInbox(10)).map((e) => e.dedupeKey)).toEqual(['old-unprocessed']);

    // A second purge finds nothing left to do.
    expect(await store.purgePersonalData(time.at(-30 * DAY))).toEqual({
      snapshots: 0,
      runs: 0,
      inboxEvents: 0,
    });
  });
});
