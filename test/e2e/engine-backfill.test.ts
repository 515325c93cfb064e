// The first import (R34) on Salesforce and on Dynamics 365: what was already on both sides before cosell ran.
// cosell was not running while these records were made (no webhook reached it, nothing polled), so only the
// backfill can find them. It takes open referrals and open opportunities flagged to sync, never closed deals,
// lists Partner Center page by page, resumes after an interruption, and a dry run queues nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackfillScope } from '../../src/engine/backfill.ts';
import { CRMS, countOf, type Harness, pcControl, startHarness } from './engine-harness.ts';

describe.each(CRMS)('first import on $crm (engine over HTTP)', ({ crm }) => {
  let h: Harness;
  let pc: ReturnType<typeof pcControl>;

  beforeAll(async () => {
    // Two referrals per page, so the import of five pages is interrupted and resumed.
    h = await startHarness(undefined, { crm, pcPageSize: 2 });
    pc = pcControl(h);
    await pc.behaviour({ mode: 'drop', count: 10_000 });
  });
  afterAll(async () => {
    await h?.close();
  });

  const scope = (overrides: Partial<BackfillScope> = {}): BackfillScope => ({
    direction: 'both',
    since: null,
    dryRun: false,
    ...overrides,
  });
  const recordsOf = (referralId: string) => h.desk.withReferral(referralId);
  const outgoingFor = async (opportunityId: string) =>
    (await pc.all()).filter((r) => r.externalReferenceId === opportunityId && r.direction === 'Outgoing');

  it('R34 the first import takes open referrals and open flagged opportunities only, never closed deals; a dry run queues nothing; an interrupted import resumes and imports each record once', async () => {
    const open = [];
    for (let i = 1; i <= 8; i++) {
      open.push(
        await pc.sendIncoming({
          name: `Open referral ${i}`,
          ...(i % 2 ? { status: 'Active', substatus: 'Accepted' } : {}),
        }),
      );
    }
    const closed = await pc.sendIncoming({ name: 'Won long ago', status: 'Closed', substatus: 'Won' });
    const flagged = await h.desk.opportunity({});
    const flaggedClosed = await h.desk.opportunity({});
    await h.desk.win(flaggedClosed.opportunityId);
    const unflagged = await h.desk.opportunity({ sync: false });

    // No event reached cosell: only the backfill can find these records.
    expect((await pc.deliveries()).deliveries.filter((d) => d.state === 'delivered')).toEqual([]);

    // Dry run: counts and names, nothing queued or written.
    const dry = await h.engine.scanForBackfill('partner-center', scope({ dryRun: true }));
    expect(dry).toMatchObject({ listed: 8, toImport: 8, alreadyLinked: 0, queuedLinkIds: [] });
    expect(dry.sample).toContain(`referral ${open[0]!.id} "Open referral 1"`);
    const dryCrm = await h.engine.scanForBackfill('crm', scope({ dryRun: true }));
    expect(dryCrm).toMatchObject({ toImport: 1, leftOut: { closed: 1 }, queuedLinkIds: [] });
    expect(await h.store.listJobs({ state: ['pending', 'running'] })).toEqual([]);

    // Interrupted after the second page (the process died): the position of that page is kept.
    let pages = 0;
    await expect(
      h.engine.scanForBackfill('partner-center', scope(), () => {
        if (++pages === 2) throw new Error('interrupted');
      }),
    ).rejects.toThrow('interrupted');
    const resumed = await h.engine.scanForBackfill('partner-center', scope());
    expect(resumed.resumedFrom).not.toBeNull();
    expect(resumed.listed).toBeLessThan(8);
    const fromCrm = await h.engine.scanForBackfill('crm', scope());
    expect(fromCrm).toMatchObject({ toImport: 1, leftOut: { closed: 1 } });
    await h.engine.drain({ timeoutMs: 2_000 });

    for (const referral of open) expect(await recordsOf(String(referral.id))).toHaveLength(1);
    expect(await recordsOf(String(closed.id))).toEqual([]);
    expect(await outgoingFor(flagged.opportunityId)).toHaveLength(1);
    expect(await outgoingFor(flaggedClosed.opportunityId)).toEqual([]);
    expect(await outgoingFor(unflagged.opportunityId)).toEqual([]);

    // Run again: everything is linked, nothing is imported twice.
    const again = await h.engine.scanForBackfill('partner-center', scope());
    expect(again).toMatchObject({ toImport: 0, resumedFrom: null });
    expect(again.alreadyLinked).toBe(9);
    expect((await h.engine.scanForBackfill('crm', scope())).toImport).toBe(0);
  });

  it('R34 R4 the import creates each record from the referral as listed, without reading it again; one Microsoft edits after the listing arrives with the edit', async () => {
    const untouched = await pc.sendIncoming({ name: 'Listed and left alone' });
    const edited = await pc.sendIncoming({ name: 'Listed, then edited by Microsoft' });
    const queued = await h.engine.scanForBackfill('partner-center', scope({ direction: 'pc-to-crm' }));
    expect(queued.toImport).toBe(2);
    await pc.editAsMicrosoft(String(edited.id), { details: { dealValue: 77_000 } });

    const before = await pc.calls();
    await h.engine.drain({ timeoutMs: 5_000 });
    const after = await pc.calls();
    const reads = (calls: Record<string, number>) => countOf(calls, 'GET /v1.0/engagements/referrals/');
    // The edited referral's write-back answers 412 (its eTag moved): that one import reads it, the other does not.
    expect(reads(after) - reads(before)).toBe(1);
    expect(await recordsOf(String(untouched.id))).toHaveLength(1);
    const [recordId] = await recordsOf(String(edited.id));
    expect(recordId).toBeDefined();
    expect((await h.crm.findDeal({ kind: 'opportunity', id: recordId! }))?.value).toBe(77_000);
    expect((await pc.referral(String(edited.id))).externalReferenceId).toBe(recordId);
    expect((await pc.referral(String(edited.id))).details?.dealValue).toBe(77_000);
  });
});
