import Database from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgres } from '../../../test/helpers/postgres.ts';
import { type StoreDialect, storeMigrationProvider, storeMigrations } from './index.ts';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

/** Every table's columns as `table.column`, the migrator's own tables left out. */
async function columns(db: Kysely<unknown>): Promise<string[]> {
  const tables = await db.introspection.getTables();
  return tables
    .filter((t) => !t.name.startsWith('kysely_'))
    .flatMap((t) => t.columns.map((c) => `${t.name}.${c.name}`))
    .sort();
}

async function migrated(dialect: StoreDialect, db: Kysely<unknown>) {
  const migrator = new Migrator({ db, provider: storeMigrationProvider(dialect) });
  return migrator.migrateToLatest();
}

describe('store migrations on PostgreSQL', () => {
  it('R2 R23 one set of migrations builds the same tables and columns on PostgreSQL as on SQLite, and runs once', async () => {
    const postgres = new Kysely<unknown>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: server.url, max: 2 }) }),
    });
    const sqlite = new Kysely<unknown>({
      dialect: new SqliteDialect({ database: new Database(':memory:') }),
    });
    try {
      const first = await migrated('postgres', postgres);
      expect(first.error).toBeUndefined();
      expect(first.results?.map((r) => `${r.migrationName} ${r.status}`)).toEqual(
        Object.keys(storeMigrations('postgres')).map((name) => `${name} Success`),
      );
      expect((await migrated('sqlite', sqlite)).error).toBeUndefined();

      const onPostgres = await columns(postgres);
      expect(onPostgres).toContain('jobs.lease_expires_at');
      expect(onPostgres).toContain('snapshots.response_deadline');
      expect(onPostgres).toEqual(await columns(sqlite));

      // Reopening an up-to-date database changes nothing.
      const again = await migrated('postgres', postgres);
      expect(again.error).toBeUndefined();
      expect(again.results).toEqual([]);
    } finally {
      await postgres.destroy();
      await sqlite.destroy();
    }
  });
});
