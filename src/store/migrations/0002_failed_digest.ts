// The failed-state fingerprint moves from memory into the snapshot: after a restart, the echo of a failure's
// own ✖ write still finds the link "as it was when it failed" and is not tried again (i9 §3).
import type { Kysely, Migration } from 'kysely';
import type { StoreDialect } from './index.ts';

export function failedDigestMigration(_dialect: StoreDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('snapshots').addColumn('failed_digest', 'text').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('snapshots').dropColumn('failed_digest').execute();
    },
  };
}
