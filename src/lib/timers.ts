// Time as a dependency: the engine's schedules, retries and leases read the clock and set timers through this,
// so tests skip time (test/helpers/manual-time.ts) instead of waiting for it, as Temporal's test server does.
export type TimerHandle = { readonly __timer: unique symbol } | NodeJS.Timeout;

export interface Timers {
  setTimeout(run: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | null | undefined): void;
  setInterval(run: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle | null | undefined): void;
}

/** Node's timers, unref'd: a schedule never keeps the process alive on its own (stop() ends the service). */
export const systemTimers: Timers = {
  setTimeout: (run, ms) => globalThis.setTimeout(run, ms).unref(),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as NodeJS.Timeout | undefined),
  setInterval: (run, ms) => globalThis.setInterval(run, ms).unref(),
  clearInterval: (handle) => globalThis.clearInterval(handle as NodeJS.Timeout | undefined),
};
