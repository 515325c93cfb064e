// Idle cost: API calls in one day of engine time with the default settings and nothing changing, plus the same
// with N links whose last sync failed validation. Skipped time (test/helpers/manual-time.ts): the engine's clock
// and timers move only when the bench advances them, while the emulators and HTTP are real. The worker's own
// store poll is set to a minute (it makes no API call; at its default of 1 s the day would take 86,400 steps).
import { setTimeout as sleep } from 'node:timers/promises';
import type { CrmKind } from '../src/crm/port.ts';
import { type Harness, skippedTimeEngine, startHarness } from '../test/e2e/engine-harness.ts';
import { flush } from '../test/helpers/manual-time.ts';
import { until } from '../test/helpers/until.ts';
import { type Cost, costOf, readCounters, resetCounters } from './lib/counters.ts';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

export interface IdleRow {
  crm: CrmKind;
  failedLinks: number;
  /** Per API, one simulated day. */
  partnerCenter: Cost;
  crmApi: Cost;
}

/** A timer's HTTP work is loopback: a few milliseconds lets it finish before the next timer fires. */
async function settle(): Promise<void> {
  await flush();
  await sleep(4);
  await flush();
}

async function failingLinks(h: Harness, count: number): Promise<void> {
  // R12: an account without a country fails validation, so each of these links is left failed.
  for (let i = 0; i < count; i++) await h.desk.opportunity({ country: null });
  await h.engine.pollCrmOnce();
  await h.engine.drain({ timeoutMs: 60_000 });
  await until(async () => (await h.store.recordCounts()).failing >= count, 60_000, `${count} failed links`);
}

export async function measureIdleDay(crm: CrmKind, failedLinks: number): Promise<IdleRow> {
  // Default settings throughout (`{}`), so the day is what a deployment with no `engine:` section costs.
  const h = await startHarness({}, { crm });
  try {
    if (failedLinks > 0) await failingLinks(h, failedLinks);
    const { time, engine } = await skippedTimeEngine(h, { worker: { pollIntervalMs: MINUTE } });
    try {
      await engine.start();
      await time.advance(MINUTE, settle);
      await Promise.all([resetCounters(h.pc.info.control), resetCounters(h.crmControl)]);
      await time.advance(DAY, settle);
      const [pc, crmCounters] = await Promise.all([
        readCounters(h.pc.info.control),
        readCounters(h.crmControl),
      ]);
      return { crm, failedLinks, partnerCenter: costOf(pc), crmApi: costOf(crmCounters) };
    } finally {
      await engine.stop();
    }
  } finally {
    await h.close();
  }
}
