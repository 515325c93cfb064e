// The 3-way diff of DESIGN.md §3: each side against the last-synced snapshot, on canonical values.
// Only a side that moved away from the snapshot has something to say, so our own write coming back as an
// event (an echo) is 'unchanged' and causes no write.

import type { CanonicalValue, FieldMapping, FieldOwner, Values } from './mapping.ts';
import { crmValueOf, referralValueOf } from './mapping.ts';
import type { PatchOperation } from './patchable.ts';
import { createOnlyFieldOf, patchablePointerOf } from './patchable.ts';
import { REFERRAL_SUBSTATUSES, type ReferralSubstatus, statusOfSubstatus } from './transitions.ts';

export type FieldChange = 'unchanged' | 'changedInCrm' | 'changedInPartnerCenter' | 'conflict';

export interface FieldDiff {
  field: string;
  change: FieldChange;
  referral: CanonicalValue | undefined;
  crm: CanonicalValue | undefined;
  snapshot: CanonicalValue | undefined;
  /** Whose value stands after the sync; absent when unchanged. */
  winner?: FieldOwner;
  /** The value both sides should hold after the sync (the agreed value when unchanged, if known). */
  value: CanonicalValue | undefined;
  mapping: FieldMapping;
}

export interface SnapshotDiff {
  fields: FieldDiff[];
  /** True when at least one side needs a write. */
  changed: boolean;
}

export function sameValue(a: CanonicalValue | undefined, b: CanonicalValue | undefined): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => v === b[i]);
  return a === b;
}

const isEmpty = (v: CanonicalValue | undefined) => v === null || (Array.isArray(v) && v.length === 0);

/**
 * Per mapped field: which side changed since the snapshot, and whose value wins.
 * - A side that says nothing (undefined) is taken as unchanged.
 * - Both changed to the same value: unchanged (they already agree).
 * - Both changed differently: conflict, won by the field's owner, except values Partner Center owns
 *   (`partnerCenterOwnedValues`, e.g. Expired).
 * - A change on a side the direction does not read from (a CRM edit of a Partner Center-only field) is
 *   reported, but the other side's value wins and is written back.
 * - No snapshot yet (first sync): a side that is empty takes the other's value; two different values are a
 *   conflict won by the owner.
 */
export function diffAgainstSnapshot(input: {
  referral: Values;
  crm: Values;
  snapshot: Values | null;
  mapping: readonly FieldMapping[];
}): SnapshotDiff {
  const fields: FieldDiff[] = [];
  for (const m of input.mapping) {
    if (!m.referralPath) continue;
    const referral = input.referral[m.field];
    const crm = input.crm[m.field];
    const snapshot = input.snapshot ? input.snapshot[m.field] : undefined;
    fields.push(diffField(m, referral, crm, snapshot, input.snapshot !== null));
  }
  return { fields, changed: fields.some((f) => needsWrite(f)) };
}

function diffField(
  m: FieldMapping,
  referral: CanonicalValue | undefined,
  crm: CanonicalValue | undefined,
  snapshot: CanonicalValue | undefined,
  hasSnapshot: boolean,
): FieldDiff {
  const base = { field: m.field, referral, crm, snapshot, mapping: m };
  const agreed = referral !== undefined ? referral : crm !== undefined ? crm : snapshot;
  let referralChanged: boolean;
  let crmChanged: boolean;
  if (hasSnapshot && snapshot !== undefined) {
    referralChanged = referral !== undefined && !sameValue(referral, snapshot);
    crmChanged = crm !== undefined && !sameValue(crm, snapshot);
  } else {
    // First sync of this field: only a side with a value has anything to give.
    referralChanged = referral !== undefined && !isEmpty(referral);
    crmChanged = crm !== undefined && !isEmpty(crm);
  }
  if (referral !== undefined && crm !== undefined && sameValue(referral, crm)) {
    return { ...base, change: 'unchanged', value: referral };
  }
  if (!referralChanged && !crmChanged) return { ...base, change: 'unchanged', value: agreed };

  const change: FieldChange =
    referralChanged && crmChanged ? 'conflict' : referralChanged ? 'changedInPartnerCenter' : 'changedInCrm';
  let winner: FieldOwner =
    change === 'conflict' ? m.owner : change === 'changedInPartnerCenter' ? 'partnerCenter' : 'crm';
  // The direction says which side a field is read from; a change on the other side is overwritten.
  if (m.direction === 'toCrm') winner = 'partnerCenter';
  if (m.direction === 'toReferral') winner = 'crm';
  if (typeof referral === 'string' && referralChanged && m.partnerCenterOwnedValues?.includes(referral)) {
    winner = 'partnerCenter';
  }
  const value = winner === 'partnerCenter' ? referral : crm;
  return { ...base, change, winner, value };
}

function needsWrite(f: FieldDiff): boolean {
  if (!f.winner || f.value === undefined) return false;
  const other = f.winner === 'crm' ? f.referral : f.crm;
  return !sameValue(other, f.value);
}

/** Fields to write to Partner Center: the CRM's value won and the referral differs. */
export function writesToReferral(diff: SnapshotDiff): FieldDiff[] {
  return diff.fields.filter((f) => f.winner === 'crm' && needsWrite(f));
}

/** Fields to write to the CRM: Partner Center's value won and the CRM record differs. */
export function writesToCrm(diff: SnapshotDiff): FieldDiff[] {
  return diff.fields.filter((f) => f.winner === 'partnerCenter' && needsWrite(f));
}

/** The snapshot to store after the writes succeed: every field at its post-sync value. */
export function snapshotAfter(diff: SnapshotDiff): Values {
  const out: Record<string, CanonicalValue> = {};
  for (const f of diff.fields) if (f.value !== undefined) out[f.field] = f.value;
  return out;
}

/** `{ crmField: value }` for the CRM writes of a diff, values in the CRM's vocabulary. */
export function crmUpdateFor(writes: readonly FieldDiff[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of writes) if (f.value !== undefined) out[f.mapping.crmField] = crmValueOf(f.mapping, f.value);
  return out;
}

/**
 * JSON Patch operations for the referral writes of a diff. Fields Partner Center does not let us patch
 * come back in `createOnly` (R11: an audit line, not a silent drop). Lists are sent whole; `listItems`
 * supplies the full elements (solution tags, contact members) by field, else `{ [itemKey]: key }` is sent.
 * Writing `status` (read from the substatus) also writes the status the substatus belongs to.
 */
export function referralPatchFor(
  writes: readonly FieldDiff[],
  listItems: Readonly<Record<string, readonly unknown[]>> = {},
): { ops: PatchOperation[]; createOnly: FieldDiff[] } {
  const ops: PatchOperation[] = [];
  const createOnly: FieldDiff[] = [];
  for (const f of writes) {
    const m = f.mapping;
    const pointer = patchablePointerOf(m.referralPath);
    if (!pointer || f.value === undefined) {
      if (createOnlyFieldOf(m.referralPath) || !pointer) createOnly.push(f);
      continue;
    }
    let value: unknown = referralValueOf(m, f.value);
    if (m.kind === 'list') {
      const keys = (f.value ?? []) as readonly string[];
      value = listItems[m.field] ?? keys.map((key) => ({ [m.itemKey ?? 'id']: key }));
    }
    if (pointer === '/substatus' && isSubstatus(value)) {
      ops.push({ op: 'replace', path: '/status', value: statusOfSubstatus(value) });
    }
    ops.push({ op: 'replace', path: pointer, value });
  }
  return { ops, createOnly };
}

const isSubstatus = (v: unknown): v is ReferralSubstatus =>
  typeof v === 'string' && (REFERRAL_SUBSTATUSES as readonly string[]).includes(v);
