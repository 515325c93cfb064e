// The one place the store's backends differ in how SQL runs: a connection (SQLite) or a pool (PostgreSQL), and
// one async transaction path over it. The store's queries are built once with kysely and compiled for the
// driver's dialect; the store never touches better-sqlite3 or pg itself.
import type { Compilable, Kysely } from 'kysely';
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
 * read-then-write (find-or-create, claim) is never overtaken by another process between its read and its write.
 * `read`: a consistent read of several queries.
 */
export type TransactionMode = 'read' | 'write';

export interface Driver {
  readonly dialect: StoreDialect;
  /** Builds and compiles queries for this dialect; never executes them. */
  readonly db: Kysely<StoreDatabase>;
  transaction<T>(
    tenantId: string,
    mode: TransactionMode,
    work: (executor: Executor) => Promise<T>,
  ): Promise<T>;
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
