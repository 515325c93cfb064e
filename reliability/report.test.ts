import { describe, expect, it } from 'vitest';
import type { CrashFigures } from './crash.ts';
import type { HostileFigures } from './hostile.ts';
import { type Figures, finalLine, healthy, renderTable, totals } from './report.ts';

const crash = (over: Partial<CrashFigures['verdict']> = {}): CrashFigures => ({
  crm: 'salesforce',
  killPoints: { backfill: 10, live: 20 },
  records: 1200,
  eventsAcknowledged: 400,
  verdict: {
    expected: 1200,
    lost: 0,
    duplicated: 0,
    wrongValue: 0,
    acknowledgedLost: 0,
    problems: [],
    ...over,
  },
  faults: {
    'crm 503': { injected: 3, callsFaulted: 9, seenInLog: 2 },
    'webhook delayed': { injected: 1, callsFaulted: 2, seenInLog: null },
  },
  logUnseen: [],
  injections: [],
  stuck: { jobs: 0, deadLettered: 0, inbox: 0, openIntents: 0, halfMoved: 0 },
  quiescentAfterMs: 2_000,
  durationMs: 200_000,
});
const hostile = (outcome: HostileFigures['cases'][number]['outcome'] = 'refused'): HostileFigures => ({
  crm: 'salesforce',
  cases: [{ group: 'webhook', name: 'no signature', outcome, detail: 'HTTP 401' }],
  burst: { requests: 9_000, refused: 9_000, legitimateDelivered: true, rssMb: [200, 260, 262, 261] },
  offListRequests: 0,
  unsendable: [],
});

describe('the reliability figures', () => {
  it('ends with the summary line the issue names', () => {
    const figures: Figures = { seed: 1, crashes: [crash(), crash()], scenarios: [], hostile: [hostile()] };
    expect(finalLine(figures)).toBe(
      'reliability: 60 kill points, 800 events acknowledged, 0 lost, 0 duplicated, 9001 hostile inputs, 0 crashes',
    );
    expect(healthy(figures)).toBe(true);
    const table = renderTable(figures);
    expect(table).toContain('| salesforce | 30 (10 + 20)');
    expect(table).toContain('| crm 503 ');
    expect(table).toContain('| 3 (9), 2 of 3 ');
    expect(table).toContain('| 1 (2), no call failed ');
  });

  it('a fault whose failed calls no log line explained fails the run and is named', () => {
    const figures: Figures = {
      seed: 1,
      crashes: [{ ...crash(), logUnseen: ['crm 503'] }],
      scenarios: [],
      hostile: [hostile()],
    };
    expect(healthy(figures)).toBe(false);
    expect(renderTable(figures)).toContain(
      "- salesforce: fault 'crm 503' failed calls, and no log line named the API and the cause",
    );
  });

  it('counts stale values as lost updates, and a failed run is not healthy', () => {
    const figures: Figures = {
      seed: 1,
      crashes: [crash({ wrongValue: 2, problems: ['a', 'b'] })],
      scenarios: [],
      hostile: [hostile()],
    };
    expect(totals(figures).lost).toBe(2);
    expect(healthy(figures)).toBe(false);
    expect(renderTable(figures)).toContain('Problems:\n- salesforce: a');
  });

  it('a crash, a silent drop or a leak fails the run; a genuine event lost in the burst is a crash', () => {
    expect(healthy({ seed: 1, crashes: [crash()], scenarios: [], hostile: [hostile('crashed')] })).toBe(
      false,
    );
    expect(healthy({ seed: 1, crashes: [crash()], scenarios: [], hostile: [hostile('silent')] })).toBe(false);
    expect(healthy({ seed: 1, crashes: [crash()], scenarios: [], hostile: [hostile('leaked')] })).toBe(false);
    const lostInBurst = hostile();
    lostInBurst.burst.legitimateDelivered = false;
    expect(totals({ seed: 1, crashes: [], scenarios: [], hostile: [lostInBurst] }).crashes).toBe(1);
  });

  it('an operator fault the dashboard did not explain, or that did not recover after the fix, fails the run', () => {
    const scenario = {
      crm: 'dynamics',
      name: 'sign-in revoked',
      causeShown: 'run cosell login',
      recovered: true,
      detail: '',
    };
    const run = (s: typeof scenario) =>
      healthy({ seed: 1, crashes: [crash()], scenarios: [s], hostile: [hostile()] });
    expect(run(scenario)).toBe(true);
    expect(run({ ...scenario, recovered: false })).toBe(false);
    expect(run({ ...scenario, causeShown: null as unknown as string })).toBe(false);
  });
});
