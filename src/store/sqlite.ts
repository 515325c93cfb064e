// The SQLite store (the default; DESIGN.md §2): one file, WAL, migrations run on open, one connection per file
// in a process (sqlite-driver.ts). The queries are the SQL store's (sql-store.ts), the same as on PostgreSQL.
import { chmodSync, closeSync, mkdirSync, openSync, realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import type { Driver } from './driver.ts';
import { storeMigrationProvider, storeMigrations } from './migrations/index.ts';
import type { StoreDatabase } from './schema.ts';
import { type Connection, SqlStore } from './sql-store.ts';
import { sqliteDriver } from './sqlite-driver.ts';
import { DEFAULT_TENANT, StoreError } from './store.ts';

export interface SqliteStoreOptions {
  /** A file path, or ':memory:' (tests, dry runs: gone on close). */
  file: string;
  tenantId?: string;
  /** Time for created/updated stamps and defaults; injectable so tests never sleep. */
  clock?: () => Date;
  /** How long to wait for another process's write lock. Default 5 s. */
  busyTimeoutMs?: number;
}

/** One connection per database file in this process (see sqlite-driver.ts), shared by every store opened on it. */
interface Shared {
  sqlite: Database.Database;
  driver: Driver;
  users: number;
}
const openFiles = new Map<string, Promise<Shared>>();

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

/** The SQL store opened on SQLite (its `pragma()` answers). */
export type SqliteStore = SqlStore;

export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  const busyTimeoutMs = options.busyTimeoutMs ?? 5_000;
  const memory = options.file === ':memory:';
  if (!memory) createPrivateFile(options.file);
  // Every ':memory:' open is a database of its own.
  const key = memory ? undefined : realpathSync(options.file);
  let opening = key ? openFiles.get(key) : undefined;
  if (!opening) {
    opening = openShared(options.file, busyTimeoutMs);
    if (key) {
      openFiles.set(key, opening);
      opening.catch(() => openFiles.delete(key));
    }
  }
  const shared = await opening;
  shared.users += 1;
  let released = false;
  const connection: Connection = {
    driver: shared.driver,
    sqlite: shared.sqlite,
    clock: options.clock ?? (() => new Date()),
    release: async () => {
      if (released) return;
      released = true;
      shared.users -= 1;
      if (shared.users > 0) return;
      if (key) openFiles.delete(key);
      await shared.driver.close();
    },
  };
  return new SqlStore(connection, options.tenantId ?? DEFAULT_TENANT);
}

async function openShared(file: string, busyTimeoutMs: number): Promise<Shared> {
  const sqlite = new Database(file, { timeout: busyTimeoutMs });
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
    const driver = sqliteDriver(sqlite, db);
    return { sqlite, driver, users: 0 };
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
