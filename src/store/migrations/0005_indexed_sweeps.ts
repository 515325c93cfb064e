// The periodic sweeps ask the store a question instead of reading every active link's snapshot (issue 13): the
// re-check of failed records asks for the failed snapshots (a partial index), the expiry warnings for the
// referrals whose response deadline falls in the warning window (the deadline gets a column of its own, filled
// from the values already stored). On PostgreSQL the column compares byte by byte (COLLATE "C"), as ISO
// timestamps must, whatever the database's locale.
import { type Kysely, type Migration, sql } from 'kysely';
import type { StoreDialect } from './index.ts';

export function indexedSweepsMigration(dialect: StoreDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createIndex('snapshots_failed')
        .on('snapshots')
        .columns(['tenant_id', 'link_id'])
        .where(sql.ref('error_rule'), 'is not', null)
        .execute();
      await db.schema
        .alterTable('snapshots')
        .addColumn('response_deadline', 'text', (c) =>
          dialect === 'postgres' ? c.modifyEnd(sql`collate "C"`) : c,
        )
        .execute();
      const deadline =
        dialect === 'postgres'
          ? sql`(values_json::jsonb) ->> 'responseDeadline'`
          : sql`json_extract(values_json, '$.responseDeadline')`;
      await sql`update snapshots set response_deadline = ${deadline} where values_json is not null`.execute(
        db,
      );
      await db.schema
        .createIndex('snapshots_deadline')
        .on('snapshots')
        .columns(['tenant_id', 'response_deadline'])
        .where(sql.ref('response_deadline'), 'is not', null)
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('snapshots_deadline').execute();
      await db.schema.alterTable('snapshots').dropColumn('response_deadline').execute();
      await db.schema.dropIndex('snapshots_failed').execute();
    },
  };
}
