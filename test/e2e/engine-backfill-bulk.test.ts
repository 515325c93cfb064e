// The first import as `cosell backfill` runs it: many workers at once, the CRM adapter gathering their creates
// into batched calls (Salesforce: one composite graph per batch, each record all-or-none). Every referral still
// arrives once, with its own account and contact, and its write-back; on Salesforce the creates of a batch
// share one call of look-ups and one call of writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BULK } from '../../src/cli/commands/backfill.ts';
import type { BackfillScope } from '../../src/engine/backfill.ts';
import { CRMS, type Harness, pcControl, startHarness, TEST_ENGINE_SETTINGS } from './engine-harness.ts';

const REFERRALS = 40;

describe.each(CRMS)('a bulk first import on $crm (engine over HTTP)', ({ crm }) => {
  let h: Harness;
  let pc: ReturnType<typeof pcControl>;

  beforeAll(async () => {
    h = await startHarness(
      {
        ...TEST_ENGINE_SETTINGS,
        worker: { concurrency: BULK.concurrency, leaseMs: 10_000, pollIntervalMs: 50 },
      },
      { crm },
    );
    pc = pcControl(h);
    await pc.behaviour({ mode: 'drop', count: 10_000 });
    // As `cosell backfill` runs it.
    h.crm.batchCreates?.({ lingerMs: BULK.lingerMs });
  });
  afterAll(async () => {
    await h?.close();
  });

  const scope: BackfillScope = { direction: 'pc-to-crm', since: null, dryRun: false };

  it('R34 R5 R20 forty referrals imported by the backfill’s workers at once: each arrives once with its own account and contact, and its write-back', async () => {
    const sent = [];
    for (let i = 0; i < REFERRALS; i++) {
      sent.push(
        await pc.sendIncoming({
          name: `Bulk referral ${i}`,
          customerProfile: {
            name: `Bulk customer ${i}`,
            team: [{ firstName: 'Dana', lastName: `Customer ${i}`, email: `dana.${i}@bulk.example` }],
          },
        }),
      );
    }
    // Two referrals of one customer: never in one batch, so the second finds the account the first created.
    const sameCustomer = await pc.sendIncoming({
      name: 'Bulk referral, same customer as 0',
      customerProfile: {
        name: 'Bulk customer 0',
        team: [{ firstName: 'Dana', lastName: 'Customer 0', email: 'dana.0@bulk.example' }],
      },
    });
    const before = await h.desk.calls();

    const counts = await h.engine.scanForBackfill('partner-center', scope);
    expect(counts.toImport).toBe(REFERRALS + 1);
    await h.engine.drain({ timeoutMs: 60_000 });

    for (const referral of [...sent, sameCustomer]) {
      const records = await h.desk.withReferral(String(referral.id));
      expect(records, `the record of referral ${referral.id}`).toHaveLength(1);
      // The write-back: Partner Center knows the record.
      expect((await pc.referral(String(referral.id))).externalReferenceId).toBe(records[0]);
    }
    expect(await h.desk.accountsNamed('Bulk customer 0')).toHaveLength(1);
    expect(await h.desk.accountsNamed('Bulk customer 39')).toHaveLength(1);
    expect(await h.desk.contactsWithEmail('dana.0@bulk.example')).toHaveLength(1);

    if (crm === 'salesforce') {
      // 41 creates in a few batches: each batch is one composite of look-ups and one graph of writes.
      const after = await h.desk.calls();
      const graphs =
        (after.byEndpoint['POST /composite/graph'] ?? 0) - (before.byEndpoint['POST /composite/graph'] ?? 0);
      expect(graphs).toBeGreaterThanOrEqual(1);
      expect(graphs).toBeLessThanOrEqual(4);
    }
  });
});
