// PostgreSQL through a pg pool. A write transaction first takes its tenant's transaction-level advisory lock, so
// writes of one tenant are serialised across every process and machine as SQLite's write lock serialises them
// in one file (a find-or-create is never overtaken between its read and its write); tenants never wait on each
// other. Claims are the exception (see TransactionMode): they lock the job rows they take, so a tenant's workers
// claim side by side.
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Driver, Executor, TransactionMode } from './driver.ts';
import { announceQueued, queuedWatcher } from './postgres-notify.ts';
import type { StoreDatabase } from './schema.ts';

/** int8 (bigserial ids, count(*)) as a number: ids stay far below 2^53. */
const INT8_OID = 20;

/** The advisory lock on the tenant each transaction mode takes first (none: row locks only). */
const LOCKS: Record<TransactionMode, string | null> = {
  read: null,
  write: 'SELECT pg_advisory_xact_lock(hashtext($1))',
  claim: null,
  // The two-key form is a key space of its own (PostgreSQL's docs): counted claims wait only on each other.
  'counted-claim': 'SELECT pg_advisory_xact_lock(hashtext($1), 1)',
};

export function postgresPool(url: string, max = 10): pg.Pool {
  return new pg.Pool({
    connectionString: url,
    max,
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === INT8_OID
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
}

export function postgresDriver(pool: pg.Pool): Driver {
  const db = new Kysely<StoreDatabase>({ dialect: new PostgresDialect({ pool }) });
  const watcher = queuedWatcher(pool);
  const executorOf = (client: pg.PoolClient | pg.Pool): Executor => ({
    async all(query) {
      const compiled = query.compile();
      return (await client.query(compiled.sql, compiled.parameters as unknown[])).rows;
    },
    async run(query) {
      const compiled = query.compile();
      return (await client.query(compiled.sql, compiled.parameters as unknown[])).rowCount ?? 0;
    },
  });
  return {
    dialect: 'postgres',
    db,
    async transaction(tenantId, mode, work) {
      const client = await pool.connect();
      try {
        await client.query(mode === 'read' ? 'BEGIN READ ONLY' : 'BEGIN');
        const lock = LOCKS[mode];
        if (lock) await client.query(lock, [tenantId]);
        const result = await work(executorOf(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    forUpdate: (query, options = {}) =>
      options.skipLocked ? query.forUpdate().skipLocked() : query.forUpdate(),
    once(work) {
      return work(executorOf(pool));
    },
    announceQueued,
    watchQueued: (tenantId, listener) => watcher.watch(tenantId, listener),
    async close() {
      await watcher.close();
      await db.destroy();
    },
  };
}
