import { describe, expect, it } from 'vitest';
import type { Run } from '../../store/store.ts';
import { describeRun, parseSince } from './runs.ts';

describe('cosell runs helpers', () => {
  const now = new Date('2026-12-05T12:00:00Z');

  it('R25 --since takes an age or a date, and refuses anything else as a usage error', () => {
    expect(parseSince('30m', now).toISOString()).toBe('2026-12-05T11:30:00.000Z');
    expect(parseSince('7d', now).toISOString()).toBe('2026-11-28T12:00:00.000Z');
    expect(parseSince('2026-12-01', now).toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(() => parseSince('last week', now)).toThrow(/neither a date nor an age/);
    expect(() => parseSince('soon', now)).toThrow(expect.objectContaining({ exitCode: 2 }));
  });

  it('R25 a failed run reads as when, trigger, outcome, records, error and fix', () => {
    const run: Run = {
      id: 12,
      linkId: 3,
      jobId: 4,
      trigger: 'partner-center-webhook',
      referralId: 'r-1',
      crmId: '006A',
      outcome: 'failed',
      direction: 'none',
      error: { message: 'The org refused it.', fix: 'Fix the validation rule.' },
      apiCalls: {},
      durationMs: 10,
      diff: [],
      startedAt: now,
    };
    expect(describeRun(run)).toBe(
      [
        '#12 2026-12-05 12:00:00 UTC partner-center-webhook -> failed referral r-1, CRM 006A',
        '    error: The org refused it.',
        '    fix: Fix the validation rule.',
      ].join('\n'),
    );
  });
});
