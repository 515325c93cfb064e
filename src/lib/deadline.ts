// A call to a remote API that has not answered in time is abandoned: a hung connection must not hold a worker
// until the process restarts. The error is retryable wherever it surfaces (code TIMEOUT).

/** Calls to Partner Center and the CRM give up after this unless engine.requestTimeoutMs says otherwise. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

export class CallTimeout extends Error {
  readonly code = 'TIMEOUT';
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super(`no answer within ${formatSeconds(timeoutMs)}`);
    this.timeoutMs = timeoutMs;
  }
}

export function isCallTimeout(error: unknown): error is CallTimeout {
  return error instanceof CallTimeout;
}

/** "3 s", "1.5 s", "60 s". */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

/**
 * Rejects with CallTimeout when `work` has not settled within `timeoutMs`. For calls whose library offers no
 * abort (the work itself goes on until the server answers or closes; only the caller stops waiting).
 */
export async function withDeadline<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CallTimeout(timeoutMs)), timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
