// The first schema: every table carries tenant_id from day one (DESIGN.md §3). Written with kysely's
// schema builder so the PostgreSQL store runs the same migration; the only dialect difference is how an
// auto-increment id is declared.
import { type CreateTableBuilder, type Kysely, type Migration, sql } from 'kysely';
import type { StoreDialect } from './index.ts';

export function initialMigration(dialect: StoreDialect): Migration {
  // PostgreSQL returns int8 as a string: the PostgreSQL store sets a type parser for it.
  const withId = <T extends string>(table: CreateTableBuilder<T, never>) =>
    dialect === 'postgres'
      ? table.addColumn('id', 'bigserial', (c) => c.primaryKey())
      : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
  const idRef = dialect === 'postgres' ? 'bigint' : 'integer';

  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await withId(db.schema.createTable('links'))
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('referral_id', 'text')
        .addColumn('engagement_id', 'text')
        .addColumn('crm_kind', 'text', (c) => c.notNull())
        .addColumn('crm_id', 'text')
        .addColumn('deal_kind', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull().defaultTo('active'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      // NULLs are distinct in unique indexes on both databases: many links may still lack one side.
      await db.schema
        .createIndex('links_referral')
        .unique()
        .on('links')
        .columns(['tenant_id', 'referral_id'])
        .execute();
      await db.schema
        .createIndex('links_crm')
        .unique()
        .on('links')
        .columns(['tenant_id', 'crm_kind', 'crm_id'])
        .execute();
      await db.schema
        .createIndex('links_engagement')
        .on('links')
        .columns(['tenant_id', 'engagement_id'])
        .execute();

      await db.schema
        .createTable('snapshots')
        .addColumn('link_id', idRef, (c) => c.primaryKey().references('links.id').onDelete('cascade'))
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('values_json', 'text')
        .addColumn('referral_etag', 'text')
        .addColumn('referral_updated_at', 'text')
        .addColumn('crm_version', 'text')
        .addColumn('error_rule', 'text')
        .addColumn('error_message', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('snapshots_updated')
        .on('snapshots')
        .columns(['tenant_id', 'updated_at'])
        .execute();

      await withId(db.schema.createTable('inbox'))
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('dedupe_key', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('received_at', 'text', (c) => c.notNull())
        .addColumn('processed_at', 'text')
        .execute();
      await db.schema
        .createIndex('inbox_dedupe')
        .unique()
        .on('inbox')
        .columns(['tenant_id', 'dedupe_key'])
        .execute();
      await db.schema
        .createIndex('inbox_unprocessed')
        .on('inbox')
        .columns(['tenant_id', 'id'])
        .where(sql.ref('processed_at'), 'is', null)
        .execute();

      await withId(db.schema.createTable('jobs'))
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('link_id', idRef, (c) => c.notNull().references('links.id').onDelete('cascade'))
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('hints', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_run_at', 'text', (c) => c.notNull())
        .addColumn('lease_owner', 'text')
        .addColumn('lease_expires_at', 'text')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      // The "one job per link" rule as constraints, so no code path (or second process) can break it.
      await db.schema
        .createIndex('jobs_one_pending_per_link')
        .unique()
        .on('jobs')
        .column('link_id')
        .where(sql.ref('state'), '=', 'pending')
        .execute();
      await db.schema
        .createIndex('jobs_one_running_per_link')
        .unique()
        .on('jobs')
        .column('link_id')
        .where(sql.ref('state'), '=', 'running')
        .execute();
      await db.schema
        .createIndex('jobs_due')
        .on('jobs')
        .columns(['tenant_id', 'state', 'next_run_at'])
        .execute();
      await db.schema.createIndex('jobs_by_link').on('jobs').columns(['link_id', 'state']).execute();

      await withId(db.schema.createTable('create_intents'))
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('link_id', idRef, (c) => c.notNull().references('links.id').onDelete('cascade'))
        .addColumn('crm_id', 'text', (c) => c.notNull())
        .addColumn('external_reference_id', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('referral_id', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('create_intents_one_pending_per_link')
        .unique()
        .on('create_intents')
        .column('link_id')
        .where(sql.ref('state'), '=', 'pending')
        .execute();
      await db.schema.createIndex('create_intents_by_link').on('create_intents').column('link_id').execute();

      await withId(db.schema.createTable('runs'))
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('link_id', idRef, (c) => c.references('links.id').onDelete('set null'))
        .addColumn('job_id', idRef)
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('referral_id', 'text')
        .addColumn('crm_id', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('direction', 'text', (c) => c.notNull())
        .addColumn('error_message', 'text')
        .addColumn('error_fix', 'text')
        .addColumn('api_calls_json', 'text', (c) => c.notNull())
        .addColumn('duration_ms', 'integer', (c) => c.notNull())
        .addColumn('diff_json', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('personal_data_purged_at', 'text')
        .execute();
      await db.schema.createIndex('runs_by_tenant').on('runs').columns(['tenant_id', 'id']).execute();
      await db.schema.createIndex('runs_by_link').on('runs').columns(['link_id', 'id']).execute();
      await db.schema
        .createIndex('runs_by_outcome')
        .on('runs')
        .columns(['tenant_id', 'outcome', 'id'])
        .execute();
      await db.schema.createIndex('runs_by_start').on('runs').columns(['tenant_id', 'started_at']).execute();

      await db.schema
        .createTable('cursors')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('cursors_pk', ['tenant_id', 'name'])
        .execute();

      await db.schema
        .createTable('secrets')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('ciphertext', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('secrets_pk', ['tenant_id', 'name'])
        .execute();
    },
  };
}
