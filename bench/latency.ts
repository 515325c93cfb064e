// Latency per direction, engine running as it does in production (its own timers, webhooks over HTTP).
// PC→CRM: Microsoft edits a referral (emulator control API, which sends the signed webhook); the clock stops when
// the CRM record holds the new deal value. CRM→PC: a seller edits the opportunity (CRM emulator's UI API); the
// clock stops when the referral holds it. Edits run in a few lanes at once, each lane on its own records.
import type { CrmKind } from '../src/crm/port.ts';
import type { EngineSettingsInput } from '../src/engine/settings.ts';
import { type Harness, pcControl, startHarness } from '../test/e2e/engine-harness.ts';
import { until } from '../test/helpers/until.ts';
import { type Distribution, distribution } from './lib/stats.ts';

export interface LatencyRow {
  crm: CrmKind;
  direction: 'toCrm' | 'toReferral';
  /** The engine settings the run used, as a reader would name them. */
  setting: string;
  lanes: number;
  ms: Distribution;
  samples: number[];
}

/** Polls `check` as fast as a loopback HTTP call allows; the clock resolution is one call (≈ 1–3 ms). */
async function timeUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (performance.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
  }
}

async function lanes<T>(items: T[], count: number, work: (item: T, lane: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: count }, async (_, lane) => {
      while (next < items.length) await work(items[next++]!, lane);
    }),
  );
}

const dealValue = (referral: Record<string, unknown>) =>
  (referral['details'] as { dealValue?: number } | undefined)?.dealValue;

export async function measureToCrm(
  crm: CrmKind,
  options: { edits: number; lanes: number; settings: EngineSettingsInput; setting: string },
): Promise<LatencyRow> {
  const h = await startHarness(options.settings, { crm });
  const pc = pcControl(h);
  try {
    await h.engine.start();
    const records: { referralId: string; opportunityId: string }[] = [];
    for (let lane = 0; lane < options.lanes; lane++) {
      const referral = await pc.sendIncoming({
        name: `Latency incoming ${lane}`,
        details: { dealValue: 1_000, currency: 'USD' },
      });
      const referralId = String(referral.id);
      const opportunityId = await until(
        async () => (await h.desk.withReferral(referralId))[0],
        30_000,
        `the opportunity of ${referralId}`,
      );
      records.push({ referralId, opportunityId });
    }
    await settled(h);
    const samples: number[] = [];
    let value = 10_000;
    const edits = Array.from({ length: options.edits }, (_, i) => i);
    await lanes(edits, options.lanes, async (_, lane) => {
      const { referralId, opportunityId } = records[lane]!;
      const target = ++value;
      const started = performance.now();
      await pc.editAsMicrosoft(referralId, { details: { dealValue: target } });
      await timeUntil(
        async () => (await h.desk.read(opportunityId)).value === target,
        30_000,
        `deal value ${target} on ${opportunityId}`,
      );
      samples.push(Math.round((performance.now() - started) * 10) / 10);
    });
    return {
      crm,
      direction: 'toCrm',
      setting: options.setting,
      lanes: options.lanes,
      ms: distribution(samples),
      samples,
    };
  } finally {
    await h.close();
  }
}

export async function measureToReferral(
  crm: CrmKind,
  options: { edits: number; lanes: number; settings: EngineSettingsInput; setting: string },
): Promise<LatencyRow> {
  const h = await startHarness(options.settings, { crm });
  const pc = pcControl(h);
  try {
    await h.engine.start();
    const records: { referralId: string; opportunityId: string }[] = [];
    for (let lane = 0; lane < options.lanes; lane++) {
      const { opportunityId } = await h.desk.opportunity();
      const referralId = await until(
        async () => (await h.desk.read(opportunityId)).referralId,
        60_000,
        `the referral of ${opportunityId}`,
      );
      records.push({ referralId, opportunityId });
    }
    await settled(h);
    const samples: number[] = [];
    let value = 200_000;
    const edits = Array.from({ length: options.edits }, (_, i) => i);
    await lanes(edits, options.lanes, async (_, lane) => {
      const { referralId, opportunityId } = records[lane]!;
      const target = ++value;
      const started = performance.now();
      await h.desk.edit(opportunityId, { value: target });
      await timeUntil(
        async () => dealValue(await pc.referral(referralId)) === target,
        120_000,
        `deal value ${target} on referral ${referralId}`,
      );
      samples.push(Math.round((performance.now() - started) * 10) / 10);
    });
    return {
      crm,
      direction: 'toReferral',
      setting: options.setting,
      lanes: options.lanes,
      ms: distribution(samples),
      samples,
    };
  } finally {
    await h.close();
  }
}

/** Until the set-up's own work (creates, write-backs, their echoes) has finished: nothing pending or running. */
async function settled(h: Harness): Promise<void> {
  await until(
    async () => (await h.store.listJobs({ state: ['pending', 'running'] })).length === 0,
    60_000,
    'the set-up jobs to finish',
  );
}
