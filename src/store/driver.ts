// The one place the store's backends differ in how SQL runs: a connection (SQLite) or a pool (PostgreSQL), and
// one async transaction path over it. The store's queries are built once with kysely and compiled for the
// driver's dialect; the store never touches better-sqlite3 or pg itself.
import type { Compilable, Kysely, SelectQueryBuilder } from 'kysely';
import type { StoreDialect } from './migrations/index.ts';
import type { StoreDatabase } from './schema.ts';

/** Runs compiled queries inside one transaction. */
export interface Executor {
  /** Rows of a query (none for a statement without RETURNING). */
  all<R>(query: Compilable<R>): Promise<R[]>;
  /** Runs a statement; the number of rows it changed. */
  run(query: Compilable<unknown>): Promise<number>;
}

/**
 * `write`: a transaction that may write; on both backends it holds the tenant's write lock from its start, so a
 * read-then-write (find-or-create, merge, enqueue) is never overtaken by another write of the tenant between its
 * read and its write.
 * `claim`: claiming jobs. On PostgreSQL it takes no tenant lock: it locks the job rows it picks (`FOR UPDATE SKIP
 * LOCKED`), so the workers of a tenant claim side by side and never wait on the tenant's other writes; those
 * read the job rows they change with `forUpdate`, so they wait for a claim in flight and see what it did.
 * `counted-claim`: the same, serialised with the tenant's other counted claims (a cap on running jobs is
 * counted exactly). On SQLite both are a write: one transaction at a time.
 * `read`: a consistent read of several queries.
 */
export type TransactionMode = 'read' | 'write' | 'claim' | 'counted-claim';

export interface Driver {
  readonly dialect: StoreDialect;
  /** Builds and compiles queries for this dialect; never executes them. */
  readonly db: Kysely<StoreDatabase>;
  transaction<T>(
    tenantId: string,
    mode: TransactionMode,
    work: (executor: Executor) => Promise<T>,
  ): Promise<T>;
  /**
   * The rows `query` reads stay locked until the transaction ends (PostgreSQL `FOR UPDATE`; with `skipLocked`,
   * rows another transaction holds are passed over, not waited for). SQLite runs one transaction at a time, so
   * the query is returned as it is.
   */
  forUpdate<DB, TB extends keyof DB, O>(
    query: SelectQueryBuilder<DB, TB, O>,
    options?: { skipLocked?: boolean },
  ): SelectQueryBuilder<DB, TB, O>;
  /**
   * Tells the tenant's workers in other processes that a job was queued, when the transaction commits
   * (PostgreSQL `NOTIFY`). SQLite: nothing; its processes share one machine and find the job on their next poll.
   */
  announceQueued(executor: Executor, tenantId: string): Promise<void>;
  /**
   * Calls `listener` when any process announces a queued job of the tenant; returns the unsubscribe. SQLite
   * never calls it. A lost listening connection is reopened; meanwhile the workers' polls find the work.
   */
  watchQueued(tenantId: string, listener: () => void): () => void;
  /** One statement on its own (autocommit): a read, or a write that needs no read before it. */
  once<T>(work: (executor: Executor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Serialises async work in this process: the SQLite connection runs one transaction at a time. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async lock<T>(work: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      return await work();
    } finally {
      release();
    }
  }
}
