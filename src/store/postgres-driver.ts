// PostgreSQL through a pg pool. A write transaction first takes its tenant's transaction-level advisory lock, so
// writes of one tenant are serialised across every process and machine as SQLite's write lock serialises them
// in one file (a find-or-create or a claim is never overtaken between its read and its write); tenants never
// wait on each other.
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Driver, Executor } from './driver.ts';
import type { StoreDatabase } from './schema.ts';

/** int8 (bigserial ids, count(*)) as a number: ids stay far below 2^53. */
const INT8_OID = 20;

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
        await client.query(mode === 'write' ? 'BEGIN' : 'BEGIN READ ONLY');
        if (mode === 'write') await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [tenantId]);
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
    once(work) {
      return work(executorOf(pool));
    },
    close: () => db.destroy(),
  };
}
