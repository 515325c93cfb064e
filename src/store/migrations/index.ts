// Migrations defined in code (no files to find at run time, so a bundled or installed cosell migrates the
// same way). Names sort in the order they run; never edit a released migration, add the next one.
import type { Migration, MigrationProvider } from 'kysely';
import { initialMigration } from './0001_initial.ts';
import { failedDigestMigration } from './0002_failed_digest.ts';
import { recordSummaryMigration } from './0003_record_summary.ts';
import { snapshotReferralMigration } from './0004_snapshot_referral.ts';
import { indexedSweepsMigration } from './0005_indexed_sweeps.ts';

export type StoreDialect = 'sqlite' | 'postgres';

export function storeMigrations(dialect: StoreDialect): Record<string, Migration> {
  return {
    '0001_initial': initialMigration(dialect),
    '0002_failed_digest': failedDigestMigration(dialect),
    '0003_record_summary': recordSummaryMigration(dialect),
    '0004_snapshot_referral': snapshotReferralMigration(dialect),
    '0005_indexed_sweeps': indexedSweepsMigration(dialect),
  };
}

export function storeMigrationProvider(dialect: StoreDialect): MigrationProvider {
  return { getMigrations: async () => storeMigrations(dialect) };
}
