// What every part of the SQL store shares: the connection, the tenant, the executors and a few helpers. The
// store (../sql-store.ts) is one object per tenant made of parts, one per aggregate (links, snapshots, jobs and
// inbox, create intents, runs and records, cursors and secrets, retention); a part reaches another through
// `parts` for the few operations that cross (a merge moves jobs; a job needs its link).
import type Database from 'better-sqlite3';
import type { Compilable, Kysely } from 'kysely';
import type { Driver, Executor } from '../driver.ts';
import { iso } from '../rows.ts';
import type { StoreDatabase } from '../schema.ts';
import { StoreError } from '../store.ts';
import type { CursorSql } from './cursors.ts';
import type { IntentSql } from './intents.ts';
import type { JobSql } from './jobs.ts';
import type { LinkSql } from './links.ts';
import type { PurgeSql } from './purge.ts';
import type { RunSql } from './runs.ts';
import type { SnapshotSql } from './snapshots.ts';

/** What every tenant view of one opened store shares. */
export interface Connection {
  driver: Driver;
  clock: () => Date;
  /** Gives the database back (the last one closed closes it); once. */
  release: () => Promise<void>;
  sqlite?: Database.Database;
}

export interface Parts {
  links: LinkSql;
  snapshots: SnapshotSql;
  jobs: JobSql;
  intents: IntentSql;
  runs: RunSql;
  cursors: CursorSql;
  purge: PurgeSql;
}

// An operation's queries run on the executor its transaction (or its one statement) was given: passed
// explicitly, not found through AsyncLocalStorage, whose promise hooks would slow every promise of the process.
export abstract class SqlPart {
  constructor(
    protected readonly connection: Connection,
    readonly tenantId: string,
    protected readonly parts: Parts,
  ) {}

  protected get db(): Kysely<StoreDatabase> {
    return this.connection.driver.db;
  }

  /** One statement on its own (a read, or a write needing no read before it). */
  protected all<R>(query: Compilable<R>): Promise<R[]> {
    return this.connection.driver.once((x) => x.all(query));
  }

  protected async first<R>(query: Compilable<R>): Promise<R | undefined> {
    return (await this.all(query))[0];
  }

  protected run(query: Compilable<unknown>): Promise<number> {
    return this.connection.driver.once((x) => x.run(query));
  }

  /** Reads that need an executor (helpers) outside a transaction. */
  protected read<T>(work: (x: Executor) => Promise<T>): Promise<T> {
    return this.connection.driver.once(work);
  }

  /** A store operation that writes: the tenant's write lock from its start (see driver.ts). */
  protected transaction<T>(work: (x: Executor) => Promise<T>): Promise<T> {
    return this.connection.driver.transaction(this.tenantId, 'write', work);
  }

  protected now(): string {
    return iso(this.connection.clock());
  }
}

export function notFound(what: string, id: number | string): StoreError {
  return new StoreError(
    'notFound',
    `${what} ${id} does not exist in this tenant.`,
    'Check the id (list them with `cosell runs`) and the tenant.',
  );
}

export async function first<R>(x: Executor, query: Compilable<R>): Promise<R | undefined> {
  return (await x.all(query))[0];
}

export async function one<R>(x: Executor, query: Compilable<R>): Promise<R> {
  const row = await first(x, query);
  if (row === undefined) throw new Error('expected a row');
  return row;
}

export function clampLimit(limit: number | undefined, fallback: number, max: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.min(Math.max(1, Math.floor(limit)), max);
}

/** The id a page cursor of runs or records names (the last id of the previous page). */
export function pageCursor(cursor: string): number {
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
