import { describe, expect, it } from 'vitest';
import { ManualTime } from '../../test/helpers/manual-time.ts';
import { Scheduler } from './scheduler.ts';

const HOUR = 3_600_000;

describe('the engine scheduler, in skipped time', () => {
  it('R26 a schedule runs at start, then at the interval its run returns: a day of hourly sweeps in no time', async () => {
    const time = new ManualTime('2026-12-05T00:00:00Z');
    const runs: string[] = [];
    const scheduler = new Scheduler(time);
    scheduler.start([
      {
        name: 'reconcile',
        firstDelayMs: 0,
        run: async () => {
          runs.push(time.now().toISOString().slice(11, 16));
          return HOUR;
        },
        onError: () => HOUR,
      },
    ]);
    await time.advance(24 * HOUR - 1);
    expect(runs).toHaveLength(24);
    expect(runs.slice(0, 3)).toEqual(['00:00', '01:00', '02:00']);
    scheduler.stop();
    await time.advance(5 * HOUR);
    expect(runs).toHaveLength(24);
    expect(time.waiting).toBe(0);
  });

  it('R26 a run that fails is tried again after the delay its error handler gives, and the schedule goes on', async () => {
    const time = new ManualTime('2026-12-05T00:00:00Z');
    let calls = 0;
    const errors: string[] = [];
    const scheduler = new Scheduler(time);
    scheduler.start([
      {
        name: 'crm-poll',
        firstDelayMs: 1_000,
        run: async () => {
          calls++;
          if (calls === 1) throw new Error('CRM unreachable');
          return 60_000;
        },
        onError: (error) => {
          errors.push((error as Error).message);
          return 5_000;
        },
      },
    ]);
    await time.advance(999);
    expect(calls).toBe(0);
    await time.advance(1);
    expect(errors).toEqual(['CRM unreachable']);
    await time.advance(5_000);
    expect(calls).toBe(2);
    await time.advance(59_999);
    expect(calls).toBe(2);
    await time.advance(1);
    expect(calls).toBe(3);
    scheduler.stop();
  });
});
