// The engine's recurring work (CRM poll, reconcile sweep, token renewal, retention, expiry warnings, revalidation):
// each a named schedule whose run returns the delay to its next run. Timers are injected, so a test skips a day
// of schedules in milliseconds.
import type { TimerHandle, Timers } from '../lib/timers.ts';

export interface Schedule {
  name: string;
  /** Delay of the first run after start (0: at once). */
  firstDelayMs: number;
  /** One run; resolves to the delay before the next one. */
  run: () => Promise<number>;
  /** A run that threw: what to do about it, and the delay before the next try. */
  onError: (error: unknown) => number;
}

export class Scheduler {
  private readonly handles = new Map<string, TimerHandle>();
  private running = false;

  constructor(private readonly timers: Timers) {}

  start(schedules: readonly Schedule[]): void {
    this.running = true;
    for (const s of schedules) this.next(s, s.firstDelayMs);
  }

  stop(): void {
    this.running = false;
    for (const handle of this.handles.values()) this.timers.clearTimeout(handle);
    this.handles.clear();
  }

  private next(schedule: Schedule, delayMs: number): void {
    if (!this.running) return;
    const handle = this.timers.setTimeout(async () => {
      let delay: number;
      try {
        delay = await schedule.run();
      } catch (error) {
        delay = schedule.onError(error);
      }
      this.next(schedule, delay);
    }, delayMs);
    this.handles.set(schedule.name, handle);
  }
}
