import { describe, expect, it } from 'vitest';
import type { CrmRecord } from './crm-side.ts';
import { checkInvariants, type Expectation, type PcReferral } from './invariants.ts';

const referral = (id: string, value: number, externalReferenceId: string | null = null): PcReferral => ({
  id,
  name: id,
  dealValue: value,
  externalReferenceId,
});
const record = (id: string, referralId: string | null, value: number | null): CrmRecord => ({
  id,
  name: id,
  referralId,
  value,
});

describe('the reliability verdict', () => {
  const expectations: Expectation[] = [
    { kind: 'incoming', referralId: 'R1', value: 10 },
    { kind: 'shared', crmId: 'O2', value: 20 },
  ];

  it('R26 a clean pair on each side is nothing lost, nothing duplicated', () => {
    const verdict = checkInvariants({
      expectations,
      referrals: [referral('R1', 10), referral('R2', 20, 'O2')],
      records: [record('O1', 'R1', 10), record('O2', 'R2', 20)],
      acknowledged: ['R1', 'R2'],
    });
    expect(verdict).toMatchObject({
      expected: 2,
      lost: 0,
      duplicated: 0,
      wrongValue: 0,
      acknowledgedLost: 0,
    });
    expect(verdict.problems).toEqual([]);
  });

  it('R26 a referral without its CRM record is lost, and so is the acknowledged event that announced it', () => {
    const verdict = checkInvariants({
      expectations,
      referrals: [referral('R1', 10), referral('R2', 20, 'O2')],
      records: [record('O2', 'R2', 20)],
      acknowledged: ['R1', 'R1', 'R2'],
    });
    expect(verdict).toMatchObject({ lost: 1, duplicated: 0, acknowledgedLost: 2 });
    expect(verdict.problems[0]).toContain('referral R1: no CRM record carries it');
  });

  it('R10 a shared opportunity with two referrals, or a referral on two CRM records, is duplicated', () => {
    const verdict = checkInvariants({
      expectations,
      referrals: [referral('R1', 10), referral('R2', 20, 'O2'), referral('R3', 20, 'O2')],
      records: [record('O1', 'R1', 10), record('O1b', 'R1', 10), record('O2', 'R2', 20)],
      acknowledged: [],
    });
    expect(verdict.duplicated).toBe(2);
    expect(verdict.lost).toBe(0);
  });

  it('R6 a value that is not the last one a user wrote is stale, on either side', () => {
    const verdict = checkInvariants({
      expectations,
      referrals: [referral('R1', 10), referral('R2', 15, 'O2')],
      records: [record('O1', 'R1', 9), record('O2', 'R2', 20)],
      acknowledged: [],
    });
    expect(verdict.wrongValue).toBe(2);
  });

  it('R4 an opportunity that never got its referral id back is lost even when the referral exists', () => {
    const verdict = checkInvariants({
      expectations,
      referrals: [referral('R1', 10), referral('R2', 20, 'O2')],
      records: [record('O1', 'R1', 10), record('O2', null, 20)],
      acknowledged: [],
    });
    expect(verdict.lost).toBe(1);
    expect(verdict.problems[0]).toContain('opportunity O2: carries no referral id, not R2');
  });

  it('R31 a CRM record carrying a referral id Partner Center does not know is a problem', () => {
    const verdict = checkInvariants({
      expectations: [],
      referrals: [],
      records: [record('O9', 'R-ghost', 1)],
      acknowledged: [],
    });
    expect(verdict.problems).toEqual(['O9 carries unknown referral R-ghost']);
  });
});
