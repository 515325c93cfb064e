import { describe, expect, it } from 'vitest';
import { type FaultTally, logSayings, operatorSawFaults } from './faults.ts';

const line = (entry: Record<string, unknown>) => JSON.stringify({ level: 40, ...entry });
const tally = (): FaultTally => ({
  'crm 503': { injected: 1, callsFaulted: 2, seenInLog: 0 },
  'partner-center 503': { injected: 1, callsFaulted: 1, seenInLog: 0 },
});

describe('R25 R26 the operator sees each fault in the log', () => {
  it('reads the API and the cause from retry lines, and the API from the text of other warnings', () => {
    const stderr = [
      line({ time: 10, event: 'api-retry', api: 'dynamics', cause: 'HTTP 503 0x80040216' }),
      line({
        time: 11,
        event: 'api-retry',
        api: 'partner-center referrals',
        cause: 'HTTP 429 tooManyRequests',
      }),
      line({
        time: 12,
        event: 'sync-retry',
        crm: 'dynamics',
        msg: 'Partner Center referrals API GET … failed with 503',
      }),
      JSON.stringify({ level: 30, time: 13, event: 'sync-reread', msg: 'Partner Center: … (HTTP 412)' }),
      JSON.stringify({ level: 30, time: 14, event: 'sync', msg: 'synced' }),
      'not json',
    ].join('\n');
    expect(logSayings(stderr)).toEqual([
      { time: 10, api: 'crm', text: 'HTTP 503 0x80040216' },
      { time: 11, api: 'pc', text: 'HTTP 429 tooManyRequests' },
      { time: 12, api: 'pc', text: 'Partner Center referrals API GET … failed with 503' },
      { time: 13, api: 'pc', text: 'Partner Center: … (HTTP 412)' },
    ]);
  });

  it('counts an injection as seen when a line names its API and cause while it was on; a line about the other API does not count', () => {
    const faults = tally();
    const unseen = operatorSawFaults(
      faults,
      [
        { kind: 'crm 503', from: 100, to: 200 },
        { kind: 'partner-center 503', from: 300, to: 400 },
      ],
      [],
      [
        { time: 150, api: 'crm', text: 'HTTP 503 SERVER_UNAVAILABLE' },
        { time: 350, api: 'crm', text: 'HTTP 503 SERVER_UNAVAILABLE' },
      ],
      'salesforce',
    );
    expect(faults['crm 503']!.seenInLog).toBe(1);
    expect(faults['partner-center 503']!.seenInLog).toBe(0);
    expect(unseen).toEqual(['partner-center 503']);
  });

  it('a kill during the fault excuses a missing line (the calls in flight died with the process)', () => {
    const faults = tally();
    const unseen = operatorSawFaults(
      faults,
      [{ kind: 'crm 503', from: 100, to: 200 }],
      [180],
      [],
      'salesforce',
    );
    expect(faults['crm 503']!.seenInLog).toBe(0);
    expect(unseen).toEqual([]);
  });
});
