// R7: Microsoft's side of a co-sell engagement is a referral of its own. Its events reach us anyway (intake
// reads that referral to find our link), so what it says is kept per engagement in the store, and the next sync
// of our link shows a change of it on the record — without one more Partner Center call per sync.
import type { Referral } from '../core/referral.ts';
import type { Store } from '../store/store.ts';

export interface MicrosoftSideState {
  substatus: string | null;
  statusReason: string | null;
  /** The referral's `updatedDateTime` when read: the reconcile sweep skips a version already handled, also
   *  after a restart (absent in states stored before it was kept). */
  updatedAt?: string | null;
}

const keyOf = (engagementId: string) => `microsoft-side:${engagementId.toLowerCase()}`;

/** Remembers what Microsoft's referral of an engagement says now. */
export async function rememberMicrosoftSide(store: Store, referral: Referral): Promise<void> {
  if (!referral.engagementId) return;
  const state: MicrosoftSideState = {
    substatus: referral.substatus ?? null,
    statusReason: referral.statusReason ?? null,
    updatedAt: referral.updatedDateTime ?? null,
  };
  await store.setCursor(keyOf(referral.engagementId), JSON.stringify(state));
}

export async function readMicrosoftSide(
  store: Store,
  engagementId: string | null | undefined,
): Promise<MicrosoftSideState | null> {
  if (!engagementId) return null;
  const raw = await store.getCursor(keyOf(engagementId));
  return raw ? (JSON.parse(raw) as MicrosoftSideState) : null;
}

/** The audit words for a move of Microsoft's side, or null when there is nothing a seller needs to hear. Pure. */
export function describeMicrosoftSide(
  state: MicrosoftSideState,
  before: string | null | undefined,
): string | null {
  if (!state.substatus || state.substatus === before) return null;
  const reason = state.statusReason ? ` (${state.statusReason})` : '';
  switch (state.substatus) {
    case 'Accepted':
      return 'Microsoft accepted its side of the co-sell';
    case 'Declined':
      return `Microsoft declined its side of the co-sell${reason}: the referral stays yours; no Microsoft seller works on it`;
    case 'Won':
    case 'Lost':
      return `Microsoft closed its side of the co-sell as ${state.substatus}${reason}`;
    case 'Expired':
      return 'Microsoft let its side of the co-sell expire';
    default:
      return null;
  }
}
