// The SQLite store (the default; DESIGN.md §2): one file, WAL, migrations run on open.
//
// Queries are written with kysely's builder (portable SQL, typed rows) and compiled; every operation then
// runs synchronously on better-sqlite3 inside one `BEGIN IMMEDIATE` transaction. Why not kysely's async
// transactions: better-sqlite3 waits for a busy lock synchronously, so a second connection in the same
// process (two Store instances, or a test) would block the event loop while the first one's transaction
// waits on an `await` to commit — a deadlock until busy_timeout. A transaction with no await in it cannot
// interleave, and IMMEDIATE takes the write lock up front, so a read-then-write (find-or-create, claim)
// cannot be overtaken by another process between its read and its write (no SQLITE_BUSY_SNAPSHOT).
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { type Compilable, Kysely, Migrator, type Selectable, SqliteDialect, sql } from 'kysely';
import type { DealKind } from '../core/deal.ts';
import type { CrmKind } from '../crm/port.ts';
import {
  attemptsAfterRetry,
  checkTransition,
  coalesceHint,
  foldRetry,
  mergePending,
  resubmitRunAt,
} from './job-rules.ts';
import { linkConflict, mergedLink, refuseSelfMerge } from './link-rules.ts';
import { storeMigrationProvider, storeMigrations } from './migrations/index.ts';
import { withoutEmailAddresses, withoutPersonalChanges, withoutPersonalValues } from './retention.ts';
import {
  type IntentRow,
  iso,
  type JobRow,
  type LinkRow,
  toClaimedJob,
  toInboxEvent,
  toIntent,
  toJob,
  toLink,
  toRecord,
  toRun,
  toSnapshot,
} from './rows.ts';
import type { SnapshotsTable, StoreDatabase } from './schema.ts';
import {
  type ClaimedJob,
  type CreateIntent,
  type CreateIntentInput,
  DEFAULT_TENANT,
  type InboxEvent,
  type InboxEventInput,
  type InboxSource,
  type Job,
  type JobFilter,
  type JobLease,
  type JobState,
  type JobTrigger,
  type Link,
  type LinkResult,
  type LinkState,
  PERSONAL_DATA_FIELDS,
  type PurgeResult,
  type RecordCounts,
  type RecordPage,
  type RecordQuery,
  type RecordSummary,
  type ResubmitTarget,
  type RetryJobOptions,
  type Run,
  type RunFieldChange,
  type RunInput,
  type RunPage,
  type RunQuery,
  type Snapshot,
  type SnapshotUpdate,
  type Store,
  StoreError,
  type Values,
} from './store.ts';

export interface SqliteStoreOptions {
  /** A file path, or ':memory:' (tests, dry runs: gone on close). */
  file: string;
  tenantId?: string;
  /** Time for created/updated stamps and defaults; injectable so tests never sleep. */
  clock?: () => Date;
  /** How long to wait for another process's write lock. Default 5 s. */
  busyTimeoutMs?: number;
}

/** What every tenant view of one open database shares. */
interface Connection {
  sqlite: Database.Database;
  db: Kysely<StoreDatabase>;
  clock: () => Date;
  statements: Map<string, Database.Statement>;
}

const PURGE_BATCH = 500;
const STATEMENT_CACHE_SIZE = 500;

/**
 * The store holds customer e-mail addresses and the encrypted token cache: owner-only (0600), in a folder only
 * the owner can list when cosell creates it. SQLite gives its -wal and -shm files the database file's mode.
 * An existing file readable by others is tightened.
 */
function createPrivateFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  closeSync(openSync(file, 'a', 0o600));
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
}

export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  const busyTimeoutMs = options.busyTimeoutMs ?? 5_000;
  if (options.file !== ':memory:') createPrivateFile(options.file);
  const sqlite = new Database(options.file, { timeout: busyTimeoutMs });
  try {
    // Durability (R2: an acknowledged webhook is on disk before the 2xx): WAL with synchronous=FULL
    // fsyncs the WAL at every commit, so a transaction that returned survives a kill -9 *and* a power
    // loss. synchronous=NORMAL would only survive process crashes (the WAL is synced at checkpoints).
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    sqlite.pragma('foreign_keys = ON');
    const db = new Kysely<StoreDatabase>({ dialect: new SqliteDialect({ database: sqlite }) });
    await migrate(db, sqlite);
    const connection: Connection = {
      sqlite,
      db,
      clock: options.clock ?? (() => new Date()),
      statements: new Map(),
    };
    return new SqliteStore(connection, options.tenantId ?? DEFAULT_TENANT);
  } catch (error) {
    sqlite.close();
    throw error;
  }
}

function isUpToDate(sqlite: Database.Database): boolean {
  const table = sqlite
    .prepare("select name from sqlite_master where type = 'table' and name = 'kysely_migration'")
    .get();
  if (!table) return false;
  const applied = new Set(
    (sqlite.prepare('select name from kysely_migration').all() as { name: string }[]).map((r) => r.name),
  );
  return Object.keys(storeMigrations('sqlite')).every((name) => applied.has(name));
}

async function migrate(db: Kysely<StoreDatabase>, sqlite: Database.Database): Promise<void> {
  // Reopening an up-to-date file takes no write lock at all.
  if (isUpToDate(sqlite)) return;
  // Two processes opening a fresh file at once: the IMMEDIATE lock makes the second wait and then find the
  // migrations applied (kysely's own SQLite transaction is a deferred BEGIN, which would fail instead).
  const migrator = new Migrator({
    db,
    provider: storeMigrationProvider('sqlite'),
    disableTransactions: true,
  });
  await sql`begin immediate`.execute(db);
  try {
    const { error, results } = await migrator.migrateToLatest();
    if (error) throw error;
    const failed = results?.find((r) => r.status === 'Error');
    if (failed) throw new Error(`migration ${failed.migrationName} failed`);
    await sql`commit`.execute(db);
  } catch (cause) {
    if (sqlite.inTransaction) await sql`rollback`.execute(db);
    throw new StoreError(
      'migrationFailed',
      `The store schema could not be migrated (${(cause as Error)?.message ?? cause}).`,
      'Check that the database file is writable and was not created by a newer cosell; restore a backup if it is damaged.',
      { cause },
    );
  }
}

function notFound(what: string, id: number | string): StoreError {
  return new StoreError(
    'notFound',
    `${what} ${id} does not exist in this tenant.`,
    'Check the id (list them with `cosell runs`) and the tenant.',
  );
}

export class SqliteStore implements Store {
  constructor(
    private readonly connection: Connection,
    readonly tenantId: string,
  ) {}

  forTenant(tenantId: string): Store {
    return new SqliteStore(this.connection, tenantId);
  }

  /** One PRAGMA's current value on this connection (operators' diagnostics and tests). */
  pragma(name: 'journal_mode' | 'synchronous' | 'busy_timeout' | 'foreign_keys'): unknown {
    return this.connection.sqlite.pragma(name, { simple: true });
  }

  async close(): Promise<void> {
    if (this.connection.sqlite.open) await this.connection.db.destroy();
  }

  // ---- execution ---------------------------------------------------------------------------------------

  private get db(): Kysely<StoreDatabase> {
    return this.connection.db;
  }

  private statement(text: string): Database.Statement {
    let statement = this.connection.statements.get(text);
    if (!statement) {
      // `in (?, ?, …)` lists make one text per length: keep the cache bounded.
      if (this.connection.statements.size >= STATEMENT_CACHE_SIZE) this.connection.statements.clear();
      statement = this.connection.sqlite.prepare(text);
      this.connection.statements.set(text, statement);
    }
    return statement;
  }

  private all<R>(query: Compilable<R>): R[] {
    const compiled = query.compile();
    const statement = this.statement(compiled.sql);
    if (statement.reader) return statement.all(...compiled.parameters) as R[];
    statement.run(...compiled.parameters);
    return [];
  }

  private first<R>(query: Compilable<R>): R | undefined {
    return this.all(query)[0];
  }

  /** Runs a statement that returns no rows; the number of rows it changed. */
  private run(query: Compilable<unknown>): number {
    const compiled = query.compile();
    return this.statement(compiled.sql).run(...compiled.parameters).changes;
  }

  private one<R>(query: Compilable<R>): R {
    const row = this.first(query);
    if (row === undefined) throw new Error('expected a row');
    return row;
  }

  /** Nested calls become savepoints of the outer transaction (better-sqlite3). */
  private transaction<T>(work: () => T): T {
    return this.connection.sqlite.transaction(work).immediate();
  }

  private now(): string {
    return iso(this.connection.clock());
  }

  // ---- links -------------------------------------------------------------------------------------------

  private linkRow(linkId: number): LinkRow | undefined {
    return this.first(
      this.db.selectFrom('links').selectAll().where('tenant_id', '=', this.tenantId).where('id', '=', linkId),
    );
  }

  private requireLink(linkId: number): LinkRow {
    const row = this.linkRow(linkId);
    if (!row) throw notFound('Link', linkId);
    return row;
  }

  private linkRowByReferral(referralId: string): LinkRow | undefined {
    return this.first(
      this.db
        .selectFrom('links')
        .selectAll()
        .where('tenant_id', '=', this.tenantId)
        .where('referral_id', '=', referralId),
    );
  }

  private linkRowByCrm(crmKind: CrmKind, crmId: string): LinkRow | undefined {
    return this.first(
      this.db
        .selectFrom('links')
        .selectAll()
        .where('tenant_id', '=', this.tenantId)
        .where('crm_kind', '=', crmKind)
        .where('crm_id', '=', crmId),
    );
  }

  private updateLink(
    linkId: number,
    set: Partial<
      Pick<LinkRow, 'referral_id' | 'engagement_id' | 'crm_kind' | 'crm_id' | 'deal_kind' | 'state'>
    >,
  ): LinkRow {
    return this.one(
      this.db
        .updateTable('links')
        .set({ ...set, updated_at: this.now() })
        .where('tenant_id', '=', this.tenantId)
        .where('id', '=', linkId)
        .returningAll(),
    );
  }

  private insertLink(fields: {
    referralId: string | null;
    engagementId: string | null;
    crmKind: CrmKind;
    crmId: string | null;
    dealKind: DealKind;
  }): LinkRow {
    const now = this.now();
    return this.one(
      this.db
        .insertInto('links')
        .values({
          tenant_id: this.tenantId,
          referral_id: fields.referralId,
          engagement_id: fields.engagementId,
          crm_kind: fields.crmKind,
          crm_id: fields.crmId,
          deal_kind: fields.dealKind,
          state: 'active',
          created_at: now,
          updated_at: now,
        })
        .returningAll(),
    );
  }

  async getLink(linkId: number): Promise<Link | null> {
    const row = this.linkRow(linkId);
    return row ? toLink(row) : null;
  }

  async linkByReferral(referralId: string): Promise<Link | null> {
    const row = this.linkRowByReferral(referralId);
    return row ? toLink(row) : null;
  }

  async linkByCrm(crmKind: CrmKind, crmId: string): Promise<Link | null> {
    const row = this.linkRowByCrm(crmKind, crmId);
    return row ? toLink(row) : null;
  }

  async linksByEngagement(engagementId: string): Promise<Link[]> {
    return this.all(
      this.db
        .selectFrom('links')
        .selectAll()
        .where('tenant_id', '=', this.tenantId)
        .where('engagement_id', '=', engagementId)
        .orderBy('id'),
    ).map(toLink);
  }

  async listLinks(filter: { state?: LinkState; limit?: number; afterId?: number } = {}): Promise<Link[]> {
    let query = this.db
      .selectFrom('links')
      .selectAll()
      .where('tenant_id', '=', this.tenantId)
      .where('id', '>', filter.afterId ?? 0);
    if (filter.state) query = query.where('state', '=', filter.state);
    return this.all(query.orderBy('id').limit(clampLimit(filter.limit, 100, 1000))).map(toLink);
  }

  async findOrCreateLinkForReferral(
    referralId: string,
    init: { crmKind: CrmKind; dealKind: DealKind; engagementId?: string | null; crmId?: string | null },
  ): Promise<LinkResult> {
    return this.transaction(() => {
      const engagementId = init.engagementId ?? null;
      const byReferral = this.linkRowByReferral(referralId);
      const byCrm = init.crmId ? this.linkRowByCrm(init.crmKind, init.crmId) : undefined;
      if (byReferral && byCrm && byReferral.id !== byCrm.id) {
        // The referral and the CRM record it names were each seen first on their own: one pair, one link.
        if (byReferral.crm_id === null && byCrm.referral_id === null) {
          const [keep, drop] = byReferral.id < byCrm.id ? [byReferral, byCrm] : [byCrm, byReferral];
          return {
            link: toLink(this.fillEngagement(this.mergeRows(keep.id, drop.id), engagementId)),
            created: false,
          };
        }
        return { link: toLink(this.fillEngagement(byReferral, engagementId)), created: false };
      }
      if (byReferral) {
        const row =
          init.crmId && byReferral.crm_id === null && !byCrm
            ? this.updateLink(byReferral.id, { crm_kind: init.crmKind, crm_id: init.crmId })
            : byReferral;
        return { link: toLink(this.fillEngagement(row, engagementId)), created: false };
      }
      if (byCrm && byCrm.referral_id === null) {
        const row = this.updateLink(byCrm.id, {
          referral_id: referralId,
          engagement_id: byCrm.engagement_id ?? engagementId,
        });
        return { link: toLink(row), created: false };
      }
      // byCrm, if any, pairs with another referral: this referral gets its own link, without the CRM id.
      const row = this.insertLink({
        referralId,
        engagementId,
        crmKind: init.crmKind,
        crmId: byCrm ? null : (init.crmId ?? null),
        dealKind: init.dealKind,
      });
      return { link: toLink(row), created: true };
    });
  }

  async findOrCreateLinkForCrm(
    crmKind: CrmKind,
    crmId: string,
    init: { dealKind: DealKind; referralId?: string | null; engagementId?: string | null },
  ): Promise<LinkResult> {
    return this.transaction(() => {
      const engagementId = init.engagementId ?? null;
      const byCrm = this.linkRowByCrm(crmKind, crmId);
      const byReferral = init.referralId ? this.linkRowByReferral(init.referralId) : undefined;
      if (byCrm && byReferral && byCrm.id !== byReferral.id) {
        if (byCrm.referral_id === null && byReferral.crm_id === null) {
          const [keep, drop] = byCrm.id < byReferral.id ? [byCrm, byReferral] : [byReferral, byCrm];
          return {
            link: toLink(this.fillEngagement(this.mergeRows(keep.id, drop.id), engagementId)),
            created: false,
          };
        }
        return { link: toLink(byCrm), created: false };
      }
      if (byCrm) {
        const row =
          init.referralId && byCrm.referral_id === null && !byReferral
            ? this.updateLink(byCrm.id, { referral_id: init.referralId })
            : byCrm;
        return { link: toLink(this.fillEngagement(row, engagementId)), created: false };
      }
      if (byReferral && byReferral.crm_id === null) {
        const row = this.updateLink(byReferral.id, {
          crm_kind: crmKind,
          crm_id: crmId,
          deal_kind: init.dealKind,
          engagement_id: byReferral.engagement_id ?? engagementId,
        });
        return { link: toLink(row), created: false };
      }
      // byReferral, if any, pairs with another CRM record (a cloned record carrying a copied Referral
      // Identifier): this record gets its own link, without the referral.
      const row = this.insertLink({
        referralId: byReferral ? null : (init.referralId ?? null),
        engagementId: byReferral ? null : engagementId,
        crmKind,
        crmId,
        dealKind: init.dealKind,
      });
      return { link: toLink(row), created: true };
    });
  }

  private fillEngagement(row: LinkRow, engagementId: string | null): LinkRow {
    if (!engagementId || row.engagement_id !== null) return row;
    return this.updateLink(row.id, { engagement_id: engagementId });
  }

  private attachReferralRow(linkId: number, referralId: string, engagementId: string | null): LinkRow {
    const link = this.requireLink(linkId);
    if (link.referral_id === referralId) return this.fillEngagement(link, engagementId);
    if (link.referral_id !== null) {
      throw new StoreError(
        'linkConflict',
        `Link ${link.id} already pairs with referral ${link.referral_id}, not ${referralId}.`,
        'A CRM record pairs with one referral: check which referral it belongs to.',
      );
    }
    const other = this.linkRowByReferral(referralId);
    const row = other
      ? this.mergeRows(link.id, other.id)
      : this.updateLink(link.id, { referral_id: referralId });
    return this.fillEngagement(row, engagementId);
  }

  private attachCrmRow(linkId: number, crmId: string): LinkRow {
    const link = this.requireLink(linkId);
    if (link.crm_id === crmId) return link;
    if (link.crm_id !== null) {
      throw new StoreError(
        'linkConflict',
        `Link ${link.id} already pairs with CRM record ${link.crm_id}, not ${crmId}.`,
        'To move a link to another CRM record (lead conversion, merged records), relink it instead.',
      );
    }
    const other = this.linkRowByCrm(link.crm_kind, crmId);
    return other ? this.mergeRows(link.id, other.id) : this.updateLink(link.id, { crm_id: crmId });
  }

  async attachReferral(linkId: number, referralId: string, engagementId?: string | null): Promise<Link> {
    return toLink(this.transaction(() => this.attachReferralRow(linkId, referralId, engagementId ?? null)));
  }

  async attachCrm(linkId: number, crmId: string): Promise<Link> {
    return toLink(this.transaction(() => this.attachCrmRow(linkId, crmId)));
  }

  async mergeLinks(keepId: number, dropId: number): Promise<Link> {
    return toLink(this.transaction(() => this.mergeRows(keepId, dropId)));
  }

  async replaceCrmId(linkId: number, crmId: string, dealKind?: DealKind): Promise<Link> {
    return toLink(
      this.transaction(() => {
        const link = this.requireLink(linkId);
        const kind = dealKind ?? link.deal_kind;
        const other = this.linkRowByCrm(link.crm_kind, crmId);
        if (!other || other.id === link.id)
          return this.updateLink(link.id, { crm_id: crmId, deal_kind: kind });
        if (
          other.referral_id !== null &&
          link.referral_id !== null &&
          other.referral_id !== link.referral_id
        ) {
          throw linkConflict(
            link,
            other,
            `CRM record ${crmId} already pairs with referral ${other.referral_id}`,
          );
        }
        // The surviving record's link folds into this one (R31 merge): free the old id, then merge.
        this.updateLink(link.id, { crm_id: null });
        this.mergeRows(link.id, other.id);
        return this.updateLink(link.id, { crm_id: crmId, deal_kind: kind });
      }),
    );
  }

  async setLinkState(linkId: number, state: LinkState): Promise<Link> {
    return toLink(
      this.transaction(() => {
        this.requireLink(linkId);
        return this.updateLink(linkId, { state });
      }),
    );
  }

  /** Folds `dropId` into `keepId` (inside the caller's transaction); returns keep's row. */
  private mergeRows(keepId: number, dropId: number): LinkRow {
    refuseSelfMerge(keepId, dropId);
    const keep = this.requireLink(keepId);
    const drop = this.requireLink(dropId);
    const merged = mergedLink(keep, drop);
    const now = this.now();
    this.moveJobs(keep.id, drop.id, now);

    const keepHasSnapshot = this.first(
      this.db.selectFrom('snapshots').select('link_id').where('link_id', '=', keep.id),
    );
    if (keepHasSnapshot) this.run(this.db.deleteFrom('snapshots').where('link_id', '=', drop.id));
    else this.run(this.db.updateTable('snapshots').set({ link_id: keep.id }).where('link_id', '=', drop.id));

    if (this.pendingIntentRow(keep.id)) {
      this.run(
        this.db
          .updateTable('create_intents')
          .set({ state: 'abandoned', updated_at: now })
          .where('link_id', '=', drop.id)
          .where('state', '=', 'pending'),
      );
    }
    this.run(this.db.updateTable('create_intents').set({ link_id: keep.id }).where('link_id', '=', drop.id));
    this.run(this.db.updateTable('runs').set({ link_id: keep.id }).where('link_id', '=', drop.id));
    // Delete first: the unique (referral) and (crm) indexes would refuse keep taking drop's ids otherwise.
    this.run(this.db.deleteFrom('links').where('id', '=', drop.id));
    return this.updateLink(keep.id, merged);
  }

  /** Keeps "one pending, one running job per link" while moving drop's jobs to keep. */
  private moveJobs(keepId: number, dropId: number, now: string): void {
    const dropPending = this.activeJobRow(dropId, 'pending');
    const keepPending = this.activeJobRow(keepId, 'pending');
    if (dropPending && keepPending) {
      this.run(
        this.db
          .updateTable('jobs')
          .set({ ...mergePending(keepPending, dropPending), updated_at: now })
          .where('id', '=', keepPending.id),
      );
      this.run(this.db.deleteFrom('jobs').where('id', '=', dropPending.id));
    } else if (dropPending) {
      this.run(this.db.updateTable('jobs').set({ link_id: keepId }).where('id', '=', dropPending.id));
    }
    const dropRunning = this.activeJobRow(dropId, 'running');
    if (dropRunning && this.activeJobRow(keepId, 'running')) {
      // Two workers on the two halves of one pair: drop's worker loses its lease (its report is refused)
      // and keep gets a pending job, so the merged link is synced again after keep's run.
      this.run(this.db.deleteFrom('jobs').where('id', '=', dropRunning.id));
      this.enqueueRow(keepId, dropRunning.trigger, now);
    }
    // What is left on drop: its running job (keep had none) and finished jobs, history only.
    this.run(this.db.updateTable('jobs').set({ link_id: keepId }).where('link_id', '=', dropId));
  }

  // ---- snapshots ---------------------------------------------------------------------------------------

  async getSnapshot(linkId: number): Promise<Snapshot | null> {
    const row = this.first(
      this.db
        .selectFrom('snapshots')
        .selectAll()
        .where('tenant_id', '=', this.tenantId)
        .where('link_id', '=', linkId),
    );
    return row ? toSnapshot(row) : null;
  }

  async saveSnapshot(linkId: number, update: SnapshotUpdate): Promise<Snapshot> {
    return toSnapshot(
      this.transaction(() => {
        this.requireLink(linkId);
        const set: Partial<Selectable<SnapshotsTable>> = { updated_at: this.now() };
        if (update.values !== undefined)
          set.values_json = update.values === null ? null : JSON.stringify(update.values);
        if (update.referralETag !== undefined) set.referral_etag = update.referralETag;
        if (update.referralUpdatedAt !== undefined) set.referral_updated_at = update.referralUpdatedAt;
        if (update.crmVersion !== undefined) set.crm_version = update.crmVersion;
        // The cached referral goes with its eTag: a new eTag without the referral it belongs to forgets it.
        if (update.referral !== undefined)
          set.referral_json = update.referral === null ? null : JSON.stringify(update.referral);
        else if (update.referralETag !== undefined) set.referral_json = null;
        if (update.error !== undefined) {
          set.error_rule = update.error?.rule ?? null;
          set.error_message = update.error?.message ?? null;
          set.failed_digest = update.error?.digest ?? null;
        }
        const existing = this.first(
          this.db.selectFrom('snapshots').select('link_id').where('link_id', '=', linkId),
        );
        if (existing) {
          return this.one(
            this.db.updateTable('snapshots').set(set).where('link_id', '=', linkId).returningAll(),
          );
        }
        return this.one(
          this.db
            .insertInto('snapshots')
            .values({
              link_id: linkId,
              tenant_id: this.tenantId,
              values_json: null,
              referral_etag: null,
              referral_updated_at: null,
              crm_version: null,
              error_rule: null,
              error_message: null,
              failed_digest: null,
              referral_json: null,
              updated_at: this.now(),
              ...set,
            })
            .returningAll(),
        );
      }),
    );
  }

  // ---- inbox -------------------------------------------------------------------------------------------

  async acceptInbox(event: InboxEventInput): Promise<{ event: InboxEvent; duplicate: boolean }> {
    // Returns only after COMMIT, which with synchronous=FULL has fsynced the WAL: the caller may ack.
    return this.transaction(() => {
      const existing = this.first(
        this.db
          .selectFrom('inbox')
          .selectAll()
          .where('tenant_id', '=', this.tenantId)
          .where('dedupe_key', '=', event.dedupeKey),
      );
      if (existing) return { event: toInboxEvent(existing), duplicate: true };
      const row = this.one(
        this.db
          .insertInto('inbox')
          .values({
            tenant_id: this.tenantId,
            source: event.source,
            dedupe_key: event.dedupeKey,
            payload: event.payload,
            received_at: iso(event.receivedAt ?? this.connection.clock()),
            processed_at: null,
          })
          .returningAll(),
      );
      return { event: toInboxEvent(row), duplicate: false };
    });
  }

  async unprocessedInbox(limit: number): Promise<InboxEvent[]> {
    return this.all(
      this.db
        .selectFrom('inbox')
        .selectAll()
        .where('tenant_id', '=', this.tenantId)
        .where('processed_at', 'is', null)
        .orderBy('id')
        .limit(clampLimit(limit, 100, 10_000)),
    ).map(toInboxEvent);
  }

  async markInboxProcessed(eventId: number, at?: Date): Promise<void> {
    const changed = this.run(
      this.db
        .updateTable('inbox')
        .set({ processed_at: iso(at ?? this.connection.clock()) })
        .where('tenant_id', '=', this.tenantId)
        .where('id', '=', eventId),
    );
    if (changed === 0) throw notFound('Inbox event', eventId);
  }

  // ---- jobs --------------------------------------------------------------------------------------------

  private activeJobRow(linkId: number, state: 'pending' | 'running'): JobRow | undefined {
    return this.first(
      this.db.selectFrom('jobs').selectAll().where('link_id', '=', linkId).where('state', '=', state),
    );
  }

  private enqueueRow(
    linkId: number,
    trigger: JobTrigger,
    runAt: string,
  ): { row: JobRow; coalesced: boolean } {
    const now = this.now();
    const pending = this.activeJobRow(linkId, 'pending');
    if (pending) {
      const row = this.one(
        this.db
          .updateTable('jobs')
          .set({ ...coalesceHint(pending, trigger, runAt), updated_at: now })
          .where('id', '=', pending.id)
          .returningAll(),
      );
      return { row, coalesced: true };
    }
    const row = this.one(
      this.db
        .insertInto('jobs')
        .values({
          tenant_id: this.tenantId,
          link_id: linkId,
          state: 'pending',
          trigger,
          hints: 1,
          attempts: 0,
          next_run_at: runAt,
          lease_owner: null,
          lease_expires_at: null,
          last_error: null,
          created_at: now,
          updated_at: now,
        })
        .returningAll(),
    );
    return { row, coalesced: false };
  }

  async enqueueJob(
    linkId: number,
    trigger: JobTrigger,
    runAt: Date,
  ): Promise<{ job: Job; coalesced: boolean }> {
    return this.transaction(() => {
      this.requireLink(linkId);
      const { row, coalesced } = this.enqueueRow(linkId, trigger, iso(runAt));
      return { job: toJob(row), coalesced };
    });
  }

  async claimJobs(owner: string, now: Date, limit: number, leaseMs: number): Promise<ClaimedJob[]> {
    if (limit <= 0) return [];
    const at = iso(now);
    const expires = iso(new Date(now.getTime() + leaseMs));
    return this.transaction(() => {
      // Two indexed reads instead of one OR over every job of the tenant (jobs_due: tenant, state, time): due
      // pending jobs of links with nothing running, in order; and running jobs whose lease ran out.
      const pending = this.all(
        this.db
          .selectFrom('jobs as j')
          .select(['j.id', 'j.next_run_at'])
          .where('j.tenant_id', '=', this.tenantId)
          .where('j.state', '=', 'pending')
          .where('j.next_run_at', '<=', at)
          .where((eb) =>
            eb.not(
              eb.exists(
                eb
                  .selectFrom('jobs as r')
                  .select('r.id')
                  .whereRef('r.link_id', '=', 'j.link_id')
                  .where('r.state', '=', 'running'),
              ),
            ),
          )
          .orderBy('j.next_run_at')
          .orderBy('j.id')
          .limit(limit),
      );
      const expired = this.all(
        this.db
          .selectFrom('jobs as j')
          .select(['j.id', 'j.next_run_at'])
          .where('j.tenant_id', '=', this.tenantId)
          .where('j.state', '=', 'running')
          .where('j.lease_expires_at', '<=', at)
          .orderBy('j.next_run_at')
          .orderBy('j.id')
          .limit(limit),
      );
      const due = [...pending, ...expired]
        .sort((a, b) =>
          a.next_run_at < b.next_run_at ? -1 : a.next_run_at > b.next_run_at ? 1 : a.id - b.id,
        )
        .slice(0, limit);
      return due.map(({ id }) =>
        toClaimedJob(
          this.one(
            this.db
              .updateTable('jobs')
              .set((eb) => ({
                state: 'running',
                lease_owner: owner,
                lease_expires_at: expires,
                attempts: eb('attempts', '+', 1),
                updated_at: at,
              }))
              .where('id', '=', id)
              .returningAll(),
          ),
        ),
      );
    });
  }

  /** The job row if `lease` still holds it. */
  private leasedRow(lease: JobLease): JobRow | undefined {
    return this.first(
      this.db
        .selectFrom('jobs')
        .selectAll()
        .where('tenant_id', '=', this.tenantId)
        .where('id', '=', lease.id)
        .where('state', '=', 'running')
        .where('lease_owner', '=', lease.leaseOwner),
    );
  }

  async extendLease(job: JobLease, now: Date, leaseMs: number): Promise<boolean> {
    return this.transaction(() => {
      if (!this.leasedRow(job)) return false;
      this.run(
        this.db
          .updateTable('jobs')
          .set({ lease_expires_at: iso(new Date(now.getTime() + leaseMs)), updated_at: iso(now) })
          .where('id', '=', job.id),
      );
      return true;
    });
  }

  private finish(job: JobLease, state: 'succeeded' | 'failed' | 'dead', error: string | null): boolean {
    return this.transaction(() => {
      if (!this.leasedRow(job)) return false;
      checkTransition('running', state);
      this.run(
        this.db
          .updateTable('jobs')
          .set({ state, last_error: error, lease_expires_at: null, updated_at: this.now() })
          .where('id', '=', job.id),
      );
      if (state !== 'succeeded') {
        // The newest failure stands for the link (resubmit works by link): a link failing on every re-check
        // keeps one row, not one per attempt. The runs keep the history.
        const row = this.first(this.db.selectFrom('jobs').select('link_id').where('id', '=', job.id));
        if (row) {
          this.run(
            this.db
              .deleteFrom('jobs')
              .where('tenant_id', '=', this.tenantId)
              .where('link_id', '=', row.link_id)
              .where('state', 'in', ['failed', 'dead'])
              .where('id', '!=', job.id),
          );
        }
      }
      return true;
    });
  }

  async completeJob(job: JobLease): Promise<boolean> {
    return this.finish(job, 'succeeded', null);
  }

  async failJob(job: JobLease, error: string): Promise<boolean> {
    return this.finish(job, 'failed', error);
  }

  async deadLetterJob(job: JobLease, error: string): Promise<boolean> {
    return this.finish(job, 'dead', error);
  }

  async retryJob(
    job: JobLease,
    nextRunAt: Date,
    error: string,
    options: RetryJobOptions = {},
  ): Promise<boolean> {
    return this.transaction(() => {
      const row = this.leasedRow(job);
      if (!row) return false;
      const now = this.now();
      const attempts = attemptsAfterRetry(row.attempts, options.refundAttempt ?? false);
      const pending = this.activeJobRow(row.link_id, 'pending');
      checkTransition('running', pending ? null : 'pending');
      if (pending) {
        this.run(
          this.db
            .updateTable('jobs')
            .set({ ...foldRetry(pending, attempts, iso(nextRunAt)), last_error: error, updated_at: now })
            .where('id', '=', pending.id),
        );
        this.run(this.db.deleteFrom('jobs').where('id', '=', row.id));
        return true;
      }
      this.run(
        this.db
          .updateTable('jobs')
          .set({
            state: 'pending',
            attempts,
            next_run_at: iso(nextRunAt),
            last_error: error,
            lease_owner: null,
            lease_expires_at: null,
            updated_at: now,
          })
          .where('id', '=', row.id),
      );
      return true;
    });
  }

  async resubmit(target: ResubmitTarget, now?: Date): Promise<Job[]> {
    const at = iso(now ?? this.connection.clock());
    return this.transaction(() => {
      const linkIds = new Set<number>();
      for (const linkId of target.linkIds ?? []) linkIds.add(this.requireLink(linkId).id);
      for (const jobId of target.jobIds ?? []) {
        const row = this.first(
          this.db
            .selectFrom('jobs')
            .select('link_id')
            .where('tenant_id', '=', this.tenantId)
            .where('id', '=', jobId),
        );
        if (!row) throw notFound('Job', jobId);
        linkIds.add(row.link_id);
      }
      if (target.allFailed) {
        const rows = this.all(
          this.db
            .selectFrom('jobs')
            .select('link_id')
            .distinct()
            .where('tenant_id', '=', this.tenantId)
            .where('state', 'in', ['failed', 'dead']),
        );
        for (const row of rows) linkIds.add(row.link_id);
      }
      return [...linkIds].sort((a, b) => a - b).map((linkId) => toJob(this.resubmitLink(linkId, at)));
    });
  }

  private resubmitLink(linkId: number, at: string): JobRow {
    const finished = this.all(
      this.db
        .selectFrom('jobs')
        .selectAll()
        .where('link_id', '=', linkId)
        .where('state', 'in', ['failed', 'dead'])
        .orderBy('id', 'desc'),
    );
    const pending = this.activeJobRow(linkId, 'pending');
    const revive = pending ?? finished[0];
    if (revive) checkTransition(revive.state, 'pending');
    const drop = finished.filter((row) => row.id !== revive?.id).map((row) => row.id);
    if (drop.length > 0) this.run(this.db.deleteFrom('jobs').where('id', 'in', drop));
    if (!revive) return this.enqueueRow(linkId, 'resubmit', at).row;
    return this.one(
      this.db
        .updateTable('jobs')
        .set({
          state: 'pending',
          trigger: 'resubmit',
          attempts: 0,
          next_run_at: resubmitRunAt(pending, at),
          lease_owner: null,
          lease_expires_at: null,
          updated_at: at,
        })
        .where('id', '=', revive.id)
        .returningAll(),
    );
  }

  async getJob(jobId: number): Promise<Job | null> {
    const row = this.first(
      this.db.selectFrom('jobs').selectAll().where('tenant_id', '=', this.tenantId).where('id', '=', jobId),
    );
    return row ? toJob(row) : null;
  }

  async jobCounts(): Promise<Record<JobState, number>> {
    const rows = this.all(
      this.db
        .selectFrom('jobs')
        .select((eb) => ['state', eb.fn.countAll<number>().as('n')])
        .where('tenant_id', '=', this.tenantId)
        .groupBy('state'),
    );
    const counts: Record<JobState, number> = { pending: 0, running: 0, succeeded: 0, failed: 0, dead: 0 };
    for (const row of rows) counts[row.state as JobState] = Number(row.n);
    return counts;
  }

  async jobTimes(): Promise<{
    nextPendingAt: Date | null;
    running: { id: number; leaseExpiresAt: Date | null }[];
  }> {
    const next = this.first(
      this.db
        .selectFrom('jobs')
        .select('next_run_at')
        .where('tenant_id', '=', this.tenantId)
        .where('state', '=', 'pending')
        .orderBy('next_run_at')
        .limit(1),
    );
    const running = this.all(
      this.db
        .selectFrom('jobs')
        .select(['id', 'lease_expires_at'])
        .where('tenant_id', '=', this.tenantId)
        .where('state', '=', 'running'),
    );
    return {
      nextPendingAt: next ? new Date(next.next_run_at) : null,
      running: running.map((r) => ({
        id: r.id,
        leaseExpiresAt: r.lease_expires_at ? new Date(r.lease_expires_at) : null,
      })),
    };
  }

  async listJobs(filter: JobFilter = {}): Promise<Job[]> {
    let query = this.db.selectFrom('jobs').selectAll().where('tenant_id', '=', this.tenantId);
    if (filter.state !== undefined) {
      const states: readonly JobState[] = typeof filter.state === 'string' ? [filter.state] : filter.state;
      if (states.length === 0) return [];
      query = query.where('state', 'in', states);
    }
    if (filter.linkId !== undefined) query = query.where('link_id', '=', filter.linkId);
    if (filter.beforeId !== undefined) query = query.where('id', '<', filter.beforeId);
    return this.all(query.orderBy('id', 'desc').limit(clampLimit(filter.limit, 100, 10_000))).map(toJob);
  }

  async pruneRuns(olderThan: Date): Promise<number> {
    return this.transaction(() =>
      this.run(
        this.db
          .deleteFrom('runs')
          .where('tenant_id', '=', this.tenantId)
          .where('started_at', '<', iso(olderThan)),
      ),
    );
  }

  async pruneJobs(olderThan: Date): Promise<number> {
    return this.transaction(() =>
      this.run(
        this.db
          .deleteFrom('jobs')
          .where('tenant_id', '=', this.tenantId)
          .where('state', '=', 'succeeded')
          .where('updated_at', '<', iso(olderThan)),
      ),
    );
  }

  // ---- create intents ----------------------------------------------------------------------------------

  private pendingIntentRow(linkId: number): IntentRow | undefined {
    return this.first(
      this.db
        .selectFrom('create_intents')
        .selectAll()
        .where('tenant_id', '=', this.tenantId)
        .where('link_id', '=', linkId)
        .where('state', '=', 'pending'),
    );
  }

  private requireIntent(intentId: number): IntentRow {
    const row = this.first(
      this.db
        .selectFrom('create_intents')
        .selectAll()
        .where('tenant_id', '=', this.tenantId)
        .where('id', '=', intentId),
    );
    if (!row) throw notFound('Create intent', intentId);
    return row;
  }

  async recordCreateIntent(intent: CreateIntentInput): Promise<CreateIntent> {
    return toIntent(
      this.transaction(() => {
        this.requireLink(intent.linkId);
        const pending = this.pendingIntentRow(intent.linkId);
        if (pending) return pending;
        const now = this.now();
        return this.one(
          this.db
            .insertInto('create_intents')
            .values({
              tenant_id: this.tenantId,
              link_id: intent.linkId,
              crm_id: intent.crmId,
              external_reference_id: intent.externalReferenceId,
              state: 'pending',
              referral_id: null,
              created_at: now,
              updated_at: now,
            })
            .returningAll(),
        );
      }),
    );
  }

  async pendingCreateIntent(linkId: number): Promise<CreateIntent | null> {
    const row = this.pendingIntentRow(linkId);
    return row ? toIntent(row) : null;
  }

  async confirmCreateIntent(
    intentId: number,
    referralId: string,
    how: 'confirmed' | 'adopted' = 'confirmed',
  ): Promise<{ intent: CreateIntent; link: Link }> {
    return this.transaction(() => {
      const intent = this.requireIntent(intentId);
      if (intent.state !== 'pending' && !(intent.state === how && intent.referral_id === referralId)) {
        throw new StoreError(
          'invalidArgument',
          `Create intent ${intentId} is ${intent.state}${intent.referral_id ? ` (referral ${intent.referral_id})` : ''}; it cannot be ${how} with referral ${referralId}.`,
          'Record a new create intent before creating another referral.',
        );
      }
      const link = this.attachReferralRow(intent.link_id, referralId, null);
      const row = this.one(
        this.db
          .updateTable('create_intents')
          .set({ state: how, referral_id: referralId, link_id: link.id, updated_at: this.now() })
          .where('id', '=', intentId)
          .returningAll(),
      );
      return { intent: toIntent(row), link: toLink(link) };
    });
  }

  async abandonCreateIntent(intentId: number): Promise<CreateIntent> {
    return toIntent(
      this.transaction(() => {
        const intent = this.requireIntent(intentId);
        if (intent.state !== 'pending') return intent;
        return this.one(
          this.db
            .updateTable('create_intents')
            .set({ state: 'abandoned', updated_at: this.now() })
            .where('id', '=', intentId)
            .returningAll(),
        );
      }),
    );
  }

  // ---- runs --------------------------------------------------------------------------------------------

  async recordRun(run: RunInput): Promise<Run> {
    return toRun(
      this.transaction(() => {
        const row = this.one(
          this.db
            .insertInto('runs')
            .values({
              tenant_id: this.tenantId,
              link_id: run.linkId,
              job_id: run.jobId ?? null,
              trigger: run.trigger,
              referral_id: run.referralId,
              crm_id: run.crmId,
              outcome: run.outcome,
              direction: run.direction,
              error_message: run.error?.message ?? null,
              error_fix: run.error?.fix ?? null,
              api_calls_json: JSON.stringify(run.apiCalls),
              duration_ms: Math.round(run.durationMs),
              diff_json: JSON.stringify(run.diff),
              started_at: iso(run.startedAt),
              personal_data_purged_at: null,
            })
            .returningAll(),
        );
        if (run.linkId !== null) this.summarise(run.linkId, run);
        return row;
      }),
    );
  }

  /** The link's record summary after a run (the dashboard's list): what it read and how it ended. */
  private summarise(linkId: number, run: RunInput): void {
    const set: Partial<Selectable<StoreDatabase['links']>> = {
      last_run_at: iso(run.startedAt),
      last_outcome: run.outcome,
    };
    if (run.direction !== 'none') set.last_direction = run.direction;
    if (run.name) set.display_name = run.name;
    if (run.customer) set.customer_name = run.customer;
    this.run(
      this.db.updateTable('links').set(set).where('tenant_id', '=', this.tenantId).where('id', '=', linkId),
    );
  }

  async listRecords(query: RecordQuery = {}): Promise<RecordPage> {
    const limit = clampLimit(query.limit, 50, 500);
    let select = this.recordSelect();
    if (query.state === 'unshared' || query.state === 'orphaned') {
      select = select.where('links.state', '=', query.state);
    } else if (query.state === 'dead') {
      select = select.where('links.last_outcome', '=', 'dead');
    } else if (query.state === 'failing') {
      select = select.where((eb) =>
        eb.or([eb('snapshots.error_message', 'is not', null), eb('links.last_outcome', '=', 'failed')]),
      );
    } else if (query.state === 'ok') {
      select = select
        .where('links.state', '=', 'active')
        .where('snapshots.error_message', 'is', null)
        .where((eb) =>
          eb.or([
            eb('links.last_outcome', 'is', null),
            eb('links.last_outcome', 'not in', ['failed', 'dead']),
          ]),
        );
    }
    if (query.direction) select = select.where('links.last_direction', '=', query.direction);
    if (query.cursor) select = select.where('links.id', '<', parseRunCursor(query.cursor));
    const page = (filtered: typeof select): RecordPage => {
      const rows = this.all(filtered.orderBy('links.id', 'desc').limit(limit + 1));
      const shown = rows.slice(0, limit);
      const last = shown.at(-1);
      return {
        records: shown.map(toRecord),
        nextCursor: rows.length > limit && last ? String(last.id) : null,
      };
    };
    const search = query.search?.trim();
    if (!search) return page(select);
    // An id is found through its index; only text that names no record scans names and customers.
    // One look-up per id index (the CRM one is keyed by kind first); an id names one record, two at most.
    const exact = [
      ...this.all(select.where('links.referral_id', '=', search)),
      ...this.all(
        select.where('links.crm_kind', 'in', ['salesforce', 'dynamics']).where('links.crm_id', '=', search),
      ),
    ].filter((row, i, rows) => rows.findIndex((other) => other.id === row.id) === i);
    if (exact.length > 0) {
      return { records: exact.sort((a, b) => b.id - a.id).map(toRecord), nextCursor: null };
    }
    const pattern = `%${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return page(
      select.where((eb) =>
        eb.or([
          eb(sql`lower(links.display_name)`, 'like', sql`${pattern} escape '\\'`),
          eb(sql`lower(links.customer_name)`, 'like', sql`${pattern} escape '\\'`),
        ]),
      ),
    );
  }

  async getRecord(linkId: number): Promise<RecordSummary | null> {
    const row = this.first(this.recordSelect().where('links.id', '=', linkId));
    return row ? toRecord(row) : null;
  }

  private recordSelect() {
    return this.db
      .selectFrom('links')
      .leftJoin('snapshots', 'snapshots.link_id', 'links.id')
      .selectAll('links')
      .select(['snapshots.values_json', 'snapshots.error_rule', 'snapshots.error_message'])
      .where('links.tenant_id', '=', this.tenantId);
  }

  async recordCounts(): Promise<RecordCounts> {
    const row = this.one(
      this.db
        .selectFrom('links')
        .leftJoin('snapshots', 'snapshots.link_id', 'links.id')
        .where('links.tenant_id', '=', this.tenantId)
        .select((eb) => [
          eb.fn.countAll<number>().as('linked'),
          eb.fn
            .sum<number>(
              eb
                .case()
                .when(
                  eb.or([
                    eb('snapshots.error_message', 'is not', null),
                    eb('links.last_outcome', '=', 'failed'),
                  ]),
                )
                .then(1)
                .else(0)
                .end(),
            )
            .as('failing'),
          eb.fn
            .sum<number>(eb.case().when('links.last_outcome', '=', 'dead').then(1).else(0).end())
            .as('dead'),
          eb.fn
            .sum<number>(eb.case().when('links.state', '=', 'unshared').then(1).else(0).end())
            .as('unshared'),
          eb.fn
            .sum<number>(eb.case().when('links.state', '=', 'orphaned').then(1).else(0).end())
            .as('orphaned'),
        ]),
    );
    return {
      linked: Number(row.linked ?? 0),
      failing: Number(row.failing ?? 0),
      dead: Number(row.dead ?? 0),
      unshared: Number(row.unshared ?? 0),
      orphaned: Number(row.orphaned ?? 0),
    };
  }

  async lastEvents(): Promise<Partial<Record<InboxSource, Date>>> {
    const rows = this.all(
      this.db
        .selectFrom('inbox')
        .select((eb) => ['source', eb.fn.max('received_at').as('at')])
        .where('tenant_id', '=', this.tenantId)
        .groupBy('source'),
    );
    const last: Partial<Record<InboxSource, Date>> = {};
    for (const row of rows) if (row.at) last[row.source] = new Date(String(row.at));
    return last;
  }

  async listRuns(query: RunQuery = {}): Promise<RunPage> {
    const limit = clampLimit(query.limit, 50, 500);
    let select = this.db.selectFrom('runs').selectAll().where('tenant_id', '=', this.tenantId);
    if (query.failed) select = select.where('outcome', 'in', ['failed', 'dead']);
    if (query.linkId !== undefined) select = select.where('link_id', '=', query.linkId);
    if (query.referralId) select = select.where('referral_id', '=', query.referralId);
    if (query.crmId) select = select.where('crm_id', '=', query.crmId);
    if (query.since) select = select.where('started_at', '>=', iso(query.since));
    if (query.cursor) select = select.where('id', '<', parseRunCursor(query.cursor));
    const rows = this.all(select.orderBy('id', 'desc').limit(limit + 1));
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { runs: page.map(toRun), nextCursor: rows.length > limit && last ? String(last.id) : null };
  }

  // ---- cursors and secrets -----------------------------------------------------------------------------

  async getCursor(name: string): Promise<string | null> {
    const row = this.first(
      this.db
        .selectFrom('cursors')
        .select('value')
        .where('tenant_id', '=', this.tenantId)
        .where('name', '=', name),
    );
    return row?.value ?? null;
  }

  async setCursor(name: string, value: string): Promise<void> {
    const now = this.now();
    this.transaction(() =>
      this.run(
        this.db
          .insertInto('cursors')
          .values({ tenant_id: this.tenantId, name, value, updated_at: now })
          .onConflict((oc) => oc.columns(['tenant_id', 'name']).doUpdateSet({ value, updated_at: now })),
      ),
    );
  }

  async getSecret(name: string): Promise<string | null> {
    const row = this.first(
      this.db
        .selectFrom('secrets')
        .select('ciphertext')
        .where('tenant_id', '=', this.tenantId)
        .where('name', '=', name),
    );
    return row?.ciphertext ?? null;
  }

  async setSecret(name: string, ciphertext: string): Promise<void> {
    const now = this.now();
    this.transaction(() =>
      this.run(
        this.db
          .insertInto('secrets')
          .values({ tenant_id: this.tenantId, name, ciphertext, updated_at: now })
          .onConflict((oc) => oc.columns(['tenant_id', 'name']).doUpdateSet({ ciphertext, updated_at: now })),
      ),
    );
  }

  async deleteSecret(name: string): Promise<void> {
    this.transaction(() =>
      this.run(this.db.deleteFrom('secrets').where('tenant_id', '=', this.tenantId).where('name', '=', name)),
    );
  }

  // ---- retention (R33) ---------------------------------------------------------------------------------

  async purgePersonalData(
    olderThan: Date,
    options: { fields?: readonly string[] } = {},
  ): Promise<PurgeResult> {
    const fields = options.fields ?? PERSONAL_DATA_FIELDS;
    const cutoff = iso(olderThan);
    const result: PurgeResult = { snapshots: 0, runs: 0, inboxEvents: 0 };

    // Snapshots keep their updated_at: removing data is not a sync. Read and write in one transaction, so
    // a sync that saves a newer snapshot meanwhile is never overwritten with old values.
    let afterLinkId = 0;
    for (;;) {
      const batch = this.transaction(() => {
        const rows = this.all(
          this.db
            .selectFrom('snapshots')
            .select(['link_id', 'values_json', 'referral_json'])
            .where('tenant_id', '=', this.tenantId)
            .where('updated_at', '<', cutoff)
            .where((eb) => eb.or([eb('values_json', 'is not', null), eb('referral_json', 'is not', null)]))
            .where('link_id', '>', afterLinkId)
            .orderBy('link_id')
            .limit(PURGE_BATCH),
        );
        for (const row of rows) {
          const kept = withoutPersonalValues(JSON.parse(row.values_json ?? '{}') as Values, fields);
          // The cached referral holds the customer's contacts too: dropped whole (the next sync reads it).
          if (!kept && row.referral_json === null) continue;
          this.run(
            this.db
              .updateTable('snapshots')
              .set({ ...(kept ? { values_json: JSON.stringify(kept) } : {}), referral_json: null })
              .where('link_id', '=', row.link_id),
          );
          result.snapshots += 1;
        }
        return rows;
      });
      if (batch.length === 0) break;
      afterLinkId = batch.at(-1)!.link_id;
    }

    const purgedAt = this.now();
    for (;;) {
      const batch = this.transaction(() => {
        const rows = this.all(
          this.db
            .selectFrom('runs')
            .select(['id', 'diff_json', 'error_message'])
            .where('tenant_id', '=', this.tenantId)
            .where('started_at', '<', cutoff)
            .where('personal_data_purged_at', 'is', null)
            .orderBy('id')
            .limit(PURGE_BATCH),
        );
        for (const row of rows) {
          const diff = withoutPersonalChanges(JSON.parse(row.diff_json) as RunFieldChange[], fields);
          const message = row.error_message === null ? null : withoutEmailAddresses(row.error_message);
          this.run(
            this.db
              .updateTable('runs')
              .set({
                diff_json: diff ? JSON.stringify(diff) : row.diff_json,
                error_message: message,
                personal_data_purged_at: purgedAt,
              })
              .where('id', '=', row.id),
          );
          if (diff || message !== row.error_message) result.runs += 1;
        }
        return rows;
      });
      if (batch.length === 0) break;
    }

    result.inboxEvents = this.transaction(() =>
      this.run(
        this.db
          .deleteFrom('inbox')
          .where('tenant_id', '=', this.tenantId)
          .where('processed_at', 'is not', null)
          .where('received_at', '<', cutoff),
      ),
    );
    return result;
  }
}

function clampLimit(limit: number | undefined, fallback: number, max: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.min(Math.max(1, Math.floor(limit)), max);
}

function parseRunCursor(cursor: string): number {
  const id = Number(cursor);
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new StoreError(
      'invalidArgument',
      `'${cursor}' is not a runs page cursor.`,
      'Pass the nextCursor of the previous page.',
    );
  }
  return id;
}
