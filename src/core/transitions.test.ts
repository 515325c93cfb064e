import { describe, expect, it } from 'vitest';
import {
  checkStatusPair,
  checkTransition,
  REFERRAL_STATUSES,
  REFERRAL_SUBSTATUSES,
  type ReferralStatus,
  type ReferralSubstatus,
  SUBSTATUSES_OF,
  statusOfSubstatus,
} from './transitions.ts';

type Move = [ReferralStatus, ReferralSubstatus, ReferralStatus, ReferralSubstatus];

describe('status transitions (reference §3 "Enums & transitions")', () => {
  it.each<Move>([
    ['New', 'Pending', 'New', 'Received'],
    ['New', 'Pending', 'Active', 'Accepted'],
    ['New', 'Received', 'Closed', 'Declined'],
    ['New', 'Pending', 'Closed', 'Won'],
    ['Active', 'Accepted', 'Closed', 'Won'],
    ['Active', 'Accepted', 'Closed', 'Lost'],
    ['None', 'None', 'New', 'Pending'],
    ['Closed', 'Won', 'Closed', 'Won'],
  ])('R8/R13 %s/%s -> %s/%s is allowed', (fs, fss, ts, tss) => {
    expect(checkTransition({ status: fs, substatus: fss }, { status: ts, substatus: tss })).toEqual({
      allowed: true,
    });
  });

  it.each<[...Move, string]>([
    ['Active', 'Accepted', 'New', 'Pending', "cannot move from status 'Active' to 'New'"],
    ['Closed', 'Won', 'Active', 'Accepted', 'closed (Closed/Won) and accepts no further changes'],
    ['Closed', 'Lost', 'Closed', 'Won', 'closed (Closed/Lost)'],
    ['Closed', 'Expired', 'New', 'Pending', 'closed (Closed/Expired)'],
    ['Closed', 'Declined', 'Active', 'Accepted', 'closed (Closed/Declined)'],
    ['New', 'Pending', 'Active', 'Won', "Substatus 'Won' is not valid with status 'Active'"],
    ['New', 'Pending', 'Closed', 'Expired', 'set by Partner Center only'],
    ['Active', 'Accepted', 'Closed', 'Expired', 'set by Partner Center only'],
  ])('R17 %s/%s -> %s/%s is refused: %s', (fs, fss, ts, tss, reason) => {
    const verdict = checkTransition({ status: fs, substatus: fss }, { status: ts, substatus: tss });
    expect(verdict.allowed).toBe(false);
    expect(verdict.allowed ? '' : verdict.reason).toContain(reason);
  });

  it('R30 Expired is allowed as a system move only', () => {
    const from = { status: 'New', substatus: 'Pending' } as const;
    const to = { status: 'Closed', substatus: 'Expired' } as const;
    expect(checkTransition(from, to, { bySystem: true })).toEqual({ allowed: true });
    expect(checkTransition(from, to).allowed).toBe(false);
  });

  it('R17 Closed is terminal: no move out of any closed pair is allowed', () => {
    for (const sub of SUBSTATUSES_OF.Closed) {
      for (const status of REFERRAL_STATUSES) {
        for (const to of SUBSTATUSES_OF[status]) {
          if (status === 'Closed' && to === sub) continue;
          const verdict = checkTransition(
            { status: 'Closed', substatus: sub },
            { status, substatus: to },
            { bySystem: true },
          );
          expect(verdict.allowed, `Closed/${sub} -> ${status}/${to}`).toBe(false);
        }
      }
    }
  });

  it.each<[ReferralStatus, ReferralSubstatus, boolean]>([
    ['New', 'Pending', true],
    ['New', 'Received', true],
    ['Active', 'Accepted', true],
    ['Closed', 'Won', true],
    ['None', 'None', true],
    ['New', 'Accepted', false],
    ['Active', 'Pending', false],
    ['Closed', 'Accepted', false],
  ])('checkStatusPair %s/%s -> %s', (status, substatus, allowed) => {
    expect(checkStatusPair({ status, substatus }).allowed).toBe(allowed);
  });

  it('statusOfSubstatus gives the one status of every substatus', () => {
    for (const sub of REFERRAL_SUBSTATUSES) expect(SUBSTATUSES_OF[statusOfSubstatus(sub)]).toContain(sub);
    expect(statusOfSubstatus('Won')).toBe('Closed');
    expect(statusOfSubstatus('Accepted')).toBe('Active');
  });
});
