// The circuits with a clock the test moves: pauses, their doubling, budgets until midnight, and what a success
// clears — without waiting for any of it.
import { describe, expect, it } from 'vitest';
import { Circuits, hasChanges, mergeShared, parseShared } from './circuits.ts';

const MINUTE = 60_000;

function setup(budgets = { partnerCenterPerDay: null as number | null, crmPerDay: null as number | null }) {
  let now = new Date('2026-12-05T22:00:00Z').getTime();
  const warnings: unknown[] = [];
  const circuits = new Circuits(
    { credentialPauseMs: MINUTE, budgetPauseMs: 15 * MINUTE, budgets },
    () => new Date(now),
    { warn: (entry: unknown) => warnings.push(entry) } as never,
  );
  return { circuits, warnings, skip: (ms: number) => (now += ms) };
}

const refused = {
  kind: 'pause',
  api: 'partner-center',
  reason: 'credentials',
  fix: 'Run cosell login.',
} as const;

describe('Circuits', () => {
  it('R3 R28 jobs that were already running fail for the same cause: the spell is not doubled or shortened', () => {
    const { circuits, skip } = setup();
    const start = Date.parse('2026-12-05T22:00:00Z');
    expect(circuits.pause(refused) - start).toBe(MINUTE);
    skip(1_000);
    expect(circuits.pause(refused) - start).toBe(MINUTE);
    expect(circuits.paused()[0]?.until.getTime()).toBe(start + MINUTE);
    // A later Retry-After of the same kind extends the spell; it still is one strike.
    const throttled = {
      kind: 'pause',
      api: 'crm',
      reason: 'throttled',
      fix: 'wait',
      pauseMs: 30_000,
    } as const;
    expect(circuits.pause(throttled) - start).toBe(31_000);
    skip(10_000);
    expect(circuits.pause({ ...throttled, pauseMs: 40_000 }) - start).toBe(51_000);
    // Once the spell is over, a refused probe is the next strike: doubled.
    skip(MINUTE);
    expect(circuits.pause(refused) - (start + 71_000)).toBe(2 * MINUTE);
  });

  it('R3 R27 a refusal of another kind starts its own count: a sign-in refused after a throttling spell pauses the base minute', () => {
    const { circuits, skip } = setup();
    const start = Date.parse('2026-12-05T22:00:00Z');
    circuits.pause({
      kind: 'pause',
      api: 'partner-center',
      reason: 'throttled',
      fix: 'wait',
      pauseMs: 30_000,
    });
    skip(40_000);
    expect(circuits.pause(refused) - (start + 40_000)).toBe(MINUTE);
  });

  it('R3 a credentials pause doubles while probes are refused, up to 16 times, and stays visible until a probe succeeds', () => {
    const { circuits, skip, warnings } = setup();
    const pauses: number[] = [];
    let at = Date.parse('2026-12-05T22:00:00Z');
    for (let i = 0; i < 7; i++) {
      const until = circuits.pause(refused);
      pauses.push((until - at) / MINUTE);
      skip(until - at);
      at = until;
    }
    expect(pauses).toEqual([1, 2, 4, 8, 16, 16, 16]);
    expect(warnings).toHaveLength(7);
    // The timer ran out, nobody signed in: health still says so, and the engine is asked to probe.
    expect(circuits.isPaused('partner-center')).toBe(false);
    expect(circuits.paused()).toEqual([
      expect.objectContaining({ api: 'partner-center', reason: 'credentials' }),
    ]);
    expect(circuits.expired()).toEqual([
      { api: 'partner-center', reason: 'credentials', fix: 'Run cosell login.' },
    ]);
    circuits.close('partner-center');
    expect(circuits.paused()).toEqual([]);
  });

  it('R27 a used-up budget pauses its API until midnight UTC; a success does not lift it; the next day does', () => {
    const { circuits, skip } = setup({ partnerCenterPerDay: null, crmPerDay: 10 });
    circuits.spend('crm', 9);
    expect(circuits.isPaused('crm')).toBe(false);
    circuits.spend('crm', 1);
    expect(circuits.isPaused('crm')).toBe(true);
    expect(circuits.paused()[0]).toMatchObject({
      api: 'crm',
      reason: 'budget',
      until: new Date('2026-12-06T00:00:00Z'),
    });
    expect(circuits.paused()[0]!.fix).toContain('engine.budgets.crmPerDay = 10');
    circuits.succeeded();
    expect(circuits.isPaused('crm')).toBe(true);
    expect(circuits.isPaused('partner-center')).toBe(false);
    skip(2 * 60 * MINUTE);
    expect(circuits.anyRunning()).toBe(false);
    circuits.spend('crm', 1);
    expect(circuits.isPaused('crm')).toBe(false);
  });

  it("R27 the day's count is shared through the store and continues after a restart", () => {
    const first = setup({ partnerCenterPerDay: 5, crmPerDay: null });
    first.circuits.spend('partner-center', 5);
    const stored = mergeShared(parseShared(null), first.circuits.takeChanges());
    expect(stored.budgets['partner-center']).toEqual({ day: '2026-12-05', used: 5 });
    expect(hasChanges({ ...first.circuits.takeChanges(), opened: {} })).toBe(false);
    const restarted = setup({ partnerCenterPerDay: 5, crmPerDay: null });
    restarted.circuits.adopt(parseShared(JSON.stringify(stored)));
    expect(restarted.circuits.isPaused('partner-center')).toBe(true);
  });

  it('R27 R28 two workers of one tenant: a throttling pause one got pauses the other, and a success closes it for both', () => {
    const a = setup();
    const b = setup();
    a.circuits.pause({ kind: 'pause', api: 'crm', reason: 'throttled', fix: 'wait', pauseMs: 30_000 });
    let stored = mergeShared(parseShared(null), a.circuits.takeChanges());
    stored = mergeShared(stored, b.circuits.takeChanges());
    b.circuits.adopt(stored);
    expect(b.circuits.paused()).toMatchObject([{ api: 'crm', reason: 'throttled' }]);
    expect(b.warnings).toMatchObject([{ event: 'api-paused', api: 'crm', sharedBy: 'another worker' }]);
    // A shorter pause does not shorten the stored one; a later one moves it.
    expect(
      mergeShared(stored, { opened: { crm: { ...stored.pauses.crm!, until: 1 } }, closed: {}, calls: {} }),
    ).toEqual(stored);
    a.skip(1_000);
    a.circuits.succeeded();
    stored = mergeShared(stored, a.circuits.takeChanges());
    expect(stored.pauses).toEqual({});
    // A close does not remove a spell begun after it.
    const later = {
      until: Date.now() + 99_000,
      reason: 'throttled',
      fix: 'wait',
      openedAt: Number.MAX_SAFE_INTEGER,
    };
    expect(
      mergeShared({ pauses: { crm: later }, budgets: {} }, { opened: {}, closed: { crm: 5 }, calls: {} })
        .pauses,
    ).toEqual({ crm: later });
    expect(parseShared('not json')).toEqual({ pauses: {}, budgets: {} });
  });

  it('R27 calls the store did not take are shared again', () => {
    const { circuits } = setup();
    circuits.spend('crm', 3);
    circuits.giveBack(circuits.takeChanges());
    expect(circuits.takeChanges().calls).toEqual({ crm: { day: '2026-12-05', used: 3 } });
  });

  it('R3 a success clears credential and throttling pauses', () => {
    const { circuits } = setup();
    circuits.pause(refused);
    circuits.pause({ kind: 'pause', api: 'crm', reason: 'throttled', fix: 'wait', pauseMs: 5_000 });
    circuits.succeeded();
    expect(circuits.paused()).toEqual([]);
  });
});
