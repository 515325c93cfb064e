// A per-day allowance of API calls (R27): counted from the calls actually made, reset at midnight UTC. Several
// processes share one allowance (workers on one store): each counts its own calls as `pending` and adds them to
// the stored count (`addUse`, under the store's lock); `adopt` takes the total back, so every process sees the
// calls of all. Pure: the caller passes the time, so schedules are tested without waiting.

export interface BudgetState {
  /** UTC day the count belongs to, 'YYYY-MM-DD'. */
  day: string;
  used: number;
}

const dayOf = (now: Date) => now.toISOString().slice(0, 10);
const EMPTY: BudgetState = { day: '', used: 0 };

/** Midnight UTC after `now`: when a used-up budget frees. */
export function nextUtcMidnight(now: Date): Date {
  const next = new Date(now);
  next.setUTCHours(24, 0, 0, 0);
  return next;
}

/** The stored count after adding one process's calls: a later day starts again, calls of a day already over
 *  are not added to the next one. */
export function addUse(stored: BudgetState | null, calls: BudgetState): BudgetState {
  if (!stored || stored.day < calls.day) return { ...calls };
  if (stored.day > calls.day) return { ...stored };
  return { day: stored.day, used: stored.used + calls.used };
}

/** A stored count as written by `addUse`; anything unreadable is no count (the day starts again). */
export function parseBudgetState(text: string | null): BudgetState | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text) as Partial<BudgetState>;
    return typeof value.day === 'string' && typeof value.used === 'number'
      ? { day: value.day, used: value.used }
      : null;
  } catch {
    return null;
  }
}

export class DailyBudget {
  /** The count of every process, as last read from the store. */
  private shared: BudgetState;
  /** Calls of this process not added to the store yet. */
  private pending: BudgetState = { ...EMPTY };

  /** `limit` null: counted, never exhausted. */
  constructor(
    readonly limit: number | null,
    initial?: BudgetState | null,
  ) {
    this.shared = initial ? { ...initial } : { ...EMPTY };
  }

  /** Adds `n` calls made at `now`; a new UTC day starts from zero. */
  add(n: number, now: Date): void {
    this.roll(now);
    this.pending.used += n;
  }

  used(now: Date): number {
    this.roll(now);
    return this.shared.used + this.pending.used;
  }

  /** True once the day's allowance is used: no more work for this API until `nextUtcMidnight`. */
  exhausted(now: Date): boolean {
    return this.limit !== null && this.used(now) >= this.limit;
  }

  snapshot(now: Date): BudgetState {
    return { day: dayOf(now), used: this.used(now) };
  }

  /** This process's calls since the last take, to add to the stored count (null: none). */
  takePending(now: Date): BudgetState | null {
    this.roll(now);
    if (this.pending.used === 0) return null;
    const taken = { ...this.pending };
    this.pending = { day: taken.day, used: 0 };
    return taken;
  }

  /** Calls taken but not stored (the store refused): counted again at the next take. */
  giveBack(calls: BudgetState, now: Date): void {
    this.roll(now);
    if (calls.day === this.pending.day) this.pending.used += calls.used;
  }

  /** The stored count of every process (its own pending calls are added on top). */
  adopt(stored: BudgetState, now: Date): void {
    this.shared = { ...stored };
    this.roll(now);
  }

  private roll(now: Date): void {
    const today = dayOf(now);
    if (this.shared.day !== today) this.shared = { day: today, used: 0 };
    if (this.pending.day !== today) this.pending = { day: today, used: 0 };
  }
}
