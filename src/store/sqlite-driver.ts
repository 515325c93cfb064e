// SQLite through better-sqlite3: one connection per database file in a process, one transaction at a time on
// it (an in-process lock), `BEGIN IMMEDIATE` for writes. Why one connection: better-sqlite3 waits for a busy
// lock synchronously, so a second connection in the same process waiting on the first one's write lock would
// block the event loop while the first transaction waits on an `await` to commit — a deadlock until
// busy_timeout. Other processes are serialised by SQLite's own lock, as before.
import type Database from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { type Driver, type Executor, Mutex } from './driver.ts';
import type { StoreDatabase } from './schema.ts';

const STATEMENT_CACHE_SIZE = 500;

export function sqliteDriver(sqlite: Database.Database, db: Kysely<StoreDatabase>): Driver {
  const mutex = new Mutex();
  const statements = new Map<string, Database.Statement>();
  const statement = (text: string) => {
    let prepared = statements.get(text);
    if (!prepared) {
      // `in (?, ?, …)` lists make one text per length: keep the cache bounded.
      if (statements.size >= STATEMENT_CACHE_SIZE) statements.clear();
      prepared = sqlite.prepare(text);
      statements.set(text, prepared);
    }
    return prepared;
  };
  const executor: Executor = {
    async all(query) {
      const compiled = query.compile();
      const prepared = statement(compiled.sql);
      if (prepared.reader) return prepared.all(...compiled.parameters) as never[];
      prepared.run(...compiled.parameters);
      return [];
    },
    async run(query) {
      const compiled = query.compile();
      return statement(compiled.sql).run(...compiled.parameters).changes;
    },
  };
  const immediate = sqlite.prepare('BEGIN IMMEDIATE');
  const begin = {
    write: immediate,
    claim: immediate,
    'counted-claim': immediate,
    read: sqlite.prepare('BEGIN'),
  };
  const commit = sqlite.prepare('COMMIT');
  const rollback = sqlite.prepare('ROLLBACK');
  return {
    dialect: 'sqlite',
    db,
    transaction(_tenantId, mode, work) {
      return mutex.lock(async () => {
        begin[mode].run();
        try {
          const result = await work(executor);
          commit.run();
          return result;
        } catch (error) {
          if (sqlite.inTransaction) rollback.run();
          throw error;
        }
      });
    },
    forUpdate: (query) => query,
    announceQueued: async () => {},
    watchQueued: () => () => {},
    once(work) {
      return mutex.lock(() => work(executor));
    },
    async close() {
      await mutex.lock(async () => {
        if (sqlite.open) await db.destroy();
      });
    },
  };
}
