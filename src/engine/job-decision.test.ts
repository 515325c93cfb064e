import { describe, expect, it } from 'vitest';
import type { RetryPolicy } from '../lib/retry.ts';
import { decideAfterFailure } from './job-decision.ts';

const policy: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 2_000,
  maxDelayMs: 60_000,
  maxRetryAfterMs: 3_600_000,
};
const now = new Date('2026-12-05T10:00:00Z');
const decide = (
  verdict: Parameters<typeof decideAfterFailure>[0]['verdict'],
  attempts: number,
  random = () => 1,
) => decideAfterFailure({ verdict, attempts, policy, now, random });

describe('what becomes of a failed job', () => {
  it('R25 a retryable error is retried with exponential backoff (full jitter) until the attempts run out, then dead-lettered', () => {
    expect(decide({ kind: 'retry' }, 1)).toEqual({
      kind: 'retry',
      delayMs: 2_000,
      at: new Date(now.getTime() + 2_000),
    });
    expect(decide({ kind: 'retry' }, 3)).toMatchObject({ kind: 'retry', delayMs: 8_000 });
    expect(decide({ kind: 'retry' }, 3, () => 0.5)).toMatchObject({ kind: 'retry', delayMs: 4_000 });
    expect(decide({ kind: 'retry' }, 4)).toEqual({ kind: 'dead-letter' });
  });

  it("R27 Retry-After wins over the backoff, capped by the policy's longest wait", () => {
    expect(decide({ kind: 'retry', retryAfterMs: 120_000 }, 1)).toMatchObject({
      kind: 'retry',
      delayMs: 120_000,
    });
    expect(decide({ kind: 'retry', retryAfterMs: 7_200_000 }, 1)).toMatchObject({
      kind: 'retry',
      delayMs: 3_600_000,
    });
  });

  it('R28 R27 a paused API (credentials, budget) pauses the job without spending attempts, even on the last one', () => {
    expect(
      decide({ kind: 'pause', api: 'partner-center', reason: 'credentials', fix: 'cosell login' }, 4),
    ).toEqual({
      kind: 'pause',
    });
  });

  it('R12 R20 a refusal a person must fix fails at once, without retries', () => {
    expect(decide({ kind: 'fail', rule: 'solution-required', fix: null }, 1)).toEqual({ kind: 'fail' });
  });
});
