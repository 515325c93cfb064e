// The PostgreSQL store (`store.url: postgres://…` or DATABASE_URL): the SQL store's queries (sql-store.ts) on a pg
// pool, the same migrations as SQLite. Several processes on several machines share one database.
import { Migrator } from 'kysely';
import { storeMigrationProvider } from './migrations/index.ts';
import { postgresDriver, postgresPool } from './postgres-driver.ts';
import { SqlStore } from './sql-store.ts';
import { DEFAULT_TENANT, StoreError } from './store.ts';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` */
  url: string;
  tenantId?: string;
  clock?: () => Date;
  /** Connections in this process's pool. Default 10. */
  poolSize?: number;
}

export async function openPostgresStore(options: PostgresStoreOptions): Promise<SqlStore> {
  const driver = postgresDriver(postgresPool(options.url, options.poolSize));
  try {
    // kysely's migrator locks its lock table in a transaction: processes starting at once migrate once.
    const { error, results } = await new Migrator({
      db: driver.db,
      provider: storeMigrationProvider('postgres'),
    }).migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (error || failed) throw error ?? new Error(`migration ${failed?.migrationName} failed`);
  } catch (cause) {
    await driver.close();
    throw new StoreError(
      'migrationFailed',
      `The PostgreSQL store could not be opened or migrated (${describe(cause)}).`,
      'Check store.url (host, port, database, user) and that the user may create tables in the database.',
      { cause },
    );
  }
  let released = false;
  return new SqlStore(
    {
      driver,
      clock: options.clock ?? (() => new Date()),
      release: async () => {
        if (released) return;
        released = true;
        await driver.close();
      },
    },
    options.tenantId ?? DEFAULT_TENANT,
  );
}

/** The cause without the URL's password (pg names the user and host, never the password). */
function describe(cause: unknown): string {
  const message = cause instanceof Error ? cause.message : String(cause);
  return message.replace(/postgres(ql)?:\/\/[^@\s]*@/gi, 'postgres://…@');
}
