import { describe, expect, it } from 'vitest';
import {
  attemptsAfterRetry,
  checkTransition,
  coalesceHint,
  foldRetry,
  mergePending,
  resubmitRunAt,
} from './job-rules.ts';
import { mergedLink } from './link-rules.ts';

const T1 = '2026-12-01T10:00:00.000Z';
const T2 = '2026-12-01T10:05:00.000Z';

describe('job rules (every store backend)', () => {
  it('R26 a hint folds into the pending job: counted, as early as asked, a retry keeps its backoff, a CRM hint hides no trigger', () => {
    const firstTry = { trigger: 'partner-center-webhook' as const, hints: 1, attempts: 0, next_run_at: T2 };
    expect(coalesceHint(firstTry, 'crm-poll', T1)).toEqual({
      trigger: 'partner-center-webhook',
      hints: 2,
      next_run_at: T1,
    });
    expect(coalesceHint(firstTry, 'reconcile', T1).trigger).toBe('reconcile');
    const retry = { ...firstTry, attempts: 2 };
    expect(coalesceHint(retry, 'partner-center-webhook', T1).next_run_at).toBe(T2);
  });

  it('R26 a retry folds into a pending job keeping the larger attempts and the later time; a paused API refunds the attempt', () => {
    expect(foldRetry({ attempts: 1, next_run_at: T1 }, 3, T2)).toEqual({ attempts: 3, next_run_at: T2 });
    expect(foldRetry({ attempts: 4, next_run_at: T2 }, 3, T1)).toEqual({ attempts: 4, next_run_at: T2 });
    expect(attemptsAfterRetry(3, true)).toBe(2);
    expect(attemptsAfterRetry(0, true)).toBe(0);
    expect(attemptsAfterRetry(3, false)).toBe(3);
  });

  it('R31 merged links keep every hint and the earlier time; a resubmit runs now unless already due earlier', () => {
    expect(mergePending({ hints: 2, next_run_at: T2 }, { hints: 3, next_run_at: T1 })).toEqual({
      hints: 5,
      next_run_at: T1,
    });
    expect(resubmitRunAt(undefined, T2)).toBe(T2);
    expect(resubmitRunAt({ next_run_at: T1 }, T2)).toBe(T1);
  });

  it('R26 the transition table: a finished job is never reopened, a pending one is never finished without running', () => {
    expect(() => checkTransition('running', 'succeeded')).not.toThrow();
    expect(() => checkTransition('dead', 'pending')).not.toThrow();
    expect(() => checkTransition('succeeded', 'pending')).toThrow(
      'A job may not go from succeeded to pending.',
    );
    expect(() => checkTransition('pending', 'succeeded')).toThrow('from pending to succeeded');
    expect(() => checkTransition('new', 'running')).toThrow();
  });
});

describe('link merge rule (every store backend)', () => {
  const link = (id: number, sides: Partial<Parameters<typeof mergedLink>[0]>) => ({
    id,
    referral_id: null,
    engagement_id: null,
    crm_kind: 'salesforce' as const,
    crm_id: null,
    deal_kind: 'opportunity' as const,
    ...sides,
  });

  it('R31 the merged link takes each side it lacks from the other, the CRM kind with the CRM id', () => {
    expect(
      mergedLink(
        link(1, { referral_id: 'r-1', engagement_id: 'e-1', crm_kind: 'dynamics' }),
        link(2, { crm_kind: 'salesforce', crm_id: '006A', deal_kind: 'lead' }),
      ),
    ).toEqual({
      referral_id: 'r-1',
      engagement_id: 'e-1',
      crm_kind: 'salesforce',
      crm_id: '006A',
      deal_kind: 'lead',
    });
  });

  it('R31 two referrals or two CRM records are two deals: refused with the fix; a link never merges with itself', () => {
    expect(() => mergedLink(link(1, { referral_id: 'r-1' }), link(2, { referral_id: 'r-2' }))).toThrow(
      'Links 1 and 2 cannot be merged: they pair with referrals r-1 and r-2.',
    );
    expect(() => mergedLink(link(1, { crm_id: '006A' }), link(2, { crm_id: '006B' }))).toThrow(
      'they pair with CRM records 006A and 006B',
    );
    expect(() => mergedLink(link(1, {}), link(1, {}))).toThrow('Cannot merge link 1 into itself.');
  });
});
