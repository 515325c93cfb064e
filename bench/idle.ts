// Idle cost: API calls in one day of engine time with the default settings and nothing changing, plus the same
// with N links whose last sync failed validation. Skipped time (test/helpers/manual-time.ts): the engine's clock
// and timers move only when the bench advances them, while the emulators and HTTP are real. The worker's own
// store poll is set to a minute (it makes no API call; at its default of 1 s the day would take 86,400 steps).
import { setTimeout as sleep } from 'node:timers/promises';
import type { CrmKind } from '../src/crm/port.ts';
import { type Harness, pcControl, skippedTimeEngine, startHarness } from '../test/e2e/engine-harness.ts';
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

export interface AfterQuietRow {
  crm: CrmKind;
  /** Engine-time delay (ms) from a seller's edit after 10 quiet minutes until the referral holds it. */
  samples: number[];
}

/**
 * A seller's first edit after a quiet spell, default settings, in skipped time: the adaptive poll has backed off
 * to its ceiling, so the edit waits for the next poll. Each sample idles 10 minutes, edits at a random moment,
 * then moves engine time a second at a time until Partner Center holds the edit.
 */
export async function measureAfterQuiet(crm: CrmKind, samples: number): Promise<AfterQuietRow> {
  const h = await startHarness({}, { crm });
  const pc = pcControl(h);
  try {
    const { time, engine } = await skippedTimeEngine(h, { worker: { pollIntervalMs: MINUTE } });
    try {
      await engine.start();
      const { opportunityId } = await h.desk.opportunity();
      let referralId: string | null = null;
      for (let step = 0; step < 600 && !referralId; step++) {
        await time.advance(1_000, settle);
        referralId = (await h.desk.read(opportunityId)).referralId;
      }
      if (!referralId) throw new Error(`the opportunity ${opportunityId} was not shared within 10 minutes`);
      const delays: number[] = [];
      let random = 0x2545f491;
      for (let i = 0; i < samples; i++) {
        await time.advance(10 * MINUTE, settle);
        random = (random * 1_103_515_245 + 12_345) % 2 ** 31;
        await time.advance(Math.floor((random / 2 ** 31) * MINUTE), settle);
        const value = 300_000 + i;
        await h.desk.edit(opportunityId, { value });
        const editedAt = time.now().getTime();
        for (let step = 0; ; step++) {
          if (step > 300)
            throw new Error(`edit ${i} did not reach Partner Center within 5 minutes of engine time`);
          await time.advance(1_000, settle);
          const held = (await pc.referral(referralId)).details?.dealValue === value;
          if (held) break;
        }
        delays.push(time.now().getTime() - editedAt);
      }
      return { crm, samples: delays };
    } finally {
      await engine.stop();
    }
  } finally {
    await h.close();
  }
}
