// Partner Center sends a webhook for every change of a referral, cosell's own writes included: each PATCH and
// POST would come back as a job that reads the referral only to find what cosell just wrote. The write's answer
// carries the referral's new `updatedDateTime`, and the event says when the referral changed
// (`ResourceChangeUtcDate`): an event no later than what cosell already saw needs no read.
import type { Referral } from '../core/referral.ts';
import type { ReferralsClient } from '../partner-center/referrals.ts';

/** Enough for every referral written in the last minutes of a busy backfill; older entries fall to the snapshot. */
const REMEMBERED = 10_000;

/** In memory, per process: after a restart (or on another worker) the snapshot's stamp answers instead. */
export class OwnChanges {
  private readonly stamps = new Map<string, number>();

  constructor(private readonly limit = REMEMBERED) {}

  /** The referral as a create or update by cosell answered it. */
  note(referral: Referral | null | undefined): void {
    const id = referral?.id;
    const at = Date.parse(String(referral?.updatedDateTime ?? ''));
    if (id === undefined || id === null || Number.isNaN(at)) return;
    const key = String(id);
    this.stamps.delete(key);
    this.stamps.set(key, at);
    if (this.stamps.size > this.limit) this.stamps.delete(this.stamps.keys().next().value as string);
  }

  /** True when a change at `changedAt` (ms) is cosell's own last write of the referral or older. */
  covers(referralId: string, changedAt: number): boolean {
    const own = this.stamps.get(referralId);
    return own !== undefined && changedAt <= own;
  }
}

/** The Referrals client noting the answer of each create and update it makes. */
export function noteOwnWrites(client: ReferralsClient, own: OwnChanges): ReferralsClient {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if ((prop !== 'create' && prop !== 'update') || typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => Promise<Referral | null>;
      return async (...args: unknown[]) => {
        const written = await fn.apply(receiver, args);
        own.note(written);
        return written;
      };
    },
  });
}

/** True when the event's change is one cosell has already seen: its own write, or what its last sync read. */
export function alreadySeen(
  own: OwnChanges,
  referralId: string,
  resourceChangeUtcDate: string,
  snapshot: { referralUpdatedAt: string | null; error: unknown } | null,
): boolean {
  const changedAt = Date.parse(resourceChangeUtcDate);
  if (Number.isNaN(changedAt)) return false;
  if (own.covers(referralId, changedAt)) return true;
  // A failed link is read again on any event: the failure may have been Partner Center's to fix.
  if (!snapshot?.referralUpdatedAt || snapshot.error) return false;
  const seenAt = Date.parse(snapshot.referralUpdatedAt);
  return !Number.isNaN(seenAt) && changedAt <= seenAt;
}
