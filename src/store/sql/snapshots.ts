// The snapshots: what each side last looked like for a link (values, cached referral, error), read and saved.
import type { Selectable } from 'kysely';
import { toSnapshot } from '../rows.ts';
import type { SnapshotsTable } from '../schema.ts';
import type { Snapshot, SnapshotUpdate } from '../store.ts';

import { first, one, SqlPart } from './part.ts';

export class SnapshotSql extends SqlPart {
  async getSnapshot(linkId: number): Promise<Snapshot | null> {
    const row = await this.first(
      this.db
        .selectFrom('snapshots')
        .selectAll()
        .where('tenant_id', '=', this.tenantId)
        .where('link_id', '=', linkId),
    );
    return row ? toSnapshot(row) : null;
  }

  async saveSnapshot(linkId: number, update: SnapshotUpdate): Promise<Snapshot> {
    return toSnapshot(
      await this.transaction(async (x) => {
        await this.parts.links.requireLink(x, linkId);
        const set: Partial<Selectable<SnapshotsTable>> = { updated_at: this.now() };
        if (update.values !== undefined) {
          set.values_json = update.values === null ? null : JSON.stringify(update.values);
          const deadline = update.values?.responseDeadline;
          set.response_deadline = typeof deadline === 'string' ? deadline : null;
        }
        if (update.referralETag !== undefined) set.referral_etag = update.referralETag;
        if (update.referralUpdatedAt !== undefined) set.referral_updated_at = update.referralUpdatedAt;
        if (update.crmVersion !== undefined) set.crm_version = update.crmVersion;
        // The cached referral goes with its eTag: a new eTag without the referral it belongs to forgets it.
        if (update.referral !== undefined)
          set.referral_json = update.referral === null ? null : JSON.stringify(update.referral);
        else if (update.referralETag !== undefined) set.referral_json = null;
        if (update.error !== undefined) {
          set.error_rule = update.error?.rule ?? null;
          set.error_message = update.error?.message ?? null;
          set.failed_digest = update.error?.digest ?? null;
        }
        const existing = await first(
          x,
          this.db.selectFrom('snapshots').select('link_id').where('link_id', '=', linkId),
        );
        if (existing) {
          return await one(
            x,
            this.db.updateTable('snapshots').set(set).where('link_id', '=', linkId).returningAll(),
          );
        }
        return await one(
          x,
          this.db
            .insertInto('snapshots')
            .values({
              link_id: linkId,
              tenant_id: this.tenantId,
              values_json: null,
              referral_etag: null,
              referral_updated_at: null,
              crm_version: null,
              error_rule: null,
              error_message: null,
              failed_digest: null,
              referral_json: null,
              updated_at: this.now(),
              ...set,
            })
            .returningAll(),
        );
      }),
    );
  }
}
