// Referrals carrying what a CRM field cannot hold (over real HTTP): values are fitted to the field and the audit
// line says so; a CRM refusal of a new referral's record is final and visible, not a retry loop; and our own cut
// of a long name is never read as a seller's change.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Deal } from '../../src/core/deal.ts';
import type { Link, Run } from '../../src/store/store.ts';
import { until } from '../helpers/until.ts';
import { CRMS, type Harness, pcControl, startHarness, TEST_ENGINE_SETTINGS } from './engine-harness.ts';

/** The standard field lengths of each CRM's notes and opportunity name (describe / metadata of a new org). */
const LIMITS = { salesforce: { notes: 32_000, name: 120 }, dynamics: { notes: 2_000, name: 300 } } as const;

describe.each(CRMS)('what the CRM cannot hold on $crm (engine over HTTP)', ({ crm }) => {
  let h: Harness;
  let pc: ReturnType<typeof pcControl>;
  const runs: Run[] = [];
  const limits = LIMITS[crm];

  beforeAll(async () => {
    h = await startHarness(
      {
        ...TEST_ENGINE_SETTINGS,
        retry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 80 },
      },
      { crm },
    );
    pc = pcControl(h);
    h.engine.events.on('run', (run: Run) => runs.push(run));
    await h.engine.start();
  });
  afterEach(async () => {
    await h.desk.clearFaults();
  });
  afterAll(async () => {
    await h?.close();
  });

  const dealOf = (referralId: string) => h.crm.findDeal({ kind: 'opportunity', referralId });
  const auditOf = async (id: string) => String((await h.desk.read(id)).audit ?? '').split('\n');

  it('R4 R19 a 100,000-character note and an e-mail the CRM refuses: the note is cut to the field, the contact created without the address, both said in the audit line', async () => {
    const notes = `Start. ${'x'.repeat(100_000)}`;
    const referral = await pc.sendIncoming({
      name: 'Proseware long notes',
      customerProfile: {
        name: 'Proseware',
        address: { city: 'Oslo', postalCode: '0150', country: 'NO' },
        team: [{ firstName: 'Pat', lastName: 'Prose', email: 'pat at proseware' }],
      },
      details: { dealValue: 1_000, currency: 'USD', notes },
    });
    const id = String(referral.id);
    const deal = (await until(() => dealOf(id), 10_000, 'the opportunity')) as Deal;
    expect(deal.notes).toBe(notes.slice(0, limits.notes));
    expect(deal.mark).toBe('ok');
    expect(deal.contacts).toEqual([expect.objectContaining({ lastName: 'Prose', email: null })]);
    const audit = await auditOf(deal.id);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toContain(`notes cut to ${limits.notes} characters to fit the CRM field`);
    expect(audit[0]).toContain(
      "contact Prose: 'pat at proseware' is not a valid e-mail address, so it was left out",
    );

    // Our cut is not a change: nothing goes back to Partner Center, which keeps the whole note and its contact.
    await h.engine.reconcileOnce();
    await h.engine.drain({ timeoutMs: 2_000 });
    const kept = await pc.referral(id);
    expect(kept.details?.notes).toBe(notes);
    expect(kept.customerProfile?.team?.map((m) => m.email)).toEqual(['pat at proseware']);
    expect(await auditOf(deal.id)).toHaveLength(1);
  });

  it('R20 R11 a 311-character referral name is cut to the opportunity name field; a later seller edit gives no "name changed" warning', async () => {
    const name = `Adventure Works ${'worldwide'.repeat(40)}`.slice(0, 311);
    expect(name).toHaveLength(311);
    // Already accepted in Partner Center, so the seller's edit is not held back by the on-hold stage (R8).
    const referral = await pc.sendIncoming({
      name,
      status: 'Active',
      substatus: 'Accepted',
      details: { dealValue: 5_000, currency: 'USD' },
    });
    const id = String(referral.id);
    const deal = (await until(() => dealOf(id), 10_000, 'the opportunity')) as Deal;
    const stored = (await h.desk.read(deal.id)).name;
    expect(stored.length).toBeLessThanOrEqual(limits.name);
    expect(stored.endsWith(' ✔')).toBe(true);
    expect(name.startsWith(stored.slice(0, -2))).toBe(true);
    expect((await auditOf(deal.id))[0]).toMatch(
      // The name keeps room for ' ✔'.
      new RegExp(`name cut to ${limits.name - 2} characters to fit the CRM field`),
    );

    await until(
      async () => (await pc.referral(id)).externalReferenceId === deal.id,
      5_000,
      'externalReferenceId',
    );
    await h.desk.edit(deal.id, { notes: 'Seller note' });
    await until(
      async () => (await pc.referral(id)).details?.notes === 'Seller note',
      10_000,
      'the note synced',
    );
    // The audit line is written to the CRM right after the Partner Center update.
    const audit = await until(
      async () => {
        const lines = await auditOf(deal.id);
        return lines.length >= 2 ? lines : null;
      },
      5_000,
      'the audit line of the note',
    );
    expect(audit).toHaveLength(2);
    expect(audit[1]).toMatch(/CRM->PC: notes$/);
    expect(audit.join('\n')).not.toMatch(/changed in the CRM/);
  });

  it("R25 R19 a CRM that refuses a new referral's record fails it once, visibly in the run history; the re-check does not loop on it; a change in Partner Center tries again", async () => {
    // A validation rule (Salesforce) or plug-in (Dataverse) of the org refuses every new record until the admin
    // fixes it.
    await h.desk.refuseCreates({
      status: 400,
      message: 'Region is required for new opportunities.',
      count: 10_000,
    });
    const referral = await pc.sendIncoming({
      name: 'Wingtip refused',
      details: { dealValue: 700, currency: 'USD' },
    });
    const id = String(referral.id);
    const failed = (await until(
      () => runs.find((r) => r.referralId === id && (r.outcome === 'failed' || r.outcome === 'dead')),
      10_000,
      'the failed run',
    )) as Run;
    expect(failed.outcome).toBe('failed');
    expect(failed.error?.message).toMatch(/Region is required for new opportunities/);
    const attempts = () => runs.filter((r) => r.referralId === id).length;
    const afterFailure = attempts();

    // Re-checks and sweeps with nothing changed in Partner Center leave it alone.
    for (let i = 0; i < 3; i++) {
      await h.engine.reconcileOnce();
      await h.engine.drain({ timeoutMs: 500 });
    }
    expect(attempts()).toBe(afterFailure);
    const page = await h.store.listRuns({ failed: true, limit: 50 });
    expect(page.runs.filter((r) => r.referralId === id)).toHaveLength(1);

    // The admin fixes the org; the Microsoft seller's next edit brings the referral in.
    await h.desk.clearFaults();
    await pc.editAsMicrosoft(id, { details: { notes: 'Please call the customer.' } });
    const deal = (await until(() => dealOf(id), 10_000, 'the opportunity after the fix')) as Deal;
    expect(deal.notes).toBe('Please call the customer.');
  });

  it('R25 R12 a co-sell failing on every re-check keeps one failed job row, not one per attempt', async () => {
    const { opportunityId } = await h.desk.opportunity({ country: null });
    const link = (await until(
      async () => {
        const l = await h.store.linkByCrm(crm, opportunityId);
        return l && (await h.store.getSnapshot(l.id))?.error ? l : null;
      },
      10_000,
      'the refused co-sell',
    )) as Link;
    for (let i = 0; i < 6; i++) {
      expect(await h.engine.reconcileOnce()).toBeGreaterThanOrEqual(1);
      await h.engine.drain({ timeoutMs: 2_000 });
    }
    expect(runs.filter((r) => r.linkId === link.id && r.outcome === 'failed').length).toBeGreaterThanOrEqual(
      6,
    );
    const jobs = await h.store.listJobs({ linkId: link.id, limit: 100 });
    expect(jobs.filter((j) => j.state === 'failed' || j.state === 'dead')).toHaveLength(1);
    // Besides that row, at most the running service's own pending and running job for the link: the rows do
    // not grow with the six attempts.
    expect(jobs.length).toBeLessThanOrEqual(3);
  });
});
