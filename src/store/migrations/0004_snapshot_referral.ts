// The referral as the last sync saw it (its read, or the answer of cosell's write) moves into the snapshot: a
// job the CRM alone asked for then merges against it and writes with If-Match on its eTag, without reading
// Partner Center first (a 412 reads it; issue 12). Personal data in it is purged with the snapshot's (R33).
import type { Kysely, Migration } from 'kysely';
import type { StoreDialect } from './index.ts';

export function snapshotReferralMigration(_dialect: StoreDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('snapshots').addColumn('referral_json', 'text').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('snapshots').dropColumn('referral_json').execute();
    },
  };
}
