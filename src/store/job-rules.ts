// The job queue's rules as pure functions, the same for every store backend: which state may follow which,
// how a hint folds into a pending job, how a retry folds into one. The stores only read and write rows.
import type { JobRow } from './rows.ts';
import type { JobState, JobTrigger } from './store.ts';

/**
 * Per link at most one pending and one running job. `null` is "no row": a job is created pending and a retry
 * that folds into the link's pending job disappears.
 */
export const JOB_TRANSITIONS: Readonly<Record<JobState | 'new', readonly (JobState | null)[]>> = {
  new: ['pending'],
  // Claimed; or a hint folded in (stays pending); or a resubmit (stays pending).
  pending: ['running', 'pending'],
  // Finished; retried later; folded into a pending job of its link; reclaimed after its lease ran out.
  running: ['succeeded', 'failed', 'dead', 'pending', null, 'running'],
  // A link's newest failure is revived by a resubmit; older ones are dropped.
  failed: ['pending', null],
  dead: ['pending', null],
  // A finished job is never reopened: new work is a new job. Pruning removes it.
  succeeded: [null],
};

/** Throws when a store is about to move a job against the rules (a bug, not bad input). */
export function checkTransition(from: JobState | 'new', to: JobState | null): void {
  if (!JOB_TRANSITIONS[from].includes(to)) {
    throw new Error(`A job may not go from ${from} to ${to ?? '(removed)'}.`);
  }
}

const earlier = (a: string, b: string) => (a <= b ? a : b);
const later = (a: string, b: string) => (a >= b ? a : b);

/** What changes on the link's pending job when another hint for the link arrives. */
export function coalesceHint(
  pending: Pick<JobRow, 'trigger' | 'hints' | 'attempts' | 'next_run_at'>,
  trigger: JobTrigger,
  runAt: string,
): Pick<JobRow, 'trigger' | 'hints' | 'next_run_at'> {
  return {
    // A CRM hint never hides another trigger: a job with trigger crm-poll merges against the snapshot's
    // referral without reading Partner Center, which a webhook or sweep coalesced into it must not skip.
    trigger: trigger === 'crm-poll' ? pending.trigger : trigger,
    hints: pending.hints + 1,
    // A retry keeps its backoff (and any Retry-After): a hint, e.g. the echo of the "retrying" audit line, must
    // not pull it forward. A first try runs as early as any hint asks.
    next_run_at: pending.attempts > 0 ? pending.next_run_at : earlier(pending.next_run_at, runAt),
  };
}

/**
 * What changes on the link's pending job when its running job is retried while one is pending (a hint arrived
 * meanwhile): the retry folds into it, keeping the larger attempt count and the later time (its backoff).
 */
export function foldRetry(
  pending: Pick<JobRow, 'attempts' | 'next_run_at'>,
  attempts: number,
  nextRunAt: string,
): Pick<JobRow, 'attempts' | 'next_run_at'> {
  return {
    attempts: Math.max(pending.attempts, attempts),
    next_run_at: later(pending.next_run_at, nextRunAt),
  };
}

/** The attempts a retried job keeps: a paused API (throttling, credentials, budget) did not really try it. */
export const attemptsAfterRetry = (attempts: number, refund: boolean) =>
  refund ? Math.max(0, attempts - 1) : attempts;

/** When a resubmitted job runs: now, unless the pending job it revives was due earlier. */
export const resubmitRunAt = (pending: Pick<JobRow, 'next_run_at'> | undefined, at: string) =>
  pending ? earlier(pending.next_run_at, at) : at;

/** Two links merge and both had a pending job: keep's absorbs drop's (the earlier time, every hint). */
export function mergePending(
  keep: Pick<JobRow, 'hints' | 'next_run_at'>,
  drop: Pick<JobRow, 'hints' | 'next_run_at'>,
): Pick<JobRow, 'hints' | 'next_run_at'> {
  return { next_run_at: earlier(keep.next_run_at, drop.next_run_at), hints: keep.hints + drop.hints };
}
