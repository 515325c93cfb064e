import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { PausedApi } from '../../engine/circuits.ts';
import type { Job, JobFilter, Run } from '../../store/store.ts';
import { type BackfillSummary, syncHere } from './backfill.ts';

const run = (linkId: number, outcome: Run['outcome'], error: Run['error'] = null): Run =>
  ({ id: linkId, linkId, outcome, error, direction: 'toCrm', diff: [] }) as unknown as Run;

/** An engine whose CRM throttles after the first `perWindow` records of each drain, for `pauseMs`. */
function throttledEngine(links: number[], perWindow: number, pauseMs: number) {
  const events = new EventEmitter();
  const pending = new Set(links);
  let paused: PausedApi[] = [];
  let clock = 0;
  return {
    events,
    pending,
    now: () => clock,
    pausedApis: () => paused.filter((p) => p.until.getTime() > clock),
    async drain() {
      if (paused.some((p) => p.until.getTime() > clock)) return;
      let taken = 0;
      for (const linkId of [...pending]) {
        if (taken++ < perWindow) {
          pending.delete(linkId);
          events.emit('run', run(linkId, 'changed'));
          continue;
        }
        paused = [{ api: 'crm', reason: 'throttled', until: new Date(clock + pauseMs), fix: '' }];
        events.emit(
          'run',
          run(linkId, 'skipped', { message: 'Dataverse: too many requests (HTTP 429)', fix: null }),
        );
        return;
      }
    },
    store: {
      async listJobs(filter: JobFilter = {}): Promise<Job[]> {
        return [...pending]
          .filter((linkId) => filter.beforeId === undefined || linkId < filter.beforeId)
          .map((linkId) => ({ id: linkId, linkId, state: 'pending' }) as unknown as Job);
      },
    },
    sleep: async (ms: number) => {
      clock += ms;
    },
  };
}

const summaryOf = (queued: number): BackfillSummary => ({
  scope: { direction: 'pc-to-crm', since: null, dryRun: false },
  sides: [],
  queued,
  synced: 0,
  failed: 0,
  left: queued,
  syncedBy: 'backfill',
});

describe('cosell backfill: syncing the queued records here', () => {
  it('R34 R27 waits out the CRM throttling as often as it comes, says until when, and ends with every record synced', async () => {
    const links = Array.from({ length: 10 }, (_, i) => i + 1);
    const engine = throttledEngine(links, 4, 285_000);
    const lines: string[] = [];
    const summary = summaryOf(links.length);
    await syncHere(engine, new Set(links), summary, { show: (l) => lines.push(l) }, engine.store, engine);
    expect(summary).toMatchObject({ synced: 10, failed: 0, left: 0 });
    const waits = lines.filter((l) => l.includes('asked cosell to slow down'));
    expect(waits).toHaveLength(2);
    expect(waits[0]).toMatch(
      /^syncing 4\/10 .*; the CRM asked cosell to slow down \(HTTP 429\): going on at 00:04:45Z \(in 285 s\)$/,
    );
    expect(engine.now()).toBeGreaterThanOrEqual(2 * 285_000);
  });

  it('R34 leaves a record to the service when its wait is not throttling (a retry after a 503)', async () => {
    const engine = throttledEngine([1, 2], 1, 60_000);
    const summary = summaryOf(2);
    const paused = engine.pausedApis;
    engine.pausedApis = () => paused().map((p) => ({ ...p, reason: 'credentials' }));
    await syncHere(engine, new Set([1, 2]), summary, { show: () => {} }, engine.store, engine);
    expect(summary).toMatchObject({ synced: 1, failed: 0, left: 1 });
    expect(engine.now()).toBe(0);
  });
});
