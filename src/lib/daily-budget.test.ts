import { describe, expect, it } from 'vitest';
import { DailyBudget, nextUtcMidnight } from './daily-budget.ts';

const at = (iso: string) => new Date(iso);

describe('DailyBudget', () => {
  it('R27 counts the calls of the UTC day and is used up at its limit', () => {
    const budget = new DailyBudget(10);
    budget.add(6, at('2026-12-05T08:00:00Z'));
    expect(budget.exhausted(at('2026-12-05T09:00:00Z'))).toBe(false);
    budget.add(4, at('2026-12-05T23:59:59Z'));
    expect(budget.exhausted(at('2026-12-05T23:59:59Z'))).toBe(true);
    expect(nextUtcMidnight(at('2026-12-05T23:59:59Z')).toISOString()).toBe('2026-12-06T00:00:00.000Z');
  });

  it('R27 a new UTC day starts from zero; a restart continues the stored count of the same day', () => {
    const budget = new DailyBudget(10, { day: '2026-12-05', used: 10 });
    expect(budget.exhausted(at('2026-12-05T12:00:00Z'))).toBe(true);
    expect(budget.exhausted(at('2026-12-06T00:00:00Z'))).toBe(false);
    expect(budget.snapshot(at('2026-12-06T00:00:01Z'))).toEqual({ day: '2026-12-06', used: 0 });
  });

  it('R27 without a limit it counts but is never used up', () => {
    const budget = new DailyBudget(null);
    budget.add(1_000_000, at('2026-12-05T08:00:00Z'));
    expect(budget.used(at('2026-12-05T08:00:00Z'))).toBe(1_000_000);
    expect(budget.exhausted(at('2026-12-05T08:00:00Z'))).toBe(false);
  });
});
