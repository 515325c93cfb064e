import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storeMigrationProvider } from './migrations/index.ts';
import { openSqliteStore, type SqliteStore } from './sqlite.ts';
import { StoreError } from './store.ts';
import { openTestStore, temporaryDirectory, testClock } from './test-support.ts';

const OPPORTUNITY = { crmKind: 'salesforce', dealKind: 'opportunity' } as const;

describe('SQLite store: opening and migrations', () => {
  let tmp: ReturnType<typeof temporaryDirectory>;
  beforeEach(() => {
    tmp = temporaryDirectory();
  });
  afterEach(() => tmp.remove());

  it('migrates a new file once, reopens without re-running, and keeps the data', async () => {
    const file = tmp.file('nested/dir/cosell.db');
    const first = await openSqliteStore({ file });
    await first.findOrCreateLinkForReferral('r-1', OPPORTUNITY);
    await first.close();

    const second = await openSqliteStore({ file });
    expect((await second.linkByReferral('r-1'))?.referralId).toBe('r-1');
    await second.close();

    const raw = new Database(file, { readonly: true });
    const applied = raw.prepare('select name from kysely_migration').all();
    raw.close();
    expect(applied).toEqual([
      { name: '0001_initial' },
      { name: '0002_failed_digest' },
      { name: '0003_record_summary' },
      { name: '0004_snapshot_referral' },
      { name: '0005_indexed_sweeps' },
    ]);
  });

  it('R30 the deadline column is filled from the values stored before the migration that added it', async () => {
    const file = tmp.file();
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new Database(file) }) });
    await new Migrator({ db, provider: storeMigrationProvider('sqlite') }).migrateTo(
      '0004_snapshot_referral',
    );
    const now = '2026-01-05T09:00:00.000Z';
    await sql`insert into links (tenant_id, referral_id, crm_kind, crm_id, deal_kind, state, created_at, updated_at)
      values ('default', 'r-old', 'salesforce', '006OLD', 'opportunity', 'active', ${now}, ${now})`.execute(
      db,
    );
    await sql`insert into snapshots (link_id, tenant_id, values_json, updated_at)
      values (1, 'default', ${JSON.stringify({ status: 'New', responseDeadline: '2026-01-06T09:00:00Z' })}, ${now})`.execute(
      db,
    );
    await db.destroy();
    const store = await openSqliteStore({ file });
    try {
      expect(
        await store.linksWithDeadlineBetween(
          new Date('2026-01-05T00:00:00Z'),
          new Date('2026-01-07T00:00:00Z'),
        ),
      ).toEqual([1]);
    } finally {
      await store.close();
    }
  });

  it('enforces one link per referral and per CRM record in the schema itself', async () => {
    const store = await openSqliteStore({ file: tmp.file() });
    await store.findOrCreateLinkForReferral('r-1', { ...OPPORTUNITY, crmId: '006A' });
    const raw = new Database(tmp.file());
    const insert = raw.prepare(
      `insert into links (tenant_id, referral_id, crm_kind, crm_id, deal_kind, state, created_at, updated_at)
       values ('default', ?, 'salesforce', ?, 'opportunity', 'active', 'x', 'x')`,
    );
    expect(() => insert.run('r-1', null)).toThrow(/UNIQUE/);
    expect(() => insert.run(null, '006A')).toThrow(/UNIQUE/);
    raw.close();
    await store.close();
  });

  it('R2 commits durably: WAL, synchronous=FULL, foreign keys and a busy timeout on every connection', async () => {
    const store = await openSqliteStore({ file: tmp.file() });
    expect(store.pragma('journal_mode')).toBe('wal');
    expect(store.pragma('synchronous')).toBe(2); // FULL
    expect(store.pragma('foreign_keys')).toBe(1);
    expect(store.pragma('busy_timeout')).toBe(5000);
    await store.close();
  });

  it('openStore opens an in-memory store bound to a tenant', async () => {
    const { openStore } = await import('./open.ts');
    const store = await openStore({ url: ':memory:', tenantId: 'contoso' });
    const { link } = await store.findOrCreateLinkForReferral('r-1', OPPORTUNITY);
    expect(link.tenantId).toBe('contoso');
    expect(await store.forTenant('fabrikam').linkByReferral('r-1')).toBeNull();
    await store.close();
  });

  it('a PostgreSQL URL opens the PostgreSQL store: unreachable, one error with the fix and without the password', async () => {
    const { openStore } = await import('./open.ts');
    const error = await openStore({ url: 'postgres://cosell:s3cret-pa55@127.0.0.1:1/cosell' }).then(
      () => null,
      (e: StoreError) => e,
    );
    expect(error).toMatchObject({ code: 'migrationFailed' });
    expect(`${error?.message} ${error?.fix}`).not.toContain('s3cret-pa55');
    expect(error?.fix).toContain('store.url');
  });
});

describe('store: links', () => {
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

  it('creates a link the first time a referral is seen and finds it again', async () => {
    const first = await store.findOrCreateLinkForReferral('r-1', { ...OPPORTUNITY, engagementId: 'e-1' });
    const again = await store.findOrCreateLinkForReferral('r-1', OPPORTUNITY);
    expect(first.created).toBe(true);
    expect(again).toEqual({ link: first.link, created: false });
    expect(first.link).toMatchObject({
      referralId: 'r-1',
      engagementId: 'e-1',
      crmId: null,
      state: 'active',
    });
    expect(await store.linksByEngagement('e-1')).toEqual([first.link]);
  });

  it('joins the CRM record a referral names (externalReferenceId) instead of creating a second link', async () => {
    const deal = await store.findOrCreateLinkForCrm('salesforce', '006A', { dealKind: 'opportunity' });
    const referral = await store.findOrCreateLinkForReferral('r-1', { ...OPPORTUNITY, crmId: '006A' });
    expect(referral.created).toBe(false);
    expect(referral.link.id).toBe(deal.link.id);
    expect(referral.link).toMatchObject({ referralId: 'r-1', crmId: '006A' });
  });

  it('R32 adopts a CRM record that already carries a Referral Identifier', async () => {
    const referral = await store.findOrCreateLinkForReferral('r-1', OPPORTUNITY);
    const deal = await store.findOrCreateLinkForCrm('salesforce', '006A', {
      dealKind: 'opportunity',
      referralId: 'r-1',
    });
    expect(deal).toMatchObject({ created: false, link: { id: referral.link.id, crmId: '006A' } });
  });

  it('merges two links seen separately once one names the other', async () => {
    const referral = await store.findOrCreateLinkForReferral('r-1', OPPORTUNITY);
    const deal = await store.findOrCreateLinkForCrm('salesforce', '006A', { dealKind: 'opportunity' });
    await store.enqueueJob(deal.link.id, 'crm-poll', new Date('2026-01-05T09:00:00Z'));
    await store.saveSnapshot(deal.link.id, { values: { dealValue: '10.00' } });
    await store.recordRun(run(deal.link.id));

    const merged = await store.findOrCreateLinkForReferral('r-1', { ...OPPORTUNITY, crmId: '006A' });

    expect(merged.link).toMatchObject({ id: referral.link.id, referralId: 'r-1', crmId: '006A' });
    expect(await store.getLink(deal.link.id)).toBeNull();
    expect((await store.listJobs({ linkId: referral.link.id })).map((j) => j.state)).toEqual(['pending']);
    expect((await store.getSnapshot(referral.link.id))?.values).toEqual({ dealValue: '10.00' });
    expect((await store.listRuns({ linkId: referral.link.id })).runs).toHaveLength(1);
  });

  it('mergeLinks coalesces both pending jobs into one and keeps the earlier run time', async () => {
    const a = (await store.findOrCreateLinkForReferral('r-1', OPPORTUNITY)).link;
    const b = (await store.findOrCreateLinkForCrm('salesforce', '006A', { dealKind: 'opportunity' })).link;
    await store.enqueueJob(a.id, 'partner-center-webhook', new Date('2026-01-05T10:00:00Z'));
    await store.enqueueJob(b.id, 'crm-poll', new Date('2026-01-05T09:30:00Z'));
    await store.mergeLinks(a.id, b.id);
    const jobs = await store.listJobs({ linkId: a.id });
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({
      state: 'pending',
      hints: 2,
      nextRunAt: new Date('2026-01-05T09:30:00Z'),
    });
  });

  it('refuses to merge links that pair with different referrals', async () => {
    const a = (
      await store.findOrCreateLinkForCrm('salesforce', '006A', { dealKind: 'opportunity', referralId: 'r-1' })
    ).link;
    const b = (
      await store.findOrCreateLinkForCrm('salesforce', '006B', { dealKind: 'opportunity', referralId: 'r-2' })
    ).link;
    const error = await store.mergeLinks(a.id, b.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: 'linkConflict' });
    expect(await store.getLink(b.id)).not.toBeNull();
  });

  it('attachReferral / attachCrm fill the missing side and merge a link holding it', async () => {
    const deal = (await store.findOrCreateLinkForCrm('salesforce', '006A', { dealKind: 'opportunity' })).link;
    const byWebhook = (await store.findOrCreateLinkForReferral('r-1', OPPORTUNITY)).link;
    const attached = await store.attachReferral(deal.id, 'r-1', 'e-1');
    expect(attached).toMatchObject({ id: deal.id, referralId: 'r-1', crmId: '006A', engagementId: 'e-1' });
    expect(await store.getLink(byWebhook.id)).toBeNull();

    const referral = (await store.findOrCreateLinkForReferral('r-2', OPPORTUNITY)).link;
    expect(await store.attachCrm(referral.id, '006B')).toMatchObject({ crmId: '006B' });
    await expect(store.attachCrm(referral.id, '006C')).rejects.toMatchObject({ code: 'linkConflict' });
  });

  it('R9 relinks a converted lead to its new opportunity id with the same referral', async () => {
    const lead = (
      await store.findOrCreateLinkForCrm('salesforce', '00Q1', { dealKind: 'lead', referralId: 'r-1' })
    ).link;
    const relinked = await store.replaceCrmId(lead.id, '006N', 'opportunity');
    expect(relinked).toMatchObject({
      id: lead.id,
      referralId: 'r-1',
      crmId: '006N',
      dealKind: 'opportunity',
    });
    expect(await store.linkByCrm('salesforce', '00Q1')).toBeNull();
    expect((await store.linkByCrm('salesforce', '006N'))?.id).toBe(lead.id);
  });

  it('R31 relinks to the surviving record of a CRM merge, folding that record’s link in', async () => {
    const linked = (
      await store.findOrCreateLinkForCrm('salesforce', '006A', { dealKind: 'opportunity', referralId: 'r-1' })
    ).link;
    const survivor = (await store.findOrCreateLinkForCrm('salesforce', '006B', { dealKind: 'opportunity' }))
      .link;
    await store.enqueueJob(survivor.id, 'crm-poll', new Date('2026-01-05T09:00:00Z'));
    const relinked = await store.replaceCrmId(linked.id, '006B');
    expect(relinked).toMatchObject({ id: linked.id, referralId: 'r-1', crmId: '006B' });
    expect(await store.getLink(survivor.id)).toBeNull();
    expect(await store.listJobs({ linkId: linked.id })).toHaveLength(1);
  });

  it('R31 records un-share and orphan states without losing the link', async () => {
    const link = (await store.findOrCreateLinkForReferral('r-1', { ...OPPORTUNITY, crmId: '006A' })).link;
    expect((await store.setLinkState(link.id, 'unshared')).state).toBe('unshared');
    expect((await store.setLinkState(link.id, 'orphaned')).state).toBe('orphaned');
    expect((await store.listLinks({ state: 'orphaned' })).map((l) => l.id)).toEqual([link.id]);
  });

  it('keeps tenants apart: same referral id in two tenants, ids of another tenant are not found', async () => {
    const other = store.forTenant('contoso');
    const mine = (await store.findOrCreateLinkForReferral('r-1', OPPORTUNITY)).link;
    const theirs = (await other.findOrCreateLinkForReferral('r-1', OPPORTUNITY)).link;
    expect(theirs.id).not.toBe(mine.id);
    expect(theirs.tenantId).toBe('contoso');
    expect(await other.getLink(mine.id)).toBeNull();
    await expect(other.enqueueJob(mine.id, 'manual', new Date())).rejects.toMatchObject({ code: 'notFound' });
  });
});

describe('store: snapshots and create intents', () => {
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

  it('R30 finds the referrals whose response deadline falls in a window from the index: active opportunities with both sides', async () => {
    const awaiting = (deadline: string | null) => ({ values: { status: 'New', responseDeadline: deadline } });
    const soon = (await store.findOrCreateLinkForReferral('r-soon', { ...OPPORTUNITY, crmId: '006S' })).link;
    const later = (await store.findOrCreateLinkForReferral('r-later', { ...OPPORTUNITY, crmId: '006L' }))
      .link;
    const noCrm = (await store.findOrCreateLinkForReferral('r-nocrm', OPPORTUNITY)).link;
    const answered = (await store.findOrCreateLinkForReferral('r-done', { ...OPPORTUNITY, crmId: '006D' }))
      .link;
    await store.saveSnapshot(soon.id, awaiting('2026-01-06T09:00:00Z'));
    await store.saveSnapshot(later.id, awaiting('2026-01-20T09:00:00Z'));
    await store.saveSnapshot(noCrm.id, awaiting('2026-01-06T10:00:00Z'));
    await store.saveSnapshot(answered.id, awaiting('2026-01-06T11:00:00Z'));
    // An answer clears the deadline from the values, and from the index.
    await store.saveSnapshot(answered.id, awaiting(null));
    const window = [new Date('2026-01-05T09:00:00Z'), new Date('2026-01-08T09:00:00Z')] as const;
    expect(await store.linksWithDeadlineBetween(...window)).toEqual([soon.id]);
    expect(await store.forTenant('contoso').linksWithDeadlineBetween(...window)).toEqual([]);
    expect(
      await store.linksWithDeadlineBetween(
        new Date('2026-01-01T00:00:00Z'),
        new Date('2026-02-01T00:00:00Z'),
      ),
    ).toEqual([soon.id, later.id]);
  });

  it('R25 lists the failed links to re-check from the index: active, with a CRM record, this tenant only, in id order', async () => {
    const failed = { error: { rule: 'country-code-missing', message: 'No country' } };
    const a = (await store.findOrCreateLinkForCrm('salesforce', '006A', { dealKind: 'opportunity' })).link;
    const fine = (await store.findOrCreateLinkForCrm('salesforce', '006B', { dealKind: 'opportunity' })).link;
    const noCrm = (await store.findOrCreateLinkForReferral('r-new', OPPORTUNITY)).link;
    const unshared = (await store.findOrCreateLinkForCrm('salesforce', '006C', { dealKind: 'opportunity' }))
      .link;
    const b = (await store.findOrCreateLinkForCrm('salesforce', '006D', { dealKind: 'opportunity' })).link;
    for (const link of [a, noCrm, unshared, b]) await store.saveSnapshot(link.id, failed);
    await store.saveSnapshot(fine.id, { values: null });
    await store.setLinkState(unshared.id, 'unshared');
    const contoso = store.forTenant('contoso');
    const theirs = (await contoso.findOrCreateLinkForCrm('salesforce', '006X', { dealKind: 'opportunity' }))
      .link;
    await contoso.saveSnapshot(theirs.id, failed);

    expect(await store.failedLinkIds()).toEqual([a.id, b.id]);
    expect(await store.failedLinkIds({ afterId: a.id, limit: 1 })).toEqual([b.id]);
    // A fixed record leaves the list.
    await store.saveSnapshot(a.id, { error: null });
    expect(await store.failedLinkIds()).toEqual([b.id]);
    expect(await contoso.failedLinkIds()).toEqual([theirs.id]);
  });

  it('saves a snapshot partially: the error state changes without touching the values', async () => {
    const link = (await store.findOrCreateLinkForReferral('r-1', OPPORTUNITY)).link;
    expect(await store.getSnapshot(link.id)).toBeNull();
    await store.saveSnapshot(link.id, {
      values: { dealValue: '10.00', solutions: ['sol-1'], visibility: true, notes: null },
      referralETag: 'W/"1"',
      referralUpdatedAt: '2026-01-05T08:00:00.123Z',
      crmVersion: '2026-01-05T08:00:01.000+0000',
    });
    const failed = await store.saveSnapshot(link.id, {
      error: { rule: 'coSellNeedsContact', message: 'Add a contact.' },
    });
    expect(failed).toMatchObject({
      values: { dealValue: '10.00', solutions: ['sol-1'], visibility: true, notes: null },
      referralETag: 'W/"1"',
      error: { rule: 'coSellNeedsContact', message: 'Add a contact.' },
    });
    expect((await store.saveSnapshot(link.id, { error: null })).error).toBeNull();
  });

  it('keeps a create intent through its lifecycle and attaches the referral when it is confirmed', async () => {
    const link = (await store.findOrCreateLinkForCrm('salesforce', '006A', { dealKind: 'opportunity' })).link;
    const intent = await store.recordCreateIntent({
      linkId: link.id,
      crmId: '006A',
      externalReferenceId: '006A',
    });
    expect(intent).toMatchObject({ state: 'pending', referralId: null, linkId: link.id });
    // A retry after an unknown outcome finds the same intent instead of making a new one.
    expect(
      await store.recordCreateIntent({ linkId: link.id, crmId: '006A', externalReferenceId: '006A' }),
    ).toEqual(intent);
    expect(await store.pendingCreateIntent(link.id)).toEqual(intent);

    // The referral-created webhook got here first and made its own link: confirming merges it.
    const byWebhook = (await store.findOrCreateLinkForReferral('r-new', OPPORTUNITY)).link;
    const { intent: confirmed, link: linked } = await store.confirmCreateIntent(
      intent.id,
      'r-new',
      'adopted',
    );
    expect(confirmed).toMatchObject({ state: 'adopted', referralId: 'r-new' });
    expect(linked).toMatchObject({ id: link.id, referralId: 'r-new', crmId: '006A' });
    expect(await store.getLink(byWebhook.id)).toBeNull();
    expect(await store.pendingCreateIntent(link.id)).toBeNull();
    // Confirming twice with the same answer is harmless; a different referral is refused.
    await store.confirmCreateIntent(intent.id, 'r-new', 'adopted');
    await expect(store.confirmCreateIntent(intent.id, 'r-other')).rejects.toMatchObject({
      code: 'invalidArgument',
    });
  });

  it('abandons an intent so the next attempt records a new one', async () => {
    const link = (await store.findOrCreateLinkForCrm('salesforce', '006A', { dealKind: 'opportunity' })).link;
    const intent = await store.recordCreateIntent({
      linkId: link.id,
      crmId: '006A',
      externalReferenceId: '006A',
    });
    expect((await store.abandonCreateIntent(intent.id)).state).toBe('abandoned');
    const next = await store.recordCreateIntent({
      linkId: link.id,
      crmId: '006A',
      externalReferenceId: '006A',
    });
    expect(next.id).not.toBe(intent.id);
  });
});

function run(linkId: number) {
  return {
    linkId,
    trigger: 'crm-poll',
    referralId: null,
    crmId: '006A',
    outcome: 'changed',
    direction: 'toReferral',
    error: null,
    apiCalls: { salesforce: 1 },
    durationMs: 12,
    diff: [],
    startedAt: new Date('2026-01-05T09:00:00Z'),
  } as const;
}
