// Several processes on one store file: the guarantees the engine relies on when a worker is killed or a
// second process (a CLI command, another worker) shares the database.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from './open.ts';
import { startStoreChild, temporaryDirectory, testStoreUrl } from './test-support.ts';

const parseResult = <T>(line: string) => JSON.parse(line) as T;

describe('store across processes', () => {
  let tmp: ReturnType<typeof temporaryDirectory>;
  beforeEach(() => {
    tmp = temporaryDirectory();
  });
  afterEach(() => tmp.remove());

  it('R2 an event is on disk once acceptInbox returns: kill -9 right after, reopen, it is there', async () => {
    const file = await testStoreUrl(tmp);
    const child = startStoreChild(['accept-inbox', file, 'delivery-1', '{"eventName":"referral-created"}']);
    const ok = await child.waitForLine((line) => line.startsWith('ok '), 'the child to accept the event');
    child.process.kill('SIGKILL');
    expect(await child.exited).toBeNull(); // killed by the signal, not exited

    const store = await openStore({ url: file });
    try {
      const events = await store.unprocessedInbox(10);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        id: Number(ok.slice(3)),
        source: 'partner-center-webhook',
        dedupeKey: 'delivery-1',
        payload: '{"eventName":"referral-created"}',
      });
      // Partner Center redelivers the same event: still one.
      const again = await store.acceptInbox({
        source: 'partner-center-webhook',
        dedupeKey: 'delivery-1',
        payload: '{"eventName":"referral-created"}',
      });
      expect(again.duplicate).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('three processes opening a new file at once migrate it once and all write to it', async () => {
    const file = await testStoreUrl(tmp);
    const children = [1, 2, 3].map((n) => startStoreChild(['accept-inbox', file, `delivery-${n}`, '{}']));
    await Promise.all(children.map((c) => c.waitForLine((l) => l.startsWith('ok '), 'the child to accept')));
    for (const child of children) child.process.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    const store = await openStore({ url: file });
    try {
      expect((await store.unprocessedInbox(10)).map((e) => e.dedupeKey).sort()).toEqual([
        'delivery-1',
        'delivery-2',
        'delivery-3',
      ]);
    } finally {
      await store.close();
    }
  });

  it('processes racing to see each side of the same pairs end with exactly one link per pair', async () => {
    const file = await testStoreUrl(tmp);
    const count = 150;
    // No file yet: the first two children also race to create and migrate it.
    const race = async (styles: [string, string]) => {
      // Opposite orders, so the two processes meet on the same pairs half-way.
      const children = [
        startStoreChild(['links', file, styles[0], String(count), 'ascending']),
        startStoreChild(['links', file, styles[1], String(count), 'descending']),
      ];
      await Promise.all(children.map((c) => c.waitForLine((l) => l === 'ready', 'child ready')));
      for (const child of children) child.send('go');
      const results = await Promise.all(
        children.map((c) => c.waitForLine((l) => l.startsWith('{'), 'child result', 20_000)),
      );
      expect(await Promise.all(children.map((c) => c.exited))).toEqual([0, 0]);
      return results.map((line) => parseResult<{ ids: number[] }>(line).ids);
    };
    // First each side alone (a referral-created webhook, a CRM poll): two half links per pair...
    const [referralHalves, crmHalves] = await race(['referral-only', 'crm-only']);
    expect(new Set([...referralHalves!, ...crmHalves!]).size).toBe(2 * count);
    // ...then two processes that know both ids race to join them.
    const [referralFirst, crmFirst] = await race(['referral-first', 'crm-first']);

    const store = await openStore({ url: file });
    try {
      const links = await store.listLinks({ limit: 1000 });
      expect(links).toHaveLength(count);
      const surviving = new Map(links.map((l) => [l.referralId, l]));
      for (let i = 0; i < count; i++) {
        const link = surviving.get(`referral-${i}`);
        expect(link?.crmId).toBe(`006-${i}`);
        // The merge keeps the older half; both racers were handed the surviving link.
        expect(link?.id).toBe(Math.min(referralHalves![i]!, crmHalves![i]!));
        expect([referralFirst![i], crmFirst![i]]).toEqual([link?.id, link?.id]);
      }
    } finally {
      await store.close();
    }
  });

  it('two worker processes claiming at once never run the same job twice and leave none behind', async () => {
    const file = await testStoreUrl(tmp);
    const store = await openStore({ url: file });
    const past = new Date(Date.now() - 60_000);
    for (let i = 0; i < 60; i++) {
      const { link } = await store.findOrCreateLinkForReferral(`referral-${i}`, {
        crmKind: 'salesforce',
        dealKind: 'opportunity',
      });
      await store.enqueueJob(link.id, 'reconcile', past);
    }
    await store.close();

    const workers = ['worker-a', 'worker-b'].map((owner) => startStoreChild(['claim', file, owner]));
    await Promise.all(workers.map((w) => w.waitForLine((l) => l === 'ready', 'worker ready')));
    for (const worker of workers) worker.send('go');
    const claimed = (
      await Promise.all(workers.map((w) => w.waitForLine((l) => l.startsWith('{'), 'worker result', 20_000)))
    ).flatMap((line) => parseResult<{ claimed: number[] }>(line).claimed);
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0]);

    expect(claimed).toHaveLength(60);
    expect(new Set(claimed).size).toBe(60);
    const reopened = await openStore({ url: file });
    try {
      expect(await reopened.listJobs({ state: ['pending', 'running'] })).toEqual([]);
      expect(await reopened.listJobs({ state: 'succeeded', limit: 100 })).toHaveLength(60);
    } finally {
      await reopened.close();
    }
  });

  it('two store instances in one process see each other’s links at once', async () => {
    const file = await testStoreUrl(tmp);
    const a = await openStore({ url: file });
    const b = await openStore({ url: file });
    try {
      const [fromA, fromB] = await Promise.all([
        a.findOrCreateLinkForReferral('r-1', { crmKind: 'salesforce', dealKind: 'opportunity' }),
        b.findOrCreateLinkForCrm('salesforce', '006A', { dealKind: 'opportunity', referralId: 'r-1' }),
      ]);
      expect(fromB.link.id).toBe(fromA.link.id);
      expect(await a.listLinks()).toHaveLength(1);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
