// What the dashboard's records table shows and searches, kept on the link itself (DESIGN.md §2 server/): the
// record's name and customer as the last run read them, and that run's time, outcome and direction. One row
// per link, so listing and searching 100k records reads one table, never the run history.
import type { Kysely, Migration } from 'kysely';
import type { StoreDialect } from './index.ts';

const COLUMNS = ['display_name', 'customer_name', 'last_run_at', 'last_outcome', 'last_direction'] as const;

export function recordSummaryMigration(_dialect: StoreDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      for (const column of COLUMNS) await db.schema.alterTable('links').addColumn(column, 'text').execute();
      // Newest first within a tenant: pages read 51 index entries instead of sorting every link.
      await db.schema.createIndex('links_tenant_newest').on('links').columns(['tenant_id', 'id']).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('links_tenant_newest').execute();
      for (const column of COLUMNS) await db.schema.alterTable('links').dropColumn(column).execute();
    },
  };
}
