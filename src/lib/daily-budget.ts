// A per-day allowance of API calls (R27): counted from the calls actually made, reset at midnight UTC. Pure:
// the caller passes the time, so schedules are tested without waiting.

export interface BudgetState {
  /** UTC day the count belongs to, 'YYYY-MM-DD'. */
  day: string;
  used: number;
}

const dayOf = (now: Date) => now.toISOString().slice(0, 10);

/** Midnight UTC after `now`: when a used-up budget frees. */
export function nextUtcMidnight(now: Date): Date {
  const next = new Date(now);
  next.setUTCHours(24, 0, 0, 0);
  return next;
}

export class DailyBudget {
  private state: BudgetState;

  /** `limit` null: counted, never exhausted. */
  constructor(
    readonly limit: number | null,
    initial?: BudgetState | null,
  ) {
    this.state = initial ? { ...initial } : { day: '', used: 0 };
  }

  /** Adds `n` calls made at `now`; a new UTC day starts from zero. */
  add(n: number, now: Date): void {
    this.roll(now);
    this.state.used += n;
  }

  used(now: Date): number {
    this.roll(now);
    return this.state.used;
  }

  /** True once the day's allowance is used: no more work for this API until `nextUtcMidnight`. */
  exhausted(now: Date): boolean {
    return this.limit !== null && this.used(now) >= this.limit;
  }

  snapshot(now: Date): BudgetState {
    this.roll(now);
    return { ...this.state };
  }

  private roll(now: Date): void {
    const today = dayOf(now);
    if (this.state.day !== today) this.state = { day: today, used: 0 };
  }
}
