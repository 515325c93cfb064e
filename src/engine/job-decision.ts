// What becomes of a job whose sync attempt failed: a pure function of the error's verdict, the attempts spent
// and the retry policy, so retries, pauses and dead letters are tested without running a worker or waiting.
import { computeRetryDelay, type RetryPolicy } from '../lib/retry.ts';
import type { ErrorVerdict } from './errors.ts';

export type JobDecision =
  /** An API is paused (credentials, budget, long throttling): the job waits for it without spending an attempt. */
  | { kind: 'pause' }
  /** Tried again at `at`; the record shows that it is retrying. */
  | { kind: 'retry'; delayMs: number; at: Date }
  /** Out of attempts on a retryable error: dead-lettered, ✖ on the record, listed by `cosell runs --failed`. */
  | { kind: 'dead-letter' }
  /** Refused for a reason a person must fix (validation, a closed referral): failed at once, no retries. */
  | { kind: 'fail' };

export function decideAfterFailure(input: {
  verdict: ErrorVerdict;
  /** Attempts made so far, this one included. */
  attempts: number;
  policy: RetryPolicy;
  now: Date;
  random: () => number;
}): JobDecision {
  const { verdict, attempts, policy, now } = input;
  if (verdict.kind === 'pause') return { kind: 'pause' };
  if (verdict.kind === 'fail') return { kind: 'fail' };
  if (attempts >= policy.maxAttempts) return { kind: 'dead-letter' };
  const delayMs = computeRetryDelay(
    attempts,
    {
      retryAfter: verdict.retryAfterMs === undefined ? null : String(verdict.retryAfterMs / 1000),
      random: input.random,
      now: now.getTime(),
    },
    policy,
  );
  return { kind: 'retry', delayMs, at: new Date(now.getTime() + delayMs) };
}
