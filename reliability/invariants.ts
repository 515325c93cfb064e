// What "nothing lost, nothing duplicated" means, checked from the emulators' own state after a run. Pure, so
// each rule has its own test (invariants.test.ts).
import type { CrmRecord } from './crm-side.ts';

export interface PcReferral {
  id: string;
  name: string;
  externalReferenceId?: string | null;
  dealValue: number | null;
}

/** What the harness did and therefore expects: each key is one referral or one shared opportunity. */
export type Expectation =
  | { kind: 'incoming'; referralId: string; value: number }
  | { kind: 'shared'; crmId: string; value: number };

export interface Verdict {
  expected: number;
  /** Expected records without their counterpart. */
  lost: number;
  /** Counterparts beyond the first. */
  duplicated: number;
  /** Counterparts whose deal value is not the last one a user wrote. */
  wrongValue: number;
  /** Acknowledged webhook events whose referral is lost or wrong. */
  acknowledgedLost: number;
  problems: string[];
}

export function checkInvariants(input: {
  expectations: Expectation[];
  referrals: PcReferral[];
  records: CrmRecord[];
  /** Referral ids of the webhook events cosell answered 2xx. */
  acknowledged: string[];
}): Verdict {
  const recordsByReferral = groupBy(input.records, (r) => r.referralId);
  const referralsByCrm = groupBy(input.referrals, (r) => r.externalReferenceId ?? null);
  const referralById = new Map(input.referrals.map((r) => [r.id, r]));
  const recordById = new Map(input.records.map((r) => [r.id, r]));
  const verdict: Verdict = {
    expected: input.expectations.length,
    lost: 0,
    duplicated: 0,
    wrongValue: 0,
    acknowledgedLost: 0,
    problems: [],
  };
  const bad = new Set<string>();
  const problem = (referralId: string | null, text: string) => {
    if (referralId) bad.add(referralId);
    verdict.problems.push(text);
  };

  for (const e of input.expectations) {
    if (e.kind === 'incoming') {
      const records = recordsByReferral.get(e.referralId) ?? [];
      if (records.length === 0) {
        verdict.lost++;
        problem(e.referralId, `referral ${e.referralId}: no CRM record carries it`);
        continue;
      }
      if (records.length > 1) {
        verdict.duplicated += records.length - 1;
        problem(e.referralId, `referral ${e.referralId}: ${records.length} CRM records (${ids(records)})`);
      }
      if (records[0]!.value !== e.value) {
        verdict.wrongValue++;
        problem(
          e.referralId,
          `referral ${e.referralId}: CRM value ${records[0]!.value}, expected ${e.value}`,
        );
      }
    } else {
      const referrals = referralsByCrm.get(e.crmId) ?? [];
      const record = recordById.get(e.crmId);
      if (referrals.length === 0) {
        verdict.lost++;
        problem(null, `opportunity ${e.crmId}: no referral names it`);
        continue;
      }
      if (referrals.length > 1) {
        verdict.duplicated += referrals.length - 1;
        problem(
          referrals[0]!.id,
          `opportunity ${e.crmId}: ${referrals.length} referrals (${ids(referrals)})`,
        );
      }
      const referral = referrals[0]!;
      if (record?.referralId !== referral.id) {
        verdict.lost++;
        problem(
          referral.id,
          `opportunity ${e.crmId}: carries ${record?.referralId ?? 'no'} referral id, not ${referral.id}`,
        );
      }
      if (referral.dealValue !== e.value) {
        verdict.wrongValue++;
        problem(
          referral.id,
          `opportunity ${e.crmId}: referral value ${referral.dealValue}, expected ${e.value}`,
        );
      }
    }
  }
  // Every other referral id a CRM record carries must exist, on one record only.
  const incoming = new Set(input.expectations.flatMap((e) => (e.kind === 'incoming' ? [e.referralId] : [])));
  for (const [referralId, records] of recordsByReferral) {
    if (referralId === null || incoming.has(referralId)) continue;
    if (!referralById.has(referralId))
      problem(referralId, `${ids(records)} carries unknown referral ${referralId}`);
    if (records.length > 1) {
      verdict.duplicated += records.length - 1;
      problem(referralId, `referral ${referralId}: ${records.length} CRM records (${ids(records)})`);
    }
  }
  verdict.acknowledgedLost = input.acknowledged.filter((id) => bad.has(id)).length;
  return verdict;
}

function groupBy<T>(items: T[], key: (item: T) => string | null): Map<string | null, T[]> {
  const map = new Map<string | null, T[]>();
  for (const item of items) {
    const k = key(item);
    map.set(k, [...(map.get(k) ?? []), item]);
  }
  return map;
}

const ids = (items: { id: string }[]) => items.map((i) => i.id).join(', ');
