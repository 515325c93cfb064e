// Echo suppression for failed links (DESIGN.md §3 "Echo suppression by values"). A successful sync updates the
// snapshot, so its own writes coming back as hints compare equal and cost nothing. A failure leaves the snapshot
// as it was, yet still writes the ✖ and an audit line to the CRM — and that write comes back through the change
// feed. Without this memory the echo re-ran the failed sync: a second PATCH of a change Partner Center had
// refused, or a fresh round of retries right after a dead letter (i4 §2, R17, R19).
//
// So the state both sides were in when a link's sync last failed for good is stored with the snapshot's error
// (a digest of the deal without the fields the failure itself writes, and of the referral's version); a hint that
// finds exactly that state again is skipped — after a restart too. Resubmit, the reconcile sweep and the periodic
// re-check of failed links always try again.
import { createHash } from 'node:crypto';
import type { Deal } from '../core/deal.ts';
import type { JobTrigger } from '../store/store.ts';

/** What a sync attempt saw, reported back to the worker (which alone knows whether the attempt failed for good). */
export interface AttemptState {
  seen?: { linkId: number; digest: string };
  /** The referral's updatedDateTime as the attempt read it: a new referral the CRM refused is tried again only
   *  when Partner Center changes it (or an admin resubmits), not on every sweep. */
  referralUpdatedAt?: string | null;
  /** The record's name as the attempt read it (deal, else referral), for the log lines operators search. */
  name?: string;
  /** The customer (account, else the referral's customer profile), for the dashboard's records list. */
  customer?: string;
  /** A 412 showed the snapshot's referral stale: the re-run reads Partner Center. */
  readReferral?: boolean;
  /** When this run of the sync started, by cosell's clock: no CRM read of it is older (crm-version.ts). */
  startedAt?: Date;
}

/** The change feed is where the failure's own ✖ write comes back. Partner Center webhooks are not suppressed: a
 *  failed write changes nothing there, so a webhook means Microsoft's side really moved. */
const ECHO_TRIGGERS: readonly JobTrigger[] = ['crm-poll'];

/** True when a hint finds a failed link exactly as its last final failure left it: the failure would only repeat.
 *  Pure: `error` is the snapshot's stored error state. */
export function unchangedSinceFailure(
  error: { digest?: string | null } | null | undefined,
  digest: string,
  trigger: JobTrigger,
): boolean {
  return error?.digest != null && ECHO_TRIGGERS.includes(trigger) && error.digest === digest;
}

/** Digest of both sides as a sync attempt read them (the referral by its eTag, null before it exists); the deal's
 *  mark, audit trail, stamp and row version are left out, since the failure's own ✖ write changes exactly those. */
export function stateDigest(deal: Deal, referralETag: string | null): string {
  const { mark: _mark, audit: _audit, modifiedAt: _modifiedAt, version: _version, ...values } = deal;
  return createHash('sha256')
    .update(stableJson({ deal: values, referralETag }))
    .digest('base64url');
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
