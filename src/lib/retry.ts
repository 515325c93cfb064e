// The one retry policy every outbound client uses (Partner Center now; Salesforce and Dataverse later).
//
// Backoff is exponential with "full jitter" (delay = random(0, min(cap, base * 2^(n-1)))), which spreads
// retries of many workers hitting the same throttled API instead of having them retry in lock-step.
// A server's `Retry-After` (seconds or HTTP-date) always wins over the computed backoff.

export interface RetryPolicy {
  /** Total attempts including the first one; 1 means "never retry". */
  maxAttempts: number;
  /** Backoff base: the cap of the first retry's jittered delay. */
  baseDelayMs: number;
  /** Upper bound of any computed (non Retry-After) delay. */
  maxDelayMs: number;
  /** Longest `Retry-After` a single call waits for. A longer one ends the call at once, so the caller
   *  (the engine's budget governor) can pause the work instead of holding a worker asleep for minutes. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
});

/** What `classify` says about a failed attempt. `{ retryAfter }` carries the raw `Retry-After` header value. */
export type RetryDecision = 'retry' | 'fail' | { retryAfter: string | null | undefined };

/** Parses `Retry-After` (delta-seconds or HTTP-date) into milliseconds from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * Delay before the retry that follows failed attempt number `attempt` (1 = the first call failed).
 * Pure: randomness and the clock are passed in.
 */
export function computeRetryDelay(
  attempt: number,
  options: { retryAfter?: string | null; random: () => number; now?: number },
  policy: RetryPolicy,
): number {
  const serverDelay = parseRetryAfter(options.retryAfter, options.now ?? Date.now());
  if (serverDelay !== undefined) return Math.min(serverDelay, policy.maxRetryAfterMs);
  const exponent = Math.max(0, attempt - 1);
  // 2^exponent overflows to Infinity for large attempts; Math.min keeps the cap meaningful.
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
  const r = Math.min(Math.max(options.random(), 0), 1);
  return Math.floor(r * ceiling);
}

export interface RetryEvent {
  /** The attempt that just failed (1-based). */
  attempt: number;
  delayMs: number;
  error: unknown;
}

/** One retried call, as the service logs it (event `api-retry`): why a sync was slow or late, never a secret. */
export interface ApiRetry {
  /** `partner-center referrals`, `salesforce`, `dynamics`. */
  api: string;
  /** The call, e.g. `PATCH /v1.0/engagements/referrals/{id}` or `updateDeal`. */
  operation: string;
  /** The attempt that just failed (1-based). */
  attempt: number;
  delayMs: number;
  /** What went wrong, as an operator searches for it: `HTTP 503 serviceUnavailable`, `no answer within 3 s`. */
  cause: string;
}

export interface WithRetryOptions {
  policy: RetryPolicy;
  classify: (error: unknown) => RetryDecision;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
  onRetry?: (event: RetryEvent) => void;
}

export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `operation` until it succeeds, `classify` says 'fail', the server asks to wait longer than
 * `policy.maxRetryAfterMs`, or `policy.maxAttempts` is reached. Throws the last error, with an
 * `attempts` count set on it when the error does not carry one already.
 */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  options: WithRetryOptions,
): Promise<T> {
  const { policy, classify } = options;
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const maxAttempts = Math.max(1, Math.floor(policy.maxAttempts));
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      const decision = classify(error);
      if (decision === 'fail' || attempt >= maxAttempts) throw withAttempts(error, attempt);
      const retryAfter = decision === 'retry' ? undefined : decision.retryAfter;
      const requested = parseRetryAfter(retryAfter, now());
      if (requested !== undefined && requested > policy.maxRetryAfterMs) throw withAttempts(error, attempt);
      const delayMs = computeRetryDelay(attempt, { retryAfter, random, now: now() }, policy);
      options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs);
    }
  }
}

function withAttempts(error: unknown, attempts: number): unknown {
  if (error !== null && typeof error === 'object' && Object.isExtensible(error)) {
    const record = error as { attempts?: unknown };
    if (typeof record.attempts !== 'number') record.attempts = attempts;
  }
  return error;
}
