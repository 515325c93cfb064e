// A web process takes a webhook in; the worker that syncs it is another process. On PostgreSQL the web process's
// enqueue wakes the worker at once (LISTEN/NOTIFY), so a referral arrives within seconds even when the worker's
// idle poll is two minutes. Run by `npm run test:pg` (its global setup starts the server).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CURSORS } from '../../src/engine/intake.ts';
import { openStore } from '../../src/store/open.ts';
import { testStoreUrl } from '../../src/store/test-support.ts';
import { until } from '../helpers/until.ts';
import { CRMS } from './engine-harness.ts';
import { type Fleet, startFleet } from './fleet.ts';
import { loggedEvents } from './runtime-support.ts';

// Nothing but a notification can make the worker look within the test's deadline: its poll, the reconcile sweep
// and the CRM feed are all minutes apart.
const ENGINE = {
  worker: { pollIntervalMs: 120_000, leaseMs: 10_000 },
  crmPoll: { minIntervalMs: 120_000, maxIntervalMs: 120_000 },
  reconcile: { intervalMs: 600_000 },
};

describe.each(CRMS)('workers woken by the web process on $crm (PostgreSQL)', ({ crm }) => {
  let fleet: Fleet;
  let storeUrl: string;

  beforeAll(async () => {
    const scratch = `wake-workers-${crm}-${process.pid}`;
    storeUrl = await testStoreUrl({ dir: scratch, file: () => join(scratch, 'unused.db') });
    fleet = await startFleet({ tenants: [{ id: 'acme', crm }], storeUrl, engine: ENGINE });
  }, 120_000);

  afterAll(async () => {
    await fleet?.close();
  });

  it('R2 R23 a referral taken in by the web process is synced by an idle worker within seconds, not at its next poll', async () => {
    const web = await fleet.start('web');
    await fleet.registerWebhooks(web.line);
    const worker = await fleet.start('worker');
    // The worker's start-up sweep of Partner Center is over (its watermark stored) before the referrals are sent:
    // a sweep finding them would wake the worker itself.
    const store = await openStore({ url: storeUrl });
    try {
      await until(
        async () => (await store.forTenant('acme').getCursor(CURSORS.reconcile)) !== null,
        20_000,
        "the worker's start-up sweep",
        100,
      );
    } finally {
      await store.close();
    }

    const tenant = fleet.tenants[0]!;
    await fleet.sendReferrals(tenant, 3, 1);
    await until(
      async () => (await fleet.verdicts()).every((v) => v.problems.length === 0),
      15_000,
      'the referrals in the CRM',
      250,
    );
    expect((await fleet.verdicts())[0]).toMatchObject({ expected: 3, lost: 0, duplicated: 0 });
    // Its log lines follow the writes they report.
    await until(() => loggedEvents(worker.process, 'sync').length >= 3, 5_000, "the worker's sync log lines");
    expect(loggedEvents(web.process, 'sync')).toEqual([]);
  }, 120_000);
});
