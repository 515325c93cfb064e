// Service protection limits per user (reference/crm.md §A.9): requests and execution time in a sliding window,
// and concurrent requests, each answered with 429, `Retry-After` in seconds and the documented error code.
// Batches count each inner request. A per-day request counter stands in for the licence allowance.
import { CODES, DataverseError } from './errors.ts';

export interface LimitConfig {
  requestsPerWindow: number;
  executionMsPerWindow: number;
  concurrent: number;
  windowMs: number;
}

export const DEFAULT_LIMITS: LimitConfig = {
  requestsPerWindow: 6000,
  executionMsPerWindow: 1_200_000,
  concurrent: 52,
  windowMs: 300_000,
};

export class ServiceProtection {
  config: LimitConfig;
  private requests: number[] = [];
  private execution: { at: number; ms: number }[] = [];
  private inFlight = 0;
  private day = '';
  private dayCount = 0;
  /** Highest number of requests seen in flight at once (tests assert a client's concurrency cap with it). */
  peakConcurrency = 0;
  /** Requests answered 429 since the last reset, by error code: what a client met, not what it logged. */
  private refused: Record<string, number> = {};

  constructor(config: Partial<LimitConfig> = {}) {
    this.config = { ...DEFAULT_LIMITS, ...config };
  }

  private prune(now: number): void {
    const since = now - this.config.windowMs;
    while (this.requests.length && this.requests[0]! <= since) this.requests.shift();
    while (this.execution.length && this.execution[0]!.at <= since) this.execution.shift();
  }

  /** Admits one HTTP request carrying `count` API requests, or throws the 429. Call `finish` when done. */
  admit(now: number, count = 1): void {
    try {
      this.check(now, count);
    } catch (error) {
      const code = (error as DataverseError).code;
      this.refused[code] = (this.refused[code] ?? 0) + 1;
      throw error;
    }
    for (let i = 0; i < count; i++) this.requests.push(now);
    const today = new Date(now).toISOString().slice(0, 10);
    if (today !== this.day) {
      this.day = today;
      this.dayCount = 0;
    }
    this.dayCount += count;
    this.inFlight++;
    this.peakConcurrency = Math.max(this.peakConcurrency, this.inFlight);
  }

  private check(now: number, count: number): void {
    this.prune(now);
    if (this.inFlight >= this.config.concurrent) {
      throw new DataverseError(
        429,
        CODES.concurrencyLimit,
        `Number of concurrent requests exceeded the limit of ${this.config.concurrent}.`,
        { 'Retry-After': '1' },
      );
    }
    if (this.requests.length + count > this.config.requestsPerWindow) {
      const oldest =
        this.requests[Math.max(0, this.requests.length + count - this.config.requestsPerWindow - 1)] ?? now;
      const wait = Math.max(1, Math.ceil((oldest + this.config.windowMs - now) / 1000));
      throw new DataverseError(
        429,
        CODES.requestsLimit,
        `Number of requests exceeded the limit of ${this.config.requestsPerWindow} over time window of ${this.config.windowMs / 1000} seconds.`,
        { 'Retry-After': String(wait) },
      );
    }
    const used = this.execution.reduce((sum, e) => sum + e.ms, 0);
    if (used > this.config.executionMsPerWindow) {
      const wait = Math.max(
        1,
        Math.ceil(((this.execution[0]?.at ?? now) + this.config.windowMs - now) / 1000),
      );
      throw new DataverseError(
        429,
        CODES.timeLimit,
        `Combined execution time of incoming requests exceeded limit of ${this.config.executionMsPerWindow} milliseconds over time window of ${this.config.windowMs / 1000} seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.`,
        { 'Retry-After': String(wait) },
      );
    }
  }

  finish(now: number, startedAt: number): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    this.execution.push({ at: now, ms: Math.max(0, now - startedAt) });
  }

  status(now: number): Record<string, unknown> {
    this.prune(now);
    return {
      config: this.config,
      requestsInWindow: this.requests.length,
      executionMsInWindow: this.execution.reduce((sum, e) => sum + e.ms, 0),
      inFlight: this.inFlight,
      peakConcurrency: this.peakConcurrency,
      requestsToday: this.dayCount,
      refused: { ...this.refused },
    };
  }

  reset(): void {
    this.requests = [];
    this.execution = [];
    this.peakConcurrency = this.inFlight;
    this.dayCount = 0;
    this.refused = {};
  }
}
