// Workers told of queued jobs on PostgreSQL (LISTEN/NOTIFY): another process's enqueue reaches the tenant's
// listeners, never another tenant's; an unsubscribed listener hears nothing; a lost listening connection comes back.
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { until } from '../../test/helpers/until.ts';
import type { SqlStore } from './sql-store.ts';
import type { Store } from './store.ts';
import { openTestStore, temporaryDirectory, testClock, testStoreUrl } from './test-support.ts';

describe('store on PostgreSQL: queued jobs are announced', () => {
  let tmp: ReturnType<typeof temporaryDirectory>;
  let time: ReturnType<typeof testClock>;
  let worker: SqlStore;
  let web: SqlStore;

  const linkIn = async (store: Store, referralId: string) =>
    (await store.findOrCreateLinkForReferral(referralId, { crmKind: 'salesforce', dealKind: 'opportunity' }))
      .link.id;

  beforeEach(async () => {
    tmp = temporaryDirectory();
    time = testClock();
    // Two opens: two pools, as two processes would have.
    worker = await openTestStore(tmp, { clock: time.clock });
    web = await openTestStore(tmp, { clock: time.clock });
  });
  afterEach(async () => {
    await web.close();
    await worker.close();
    tmp.remove();
  });

  it("R2 R23 a job another process queues wakes this tenant's listener, not another tenant's; a stopped listener hears nothing", async () => {
    const heard = { acme: 0, globex: 0, first: 0 };
    const stopFirst = worker.watchQueued(() => heard.first++);
    worker.forTenant('globex').watchQueued(() => heard.globex++);
    worker.forTenant('acme').watchQueued(() => heard.acme++);

    const link = await linkIn(web, 'r-1');
    // The listening connection opens in the background: queue until the first announcement is heard.
    await until(
      async () => {
        await web.enqueueJob(link, 'partner-center-webhook', time.at(0));
        return heard.first > 0;
      },
      5_000,
      'the announcement',
      100,
    );

    // Announcements arrive in commit order: when acme's arrives, globex's would have, had there been one.
    const acme = web.forTenant('acme');
    await acme.enqueueJob(await linkIn(acme, 'r-2'), 'partner-center-webhook', time.at(0));
    await until(() => heard.acme === 1, 5_000, "acme's announcement");
    expect(heard).toMatchObject({ acme: 1, globex: 0 });
    // Every announcement queued before acme's has arrived too: the count stands from here.
    const heardBefore = heard.first;

    stopFirst();
    const second = { n: 0 };
    worker.watchQueued(() => second.n++);
    await web.resubmit({ linkIds: [link] });
    await until(() => second.n === 1, 5_000, 'the resubmit announced');
    expect(heard.first).toBe(heardBefore);
  });

  it('R23 a listening connection that is cut is opened again, and later jobs are heard', async () => {
    let heard = 0;
    worker.watchQueued(() => heard++);
    const link = await linkIn(web, 'r-1');
    await until(
      async () => {
        await web.enqueueJob(link, 'partner-center-webhook', time.at(0));
        return heard > 0;
      },
      5_000,
      'the first announcement',
      100,
    );
    const admin = new pg.Client({ connectionString: await testStoreUrl(tmp) });
    await admin.connect();
    const listening = async () =>
      (
        await admin.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
      ).rows.map((r) => r.pid);
    try {
      const [cut] = await listening();
      await admin.query('SELECT pg_terminate_backend($1)', [cut]);
      // Announcements are lost until it is back (the workers' polls find those jobs).
      await until(
        async () => (await listening()).some((pid) => pid !== cut),
        10_000,
        'a new listening connection',
        100,
      );
    } finally {
      await admin.end();
    }
    const heardBefore = heard;
    await web.enqueueJob(link, 'reconcile', time.at(0));
    await until(() => heard > heardBefore, 5_000, 'an announcement after the cut');
  });
});
