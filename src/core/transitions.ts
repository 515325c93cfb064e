// Referral status / substatus rules (reference/partner-center.md §3 "Enums & transitions").
// The table is data; `checkTransition` is the one function that reads it.

export const REFERRAL_STATUSES = ['None', 'New', 'Active', 'Closed'] as const;
export const REFERRAL_SUBSTATUSES = [
  'None',
  'Pending',
  'Received',
  'Accepted',
  'Won',
  'Lost',
  'Declined',
  'Expired',
] as const;
export type ReferralStatus = (typeof REFERRAL_STATUSES)[number];
export type ReferralSubstatus = (typeof REFERRAL_SUBSTATUSES)[number];

/** Which statuses a referral in a given status may move to. */
export const STATUS_MOVES: Readonly<Record<ReferralStatus, readonly ReferralStatus[]>> = {
  None: ['None', 'New', 'Active', 'Closed'],
  New: ['New', 'Active', 'Closed'],
  Active: ['Active', 'Closed'],
  Closed: ['Closed'],
};

/** Which substatuses go with each status. */
export const SUBSTATUSES_OF: Readonly<Record<ReferralStatus, readonly ReferralSubstatus[]>> = {
  None: ['None'],
  New: ['Pending', 'Received'],
  Active: ['Accepted'],
  Closed: ['Won', 'Lost', 'Declined', 'Expired'],
};

/** Substatuses only Partner Center itself sets (an incoming referral left unanswered for 14 days). */
export const SYSTEM_ONLY_SUBSTATUSES: readonly ReferralSubstatus[] = ['Expired'];

export interface StatusPair {
  status: ReferralStatus;
  substatus: ReferralSubstatus;
}

export type TransitionVerdict = { allowed: true } | { allowed: false; reason: string };

export function isClosed(status: ReferralStatus | null | undefined): boolean {
  return status === 'Closed';
}

/** Says whether a status/substatus pair is valid on its own. */
export function checkStatusPair(pair: StatusPair): TransitionVerdict {
  const allowedSubstatuses = SUBSTATUSES_OF[pair.status];
  if (!allowedSubstatuses.includes(pair.substatus)) {
    return {
      allowed: false,
      reason: `Substatus '${pair.substatus}' is not valid with status '${pair.status}': use one of ${allowedSubstatuses.join(', ')}.`,
    };
  }
  return { allowed: true };
}

/**
 * Says whether a referral may move from one status pair to another, and why not.
 * `bySystem` is true only for Partner Center's own moves (expiry).
 */
export function checkTransition(
  from: StatusPair,
  to: StatusPair,
  options: { bySystem?: boolean } = {},
): TransitionVerdict {
  if (from.status === to.status && from.substatus === to.substatus) return { allowed: true };
  if (isClosed(from.status)) {
    return {
      allowed: false,
      reason: `The referral is closed (${from.status}/${from.substatus}) and accepts no further changes.`,
    };
  }
  const pair = checkStatusPair(to);
  if (!pair.allowed) return pair;
  if (!STATUS_MOVES[from.status].includes(to.status)) {
    return {
      allowed: false,
      reason: `A referral cannot move from status '${from.status}' to '${to.status}': from '${from.status}' it may move to ${STATUS_MOVES[from.status].join(', ')}.`,
    };
  }
  if (!options.bySystem && SYSTEM_ONLY_SUBSTATUSES.includes(to.substatus)) {
    return {
      allowed: false,
      reason: `Substatus '${to.substatus}' is set by Partner Center only (an incoming referral not answered within 14 days).`,
    };
  }
  return { allowed: true };
}

/** The status a substatus belongs to ('Won' -> 'Closed'). Each substatus belongs to exactly one status,
 *  so a CRM stage mapped to a substatus is enough to write both fields. */
export function statusOfSubstatus(substatus: ReferralSubstatus): ReferralStatus {
  const entry = Object.entries(SUBSTATUSES_OF).find(([, subs]) => subs.includes(substatus));
  return (entry?.[0] ?? 'None') as ReferralStatus;
}
