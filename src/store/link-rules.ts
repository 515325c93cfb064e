// How two links of one pair merge, as a pure function the same for every store backend (the store moves the
// rows that hang off them: jobs, snapshot, intents, runs).
import type { LinkRow } from './rows.ts';
import { StoreError } from './store.ts';

export function linkConflict(keep: Pick<LinkRow, 'id'>, other: Pick<LinkRow, 'id'>, why: string): StoreError {
  return new StoreError(
    'linkConflict',
    `Links ${keep.id} and ${other.id} cannot be merged: ${why}.`,
    'Each referral pairs with one CRM record: check which CRM record the referral belongs to, then un-share the other.',
  );
}

type Sides = Pick<LinkRow, 'id' | 'referral_id' | 'engagement_id' | 'crm_kind' | 'crm_id' | 'deal_kind'>;

/**
 * What `keep` holds after `drop` folds into it: each side it lacks, taken from drop. Refuses (linkConflict) when
 * the two pair with different referrals or different CRM records: that is two deals, not one.
 */
export function mergedLink(keep: Sides, drop: Sides): Omit<Sides, 'id'> {
  refuseSelfMerge(keep.id, drop.id);
  if (keep.referral_id !== null && drop.referral_id !== null && keep.referral_id !== drop.referral_id) {
    throw linkConflict(keep, drop, `they pair with referrals ${keep.referral_id} and ${drop.referral_id}`);
  }
  if (
    keep.crm_id !== null &&
    drop.crm_id !== null &&
    (keep.crm_id !== drop.crm_id || keep.crm_kind !== drop.crm_kind)
  ) {
    throw linkConflict(keep, drop, `they pair with CRM records ${keep.crm_id} and ${drop.crm_id}`);
  }
  const takesCrm = keep.crm_id === null && drop.crm_id !== null;
  return {
    referral_id: keep.referral_id ?? drop.referral_id,
    engagement_id: keep.engagement_id ?? drop.engagement_id,
    crm_kind: takesCrm ? drop.crm_kind : keep.crm_kind,
    crm_id: keep.crm_id ?? drop.crm_id,
    deal_kind: takesCrm ? drop.deal_kind : keep.deal_kind,
  };
}

export function refuseSelfMerge(keepId: number, dropId: number): void {
  if (keepId === dropId) {
    throw new StoreError('invalidArgument', `Cannot merge link ${keepId} into itself.`, 'Name two links.');
  }
}
