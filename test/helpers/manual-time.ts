// Skipped time for tests (Temporal's idea): a clock and timers that move only when the test says so. `advance`
// fires every timer that falls due, in order, letting the promise jobs each one starts settle before the next.
import type { TimerHandle, Timers } from '../../src/lib/timers.ts';

interface Pending {
  id: number;
  at: number;
  run: () => void;
  everyMs: number | null;
}

export class ManualTime implements Timers {
  private nowMs: number;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(start: Date | string) {
    this.nowMs = new Date(start).getTime();
  }

  readonly now = (): Date => new Date(this.nowMs);

  setTimeout(run: () => void, ms: number): TimerHandle {
    return this.add(run, ms, null);
  }
  setInterval(run: () => void, ms: number): TimerHandle {
    return this.add(run, ms, Math.max(1, ms));
  }
  clearTimeout(handle: TimerHandle | null | undefined): void {
    if (handle !== null && handle !== undefined) this.pending.delete(handle as unknown as number);
  }
  clearInterval(handle: TimerHandle | null | undefined): void {
    this.clearTimeout(handle);
  }

  /** Timers waiting, for assertions. */
  get waiting(): number {
    return this.pending.size;
  }

  /** Moves the clock by `ms`, firing due timers in order; `settle` lets the work each timer started finish. */
  async advance(ms: number, settle: () => Promise<void> = flush): Promise<void> {
    const end = this.nowMs + ms;
    for (;;) {
      const due = [...this.pending.values()]
        .filter((p) => p.at <= end)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.nowMs = Math.max(this.nowMs, due.at);
      if (due.everyMs === null) this.pending.delete(due.id);
      else due.at += due.everyMs;
      due.run();
      await settle();
    }
    this.nowMs = end;
    await settle();
  }

  private add(run: () => void, ms: number, everyMs: number | null): TimerHandle {
    const id = this.nextId++;
    this.pending.set(id, { id, at: this.nowMs + Math.max(0, ms), run, everyMs });
    return id as unknown as TimerHandle;
  }
}

/** Lets queued promise jobs and I/O callbacks run (a few turns of the event loop). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}
