// Daily API budgets (R27) on Salesforce and on Dynamics 365: once cosell has made the day's allowance of calls
// to an API, work for it pauses (health and doctor say until when and why) and every queued referral waits;
// at midnight UTC the count starts again and everything arrives. The clock is moved, not waited for.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.ts';
import type { Store } from '../../src/store/store.ts';
import { until } from '../helpers/until.ts';
import { CRMS, type Harness, pcControl, startHarness, TEST_ENGINE_SETTINGS } from './engine-harness.ts';

const DAY = 24 * 3_600_000;

describe.each(CRMS)('daily API budgets on $crm (engine over HTTP)', ({ crm }) => {
  let h: Harness;
  let pc: ReturnType<typeof pcControl>;

  // A harness per test: each moves the clock days ahead, and the store keeps the day's count of those days.
  beforeEach(async () => {
    h = await startHarness(undefined, { crm });
    pc = pcControl(h);
  });
  afterEach(async () => {
    await h?.close();
  });

  it.each([
    { api: 'partner-center', budgets: { partnerCenterPerDay: 6 }, key: 'partnerCenterPerDay = 6' },
    { api: 'crm', budgets: { crmPerDay: 8 }, key: 'crmPerDay = 8' },
  ] as const)(
    'R27 a used-up $api budget pauses the work until midnight UTC, also across a restart: nothing dropped or dead-lettered, then every referral arrives over the following days',
    async ({ api, budgets, key }) => {
      let offsetMs = 0;
      const now = () => new Date(Date.now() + offsetMs);
      const open = async () =>
        (await h.newEngine({ now, settings: { ...TEST_ENGINE_SETTINGS, budgets } })) as {
          engine: Engine;
          store: Store;
        };
      let { engine, store } = await open();
      await engine.start();
      try {
        const sent: string[] = [];
        for (let i = 1; i <= 6; i++)
          sent.push(String((await pc.sendIncoming({ name: `Budget ${api} ${i}` })).id));
        const pause = await until(
          async () => engine.pausedApis().find((p) => p.api === api && p.reason === 'budget'),
          10_000,
          `the ${api} budget pause`,
        );
        expect(pause!.fix).toContain(`engine.budgets.${key}`);
        expect(pause!.fix).toContain('nothing is dropped');
        expect(pause!.until.getTime()).toBeGreaterThan(now().getTime());
        const arrived = async () => {
          let n = 0;
          for (const id of sent) if ((await h.desk.withReferral(id)).length > 0) n++;
          return n;
        };
        expect(await arrived()).toBeLessThan(sent.length);
        const jobs = await store.listJobs({});
        expect(jobs.filter((j) => j.state === 'dead')).toEqual([]);

        // A restart the same day keeps the day's count: still paused, before making a single call.
        await engine.stop();
        ({ engine, store } = await open());
        await engine.start();
        expect(engine.pausedApis().some((p) => p.api === api && p.reason === 'budget')).toBe(true);

        // The next days: each midnight frees a new allowance, until every referral is in.
        await until(
          async () => {
            if (engine.pausedApis().some((p) => p.reason === 'budget')) offsetMs += DAY;
            return (await arrived()) === sent.length;
          },
          15_000,
          'every referral over the following days',
        );
        expect((await store.listJobs({})).filter((j) => j.state === 'dead')).toEqual([]);
      } finally {
        await engine.stop();
      }
    },
  );
});
