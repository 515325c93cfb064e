// Both sides of a link as they are now (the dashboard's record detail): the referral's and the deal's mapped
// values, read live through the same counted clients the sync uses, plus the deal's audit lines. Read only.
import { crmStatusOf, dealValues, referralValues } from '../core/deal-values.ts';
import type { Values } from '../core/mapping.ts';
import type { Link } from '../store/store.ts';
import type { SyncContext } from './sync-link.ts';

export interface SideRead {
  values: Values | null;
  /** Why this side could not be read now (the other side still shows). */
  error: string | null;
}

export interface LinkSides {
  partnerCenter: SideRead;
  crm: SideRead;
  /** The deal's Audit field, one line each, oldest first. */
  audit: string[];
}

export async function inspectLink(
  ctx: Pick<SyncContext, 'referrals' | 'crm' | 'settings' | 'store'>,
  link: Link,
): Promise<LinkSides> {
  const snapshot = await ctx.store.getSnapshot(link.id);
  const [referral, deal] = await Promise.allSettled([
    link.referralId ? ctx.referrals.get(link.referralId) : null,
    link.crmId ? ctx.crm.findDeal({ kind: link.dealKind, id: link.crmId }) : null,
  ]);
  const sides: LinkSides = { partnerCenter: unread(), crm: unread(), audit: [] };
  if (referral.status === 'rejected') sides.partnerCenter.error = messageOf(referral.reason);
  else if (referral.value)
    sides.partnerCenter.values = referralValues(referral.value.referral, { dealKind: link.dealKind });
  if (deal.status === 'rejected') sides.crm.error = messageOf(deal.reason);
  else if (deal.value) {
    // The status an open deal stands for is derived against what was synced last (crmStatusOf).
    // (Not dealValues' snapshot option: that hides an on-hold deal's edits from the sync, not from a person.)
    const values = dealValues(deal.value, { defaultCurrency: ctx.settings.defaultCurrency });
    const status = crmStatusOf(deal.value, snapshot?.values?.status);
    sides.crm.values = status === undefined ? values : { ...values, status };
    sides.audit = (deal.value.audit ?? '').split('\n').filter((line) => line.trim() !== '');
  } else if (link.crmId) sides.crm.error = `CRM record ${link.crmId} no longer exists (deleted or merged).`;
  return sides;
}

const unread = (): SideRead => ({ values: null, error: null });
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
