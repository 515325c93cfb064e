// Retention (R33): personal data removed from old snapshots and runs; processed inbox events deleted.
import { withoutEmailAddresses, withoutPersonalChanges, withoutPersonalValues } from '../retention.ts';
import { iso } from '../rows.ts';
import { PERSONAL_DATA_FIELDS, type PurgeResult, type RunFieldChange, type Values } from '../store.ts';

import { SqlPart } from './part.ts';

/** Rows changed per transaction: other writes of the tenant get the lock between batches. */
const PURGE_BATCH = 500;

export class PurgeSql extends SqlPart {
  async purgePersonalData(
    olderThan: Date,
    options: { fields?: readonly string[] } = {},
  ): Promise<PurgeResult> {
    const fields = options.fields ?? PERSONAL_DATA_FIELDS;
    const cutoff = iso(olderThan);
    const result: PurgeResult = { snapshots: 0, runs: 0, inboxEvents: 0 };

    // Snapshots keep their updated_at: removing data is not a sync. Read and write in one transaction, so
    // a sync that saves a newer snapshot meanwhile is never overwritten with old values.
    let afterLinkId = 0;
    for (;;) {
      const batch = await this.transaction(async (x) => {
        const rows = await x.all(
          this.db
            .selectFrom('snapshots')
            .select(['link_id', 'values_json', 'referral_json'])
            .where('tenant_id', '=', this.tenantId)
            .where('updated_at', '<', cutoff)
            .where((eb) => eb.or([eb('values_json', 'is not', null), eb('referral_json', 'is not', null)]))
            .where('link_id', '>', afterLinkId)
            .orderBy('link_id')
            .limit(PURGE_BATCH),
        );
        for (const row of rows) {
          const kept = withoutPersonalValues(JSON.parse(row.values_json ?? '{}') as Values, fields);
          // The cached referral holds the customer's contacts too: dropped whole (the next sync reads it).
          if (!kept && row.referral_json === null) continue;
          await x.run(
            this.db
              .updateTable('snapshots')
              .set({ ...(kept ? { values_json: JSON.stringify(kept) } : {}), referral_json: null })
              .where('link_id', '=', row.link_id),
          );
          result.snapshots += 1;
        }
        return rows;
      });
      if (batch.length === 0) break;
      afterLinkId = batch.at(-1)!.link_id;
    }

    const purgedAt = this.now();
    for (;;) {
      const batch = await this.transaction(async (x) => {
        const rows = await x.all(
          this.db
            .selectFrom('runs')
            .select(['id', 'diff_json', 'error_message'])
            .where('tenant_id', '=', this.tenantId)
            .where('started_at', '<', cutoff)
            .where('personal_data_purged_at', 'is', null)
            .orderBy('id')
            .limit(PURGE_BATCH),
        );
        for (const row of rows) {
          const diff = withoutPersonalChanges(JSON.parse(row.diff_json) as RunFieldChange[], fields);
          const message = row.error_message === null ? null : withoutEmailAddresses(row.error_message);
          await x.run(
            this.db
              .updateTable('runs')
              .set({
                diff_json: diff ? JSON.stringify(diff) : row.diff_json,
                error_message: message,
                personal_data_purged_at: purgedAt,
              })
              .where('id', '=', row.id),
          );
          if (diff || message !== row.error_message) result.runs += 1;
        }
        return rows;
      });
      if (batch.length === 0) break;
    }

    result.inboxEvents = await this.transaction(
      async (x) =>
        await x.run(
          this.db
            .deleteFrom('inbox')
            .where('tenant_id', '=', this.tenantId)
            .where('processed_at', 'is not', null)
            .where('received_at', '<', cutoff),
        ),
    );
    return result;
  }
}
