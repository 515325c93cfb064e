import { FaultQueue } from '../shared/faults.ts';

/** Injected faults: the next `count` matching requests fail with a status/error code and/or are delayed. */
export interface FaultSpec {
  method?: string;
  /** Substring of the request path, e.g. `/sobjects/Opportunity` or `/services/oauth2/token`. */
  path?: string;
  status?: number;
  errorCode?: string;
  message?: string;
  count: number;
  delayMs?: number;
  /** Close the connection without an answer (after any delay). */
  reset?: boolean;
}

export interface FaultOutcome {
  delayMs: number;
  reset?: boolean;
  error?: { status: number; body: { message: string; errorCode: string }[] };
}

const DEFAULT_MESSAGES: Record<string, string> = {
  UNABLE_TO_LOCK_ROW: 'unable to obtain exclusive access to this record or 1 records',
  SERVER_UNAVAILABLE: 'Server temporarily unavailable, try again later.',
  REQUEST_LIMIT_EXCEEDED: 'TotalRequests Limit exceeded.',
};

export class FaultInjector {
  private readonly queue = new FaultQueue<FaultSpec>();

  add(spec: FaultSpec): void {
    this.queue.add(spec);
  }

  clear(): void {
    this.queue.clear();
  }

  pending(): FaultSpec[] {
    return this.queue.list().map(({ id: _id, ...spec }) => spec);
  }

  /** Consumes the first fault matching this request, if any. */
  take(method: string, path: string): FaultOutcome | undefined {
    const fault = this.queue.take(method, path);
    if (!fault) return undefined;
    const delayMs = fault.delayMs ?? 0;
    if (fault.reset) return { delayMs, reset: true };
    if (fault.status === undefined && fault.errorCode === undefined) return { delayMs };
    // Lock contention is a DML error (400); anything else unspecified is the platform being unavailable.
    const errorCode =
      fault.errorCode ??
      (fault.status === 503 || fault.status === undefined ? 'SERVER_UNAVAILABLE' : 'UNKNOWN_EXCEPTION');
    const status = fault.status ?? (errorCode === 'UNABLE_TO_LOCK_ROW' ? 400 : 503);
    const message =
      fault.message ?? DEFAULT_MESSAGES[errorCode] ?? 'An unexpected error occurred (injected fault).';
    return { delayMs, error: { status, body: [{ message, errorCode }] } };
  }
}
