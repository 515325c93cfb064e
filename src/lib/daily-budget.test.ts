import { describe, expect, it } from 'vitest';
import { addUse, DailyBudget, nextUtcMidnight, parseBudgetState } from './daily-budget.ts';

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

describe('DailyBudget shared by several processes', () => {
  it("R27 each process adds its own calls to the stored count and sees every process's calls", () => {
    const now = at('2026-12-05T08:00:00Z');
    const a = new DailyBudget(10);
    const b = new DailyBudget(10);
    a.add(4, now);
    b.add(5, now);
    let stored = addUse(null, a.takePending(now)!);
    stored = addUse(stored, b.takePending(now)!);
    expect(stored).toEqual({ day: '2026-12-05', used: 9 });
    a.adopt(stored, now);
    expect(a.takePending(now)).toBeNull();
    a.add(1, now);
    // 9 stored plus its own call not yet stored: the shared allowance is used up in this process already.
    expect(a.exhausted(now)).toBe(true);
    expect(b.exhausted(now)).toBe(false);
    b.adopt(addUse(stored, a.takePending(now)!), now);
    expect(b.exhausted(now)).toBe(true);
  });

  it('R27 a count of a day already over is not added to the next day; calls the store refused are taken again', () => {
    expect(addUse({ day: '2026-12-06', used: 3 }, { day: '2026-12-05', used: 7 })).toEqual({
      day: '2026-12-06',
      used: 3,
    });
    expect(addUse({ day: '2026-12-05', used: 3 }, { day: '2026-12-06', used: 1 })).toEqual({
      day: '2026-12-06',
      used: 1,
    });
    const now = at('2026-12-05T08:00:00Z');
    const budget = new DailyBudget(null);
    budget.add(2, now);
    const taken = budget.takePending(now)!;
    budget.giveBack(taken, now);
    expect(budget.takePending(now)).toEqual({ day: '2026-12-05', used: 2 });
    expect(parseBudgetState('not json')).toBeNull();
    expect(parseBudgetState('{"day":"2026-12-05","used":4}')).toEqual({ day: '2026-12-05', used: 4 });
  });
});
