// CRM -> Partner Center through the real engine, on Salesforce and on Dynamics 365: a seller's opportunity in
// the CRM emulator (control API = the CRM's UI, not API calls) becomes a referral in the Partner Center
// emulator; edits, closing (Dynamics: Win/LoseOpportunity), validation failures and their fixes; and our own
// writes cost no further writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { control } from '../../src/cli/demo-story.ts';
import type { Referral } from '../../src/core/referral.ts';
import { CURSORS } from '../../src/engine/intake.ts';
import type { Run } from '../../src/store/store.ts';
import { until } from '../helpers/until.ts';
import type { CrmDesk, SellerFields } from './crm-desk.ts';
import { CRMS, countOf, crmControl, type Harness, pcControl, startHarness } from './engine-harness.ts';

describe.each(CRMS)('$crm -> Partner Center (engine over HTTP)', ({ crm }) => {
  let h: Harness;
  let pc: ReturnType<typeof pcControl>;
  let seller: CrmDesk;
  const runs: Run[] = [];

  beforeAll(async () => {
    h = await startHarness(undefined, { crm });
    pc = pcControl(h);
    seller = h.desk;
    h.engine.events.on('run', (run: Run) => runs.push(run));
    await h.engine.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  const opportunity = (id: string) => seller.read(id);
  const referralsFor = async (opportunityId: string) =>
    (await pc.all()).filter((r) => r.externalReferenceId === opportunityId && r.direction === 'Outgoing');

  async function sharedReferral(opportunityId: string): Promise<Referral> {
    const referralId = (await until(
      async () => (await opportunity(opportunityId)).referralId,
      10_000,
      'the Referral Identifier written back',
    )) as string;
    return pc.referral(referralId);
  }

  /** Microsoft's own referral in the engagement of one of ours (the emulator opens it for a co-sell). */
  const microsoftSideOf = (referral: Referral) =>
    until(
      async () =>
        (await pc.all()).find((r) => r.engagementId === referral.engagementId && r.id !== referral.id),
      5_000,
      "Microsoft's side of the engagement",
    );

  it('R10 R19 R20 a shared co-sell opportunity becomes a referral within seconds; identifiers, ✔ and one audit line come back', async () => {
    const started = Date.now();
    const { opportunityId } = await seller.opportunity({});
    const referral = await sharedReferral(opportunityId);
    const latencyMs = Date.now() - started;
    console.info(`[measure] CRM->PC new opportunity latency: ${latencyMs} ms`);
    expect(latencyMs).toBeLessThan(5_000);

    expect(referral).toMatchObject({
      name: 'Northwind migration 1',
      externalReferenceId: opportunityId,
      direction: 'Outgoing',
      status: 'Active',
      substatus: 'Accepted',
      consent: { consentToShareReferralWithMicrosoftSellers: true },
      details: { dealValue: 120_000, currency: 'USD', notes: 'Move 200 VMs to Azure.' },
      inviteContext: { assistanceRequestCode: 'ProofOfConceptOrDemo' },
      customerProfile: { name: 'Northwind 1', address: { country: 'US', postalCode: '98101' } },
    });
    expect(referral.details?.closingDateTime?.slice(0, 10)).toBe('2027-06-30');
    expect(referral.details?.requirements?.solutions?.map((s) => s.id)).toEqual(['SOL-34104-EBB']);
    expect(referral.customerProfile?.team?.map((m) => m.email)).toEqual(['nancy1@northwind.example']);

    const opp = await opportunity(opportunityId);
    expect(opp.name).toBe('Northwind migration 1 ✔');
    expect(String(opp.referralLink)).toContain(String(referral.id));
    // Partner Center made the co-sell referral visible to Microsoft sellers; the CRM follows (R14).
    expect(opp.visibleToMicrosoft).toBe(true);
    const audit = await seller.auditLines(opportunityId);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatch(/CRM->PC: created referral/);
    expect(await referralsFor(opportunityId)).toHaveLength(1);

    const created = runs.find((r) => r.crmId === opportunityId && r.outcome === 'changed');
    console.info(`[measure] CRM->PC create API calls: ${JSON.stringify(created?.apiCalls)}`);
  });

  it('R13 R19 deal value, close date, notes and solutions edits update the referral; one audit line per sync', async () => {
    const { opportunityId } = await seller.opportunity({});
    const referral = await sharedReferral(opportunityId);
    const id = String(referral.id);
    const pcBefore = await pc.calls();
    await seller.edit(opportunityId, { value: 150_000, closeDate: '2027-09-30', notes: 'Now 300 VMs.' });
    const updated = await until(
      async () => {
        const r = await pc.referral(id);
        return r.details?.dealValue === 150_000 && r.details.notes === 'Now 300 VMs.' ? r : null;
      },
      10_000,
      'the edited deal value and notes',
    );
    expect(updated.details?.closingDateTime?.slice(0, 10)).toBe('2027-09-30');
    const pcAfter = await pc.calls();
    // One PATCH carries all three fields.
    expect(countOf(pcAfter, 'PATCH') - countOf(pcBefore, 'PATCH')).toBe(1);
    const audit = await until(
      async () =>
        (await seller.auditLines(opportunityId)).length === 2 ? seller.auditLines(opportunityId) : null,
      5_000,
      'the audit line',
    );
    expect(audit[1]).toMatch(
      /CRM->PC: deal value 120000 -> 150000; close date 2027-06-30 -> 2027-09-30; notes/,
    );
    const edit = runs.find(
      (r) =>
        r.crmId === opportunityId &&
        r.diff.some((d) => d.field === 'dealValue' && d.change === 'changedInCrm' && d.before !== undefined),
    );
    console.info(`[measure] CRM->PC update API calls: ${JSON.stringify(edit?.apiCalls)}`);

    await seller.addSolution(opportunityId, 'SOL-55555-AZR');
    await until(
      async () => (await pc.referral(id)).details?.requirements?.solutions?.length === 2,
      10_000,
      'the added solution on the referral',
    );
  });

  it('R11 a renamed opportunity gets an audit line, not a silent drop; the referral keeps its name', async () => {
    const { opportunityId } = await seller.opportunity({});
    const referral = await sharedReferral(opportunityId);
    await seller.edit(opportunityId, { name: 'Renamed by the seller ✔' });
    const audit = await until(
      async () => {
        const lines = await seller.auditLines(opportunityId);
        return lines.length === 2 ? lines : null;
      },
      10_000,
      'the create-only audit line',
    );
    expect(audit[1]).toMatch(/only accepts it when the referral is created/);
    expect((await pc.referral(String(referral.id))).name).toBe(referral.name);
  });

  it("R14 R11 a private referral becomes visible when the seller ticks Visibility; once visible, un-ticking is refused (by the CRM's own rule, or by cosell with ✖ and an audit line) and the referral stays visible", async () => {
    const { opportunityId } = await seller.opportunity({ sync: false });
    // Not co-sell: no help asked, so the referral is created private.
    await seller.edit(opportunityId, { assistance: null, visible: false, sync: true });
    const referral = await sharedReferral(opportunityId);
    const id = String(referral.id);
    await until(
      async () => (await pc.referral(id)).consent?.consentToShareReferralWithMicrosoftSellers === false,
      10_000,
      'the private referral',
    );

    await seller.edit(opportunityId, { visible: true });
    await until(
      async () => (await pc.referral(id)).consent?.consentToShareReferralWithMicrosoftSellers === true,
      10_000,
      'the referral made visible',
    );
    await until(async () => (await opportunity(opportunityId)).name.endsWith('✔'), 10_000, 'the ✔');

    // Dynamics 365 ships a rule that refuses the edit in the CRM itself; Salesforce takes it, and cosell refuses
    // to send it.
    const taken = await seller.edit(opportunityId, { visible: false }).then(
      () => true,
      (error: unknown) => {
        expect(String(error)).toMatch(/cannot be made invisible again/);
        return false;
      },
    );
    expect(taken).toBe(crm === 'salesforce');
    if (taken) {
      const refused = await until(
        async () => {
          const o = await opportunity(opportunityId);
          return o.name.endsWith('✖') ? o : null;
        },
        10_000,
        'the ✖ of the refused un-share',
      );
      expect(String(refused.audit).split('\n').at(-1)).toMatch(/cannot be made private again/);
      // Ticking it again is the fix: ✔ comes back.
      await seller.edit(opportunityId, { visible: true });
      await until(async () => (await opportunity(opportunityId)).name.endsWith('✔'), 10_000, 'the ✔ again');
    }
    expect((await pc.referral(id)).consent?.consentToShareReferralWithMicrosoftSellers).toBe(true);
  });

  it('R11 R7 a private referral becomes co-sell when the seller picks "How can Microsoft help?": shared with Microsoft sellers and Microsoft invited through its engagement (no PATCH of the help), one audit line; Microsoft accepting fills the Microsoft CRM identifier', async () => {
    const { opportunityId } = await seller.opportunity({ sync: false });
    await seller.edit(opportunityId, { assistance: null, visible: false, sync: true });
    const referral = await sharedReferral(opportunityId);
    const id = String(referral.id);
    expect(referral.consent?.consentToShareReferralWithMicrosoftSellers).toBe(false);
    await until(async () => (await opportunity(opportunityId)).name.endsWith('✔'), 10_000, 'the ✔');

    await seller.edit(opportunityId, { assistance: 'CustomerTechnicalArchitecture' });
    const microsoftSide = await until(
      async () =>
        (await pc.all()).find(
          (r) => r.engagementId === referral.engagementId && r.id !== referral.id && r.status === 'New',
        ),
      10_000,
      "Microsoft's referral in the engagement",
    );
    expect(microsoftSide).toMatchObject({
      target: [{ type: 'BusinessProfileLocation', id: 'msft' }],
      inviteContext: { assistanceRequestCode: 'CustomerTechnicalArchitecture' },
      customerProfile: { name: referral.customerProfile?.name },
    });
    const own = await pc.referral(id);
    expect(own.consent?.consentToShareReferralWithMicrosoftSellers).toBe(true);
    expect(own.name).toBe(referral.name);
    const converted = await until(
      async () => {
        const o = await opportunity(opportunityId);
        return o.visibleToMicrosoft === true && o.name.endsWith('✔') ? o : null;
      },
      10_000,
      'the CRM showing the referral visible',
    );
    const lines = await seller.auditLines(opportunityId);
    expect(lines.filter((l) => /is now co-sell/.test(l))).toHaveLength(1);
    expect(lines.at(-1)).toMatch(/How can Microsoft help\? \(none\) -> Customer technical architecture/);
    expect(String(converted.audit)).not.toMatch(/only accepts it when the referral is created/);
    expect(await referralsFor(opportunityId)).toHaveLength(1);

    const accepted = await pc.accept(String(microsoftSide.id));
    const msx = accepted.trackingInfo?.microsoftMsxId;
    await until(
      async () => (await opportunity(opportunityId)).microsoftCrmId === msx,
      10_000,
      'the Microsoft CRM identifier',
    );
    // One invitation only: the conversion is not repeated by later syncs.
    const engagement = (await pc.all()).filter((r) => r.engagementId === referral.engagementId);
    expect(engagement).toHaveLength(2);
  });

  it('R11 R12 a private referral missing a customer contact is not made co-sell: ✖ and an audit line naming the fix; nothing changes in Partner Center', async () => {
    const { opportunityId } = await seller.opportunity({ sync: false, contact: false });
    await seller.edit(opportunityId, { assistance: null, visible: false, sync: true });
    const referral = await sharedReferral(opportunityId);
    await until(async () => (await opportunity(opportunityId)).name.endsWith('✔'), 10_000, 'the ✔');

    await seller.edit(opportunityId, { assistance: 'QuotesOrLicensing' });
    const refused = await until(
      async () => {
        const o = await opportunity(opportunityId);
        return o.name.endsWith('✖') ? o : null;
      },
      10_000,
      'the ✖ of the refused conversion',
    );
    expect(String(refused.audit).split('\n').at(-1)).toMatch(/To make this referral co-sell: .*contact/);
    const own = await pc.referral(String(referral.id));
    expect(own.consent?.consentToShareReferralWithMicrosoftSellers).toBe(false);
    expect((await pc.all()).filter((r) => r.engagementId === referral.engagementId)).toHaveLength(1);
  });

  it("R11 R12 a Services co-sell needs partner role, solution area and play from Microsoft's list of the year: an unknown play is stopped with ✖ and the allowed plays; fixed, the referral carries them as Partner Center spells them", async () => {
    const { opportunityId } = await seller.opportunity({ sync: false });
    await seller.edit(opportunityId, {
      partnerRole: 'implementation',
      solutionArea: 'Security',
      solutionPlay: 'Secure the mainframe',
      sync: true,
    });
    const refused = await until(
      async () => {
        const o = await opportunity(opportunityId);
        return o.name.endsWith('✖') ? o : null;
      },
      10_000,
      'the ✖ of the unknown solution play',
    );
    const line = String(refused.audit).split('\n').at(-1);
    expect(line).toMatch(/Solution play 'Secure the mainframe' is not in Microsoft's FY26 list in Security/);
    expect(line).toMatch(/Data security/);
    expect(await referralsFor(opportunityId)).toHaveLength(0);

    await seller.edit(opportunityId, { solutionPlay: 'data security' });
    const referral = await sharedReferral(opportunityId);
    const attributes = referral.details?.requirements?.additionalRequirements?.attributes ?? [];
    expect(attributes).toEqual(
      expect.arrayContaining([
        { type: 'PartnerRole', id: 'Implementation' },
        { type: 'SolutionArea', id: 'Security' },
        { type: 'SolutionPlay', id: 'Data security' },
      ]),
    );
    await until(async () => (await opportunity(opportunityId)).name.endsWith('✔'), 10_000, 'the ✔');
  });

  it('R13 R17 Closed Won closes the referral Won; a later edit is reported, not sent', async () => {
    const { opportunityId } = await seller.opportunity({});
    const referral = await sharedReferral(opportunityId);
    await seller.win(opportunityId);
    await until(
      async () => (await pc.referral(String(referral.id))).substatus === 'Won',
      10_000,
      'Closed/Won',
    );
    expect((await pc.referral(String(referral.id))).status).toBe('Closed');

    await seller.edit(opportunityId, { value: 1 });
    const opp = await until(
      async () => {
        const o = await opportunity(opportunityId);
        return o.name.endsWith('✖') ? o : null;
      },
      10_000,
      'the ✖ for a change to a closed referral',
    );
    expect(String(opp.audit)).toMatch(/is closed .* accepts no further changes/);
    expect((await pc.referral(String(referral.id))).details?.dealValue).toBe(120_000);
  });

  it('R13 Closed Lost closes the referral Lost', async () => {
    const { opportunityId } = await seller.opportunity({});
    const referral = await sharedReferral(opportunityId);
    await seller.lose(opportunityId);
    await until(
      async () => (await pc.referral(String(referral.id))).substatus === 'Lost',
      10_000,
      'Closed/Lost',
    );
  });

  it('R7 Microsoft accepting its side of the co-sell fills the Microsoft CRM identifier', async () => {
    const { opportunityId } = await seller.opportunity({});
    const referral = await sharedReferral(opportunityId);
    const microsoftSide = await microsoftSideOf(referral);
    const accepted = await pc.accept(String(microsoftSide.id));
    const msx = accepted.trackingInfo?.microsoftMsxId;
    expect(msx).toBeTruthy();
    await until(
      async () => (await opportunity(opportunityId)).microsoftCrmId === msx,
      10_000,
      'the Microsoft CRM identifier',
    );
    await until(
      async () => (await seller.auditLines(opportunityId)).some((l) => /Microsoft accepted its side/.test(l)),
      10_000,
      'the accept on the record',
    );
  });

  it("R7 Microsoft declining its side of the co-sell is shown on the record once, with Microsoft's reason", async () => {
    const { opportunityId } = await seller.opportunity({});
    const referral = await sharedReferral(opportunityId);
    const microsoftSide = await microsoftSideOf(referral);
    await control(h.pc.info.control, 'POST', `/referrals/${microsoftSide.id}/decline`, {
      statusReason: 'Customer already covered by another partner',
    });
    const lines = await until(
      async () => {
        const all = await seller.auditLines(opportunityId);
        return all.some((l) => /Microsoft declined its side/.test(l)) ? all : null;
      },
      10_000,
      'the decline on the record',
    );
    const declined = lines.filter((l) => /Microsoft declined its side/.test(l));
    expect(declined).toHaveLength(1);
    expect(declined[0]).toMatch(
      /PC->CRM: Microsoft declined its side of the co-sell \(Customer already covered by another partner\)/,
    );
    // Our referral is untouched: it stays the partner's.
    expect((await pc.referral(String(referral.id))).status).toBe('Active');
    expect((await opportunity(opportunityId)).name).toMatch(/✔$/);
  });

  it("R7 R26 after a restart, the reconcile sweep queues no job for a version of Microsoft's side already handled", async () => {
    const { opportunityId } = await seller.opportunity({});
    const referral = await sharedReferral(opportunityId);
    const microsoftSide = await microsoftSideOf(referral);
    const msx = (await pc.accept(String(microsoftSide.id))).trackingInfo?.microsoftMsxId;
    await until(
      async () => (await opportunity(opportunityId)).microsoftCrmId === msx,
      10_000,
      'the accept synced',
    );
    const link = (await h.store.linkByReferral(String(referral.id)))!;
    // The co-sell's webhooks and echoes settled: the link's jobs all finished and no new one for a round.
    let seen = -1;
    const jobsBefore = await until(
      async () => {
        await h.engine.drain();
        const jobs = await h.store.listJobs({ linkId: link.id, limit: 1_000 });
        const settled = jobs.length === seen && jobs.every((j) => j.state === 'succeeded');
        seen = jobs.length;
        return settled ? jobs.length : null;
      },
      10_000,
      "the co-sell's jobs settled",
    );
    // A new process on the same store: nothing in memory. Microsoft's side is inside the sweep's overlap window.
    const restarted = await h.newEngine();
    await restarted.engine.reconcileOnce();
    expect((await restarted.store.listJobs({ linkId: link.id, limit: 1_000 })).length).toBe(jobsBefore);
  });

  it('R10 R26 after a restart, a change the CRM feed lists again queues no job once synced; a new edit still does', async () => {
    const { opportunityId } = await seller.opportunity({});
    const referral = await sharedReferral(opportunityId);
    const link = (await h.store.linkByReferral(String(referral.id)))!;
    // Let the webhooks of the new co-sell and the sync's own writes (back through the feed) settle: the link's
    // jobs all finished and no new one for a round.
    const jobsOfLink = () => h.store.listJobs({ linkId: link.id, limit: 1_000 });
    let seen = -1;
    const jobsBefore = await until(
      async () => {
        await h.engine.drain();
        await h.engine.pollCrmOnce();
        await h.engine.drain();
        const jobs = await jobsOfLink();
        // Synced means the last sync recorded the version it read: on Salesforce only once its stamp's second
        // was over (crm-version.ts), which the feed's second look at the change brings.
        const recorded = (await h.store.getSnapshot(link.id))?.crmVersion != null;
        const settled = recorded && jobs.length === seen && jobs.every((j) => j.state === 'succeeded');
        seen = jobs.length;
        return settled ? jobs.length : null;
      },
      10_000,
      "the co-sell's jobs settled",
    );

    // A new process on the same store: nothing in memory. The feed lists the opportunity again (Salesforce's
    // overlap window after any restart; Dataverse's full read after an expired delta token, forced here).
    const restarted = await h.newEngine();
    await restarted.store.setCursor(CURSORS.crmChangeFeed, '');
    await restarted.engine.pollCrmOnce();
    expect((await restarted.store.listJobs({ linkId: link.id, limit: 1_000 })).length).toBe(jobsBefore);

    await seller.edit(opportunityId, { notes: 'Edited after the restart.' });
    await until(
      async () => (await restarted.engine.pollCrmOnce()) > 0,
      10_000,
      'the edit listed by the feed',
    );
    // (The first engine, still running on the same store, may queue the edit too.)
    expect((await restarted.store.listJobs({ linkId: link.id, limit: 1_000 })).length).toBeGreaterThan(
      jobsBefore,
    );
  });

  it('R12 R20 a co-sell without contact, solution or two-letter country is never sent: ✖ and one audit line naming the fix; fixing only the account country flips it to ✔', async () => {
    const pcBefore = await pc.calls();
    const { opportunityId, accountId, contactId } = await seller.opportunity({
      country: 'Narnia',
      contact: false,
      solution: false,
    });
    const failed = await until(
      async () => {
        const o = await opportunity(opportunityId);
        return o.name.endsWith('✖') ? o : null;
      },
      10_000,
      'the ✖',
    );
    const lines = String(failed.audit).split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/CRM->PC ✖/);
    expect(lines[0]).toMatch(/Solution ID is required/);
    expect(lines[0]).toMatch(/add a customer contact/);
    expect(lines[0]).toMatch(/'Narnia' is not a two-letter ISO 3166 code/);
    expect(failed.referralId).toBeNull();

    // Echoes and re-checks of an unchanged error write nothing (R19).
    await h.engine.reconcileOnce();
    await h.engine.drain();
    expect(await seller.auditLines(opportunityId)).toHaveLength(1);

    // The seller adds the contact and the solution: a new error state (one more line each time it
    // changes), still ✖, now naming only the country.
    await seller.addContact(opportunityId, contactId);
    await seller.addSolution(opportunityId, 'SOL-34104-EBB');
    const narrowed = await until(
      async () => {
        const l = await seller.auditLines(opportunityId);
        const last = l[l.length - 1] ?? '';
        return !/Solution ID|customer contact/.test(last) && /Narnia/.test(last) ? l : null;
      },
      10_000,
      'the narrowed error',
    );
    expect(narrowed.length).toBeLessThanOrEqual(3);

    // Nothing was sent to Partner Center so far.
    const pcMid = await pc.calls();
    expect(
      countOf(pcMid, 'POST /v1.0/engagements/referrals') -
        countOf(pcBefore, 'POST /v1.0/engagements/referrals'),
    ).toBe(0);
    expect(await referralsFor(opportunityId)).toHaveLength(0);

    // Only the account changes; the opportunity is not touched by the seller.
    await seller.editAccountCountry(accountId, 'US');
    const referral = await sharedReferral(opportunityId);
    expect(referral.customerProfile?.address?.country).toBe('US');
    const fixed = await opportunity(opportunityId);
    expect(fixed.name.endsWith('✔')).toBe(true);
    const final = String(fixed.audit).split('\n');
    expect(final).toHaveLength(narrowed.length + 1);
    expect(final[final.length - 1]).toMatch(/CRM->PC: created referral/);
  });

  it('R12 R20 implausible values are stopped before Partner Center: a negative deal value, a close date in 1900, a control character in the notes; each named with its fix, and the corrected deal syncs', async () => {
    const { opportunityId } = await seller.opportunity();
    const referral = await sharedReferral(opportunityId);
    const id = String(referral.id);
    await until(async () => (await opportunity(opportunityId)).name.endsWith('✔'), 5_000, 'the ✔');
    const patches = countOf(await pc.calls(), 'PATCH /v1.0/engagements/referrals');

    const cases: [SellerFields, RegExp][] = [
      [{ value: -5_000 }, /The deal value -5000 of deal 'Northwind migration \d+' is negative/],
      [
        { value: 120_000, closeDate: '1900-01-01' },
        /The close date 1900-01-01 of deal .* is outside 2000-01-01 to/,
      ],
      [
        { closeDate: '2027-06-30', notes: 'Pasted \u0007 from a terminal' },
        /control character \(U\+0007 at position 8\)/,
      ],
    ];
    for (const [edit, message] of cases) {
      const before = (await seller.auditLines(opportunityId)).length;
      await seller.edit(opportunityId, edit);
      await until(
        async () => (await seller.auditLines(opportunityId)).length > before,
        10_000,
        `the audit line for ${JSON.stringify(edit)}`,
      );
      const last = (await seller.auditLines(opportunityId)).at(-1)!;
      expect(last).toMatch(/CRM->PC ✖/);
      expect(last).toMatch(message);
      expect((await opportunity(opportunityId)).name).toMatch(/✖$/);
    }
    // Nothing implausible reached Microsoft.
    expect(countOf(await pc.calls(), 'PATCH /v1.0/engagements/referrals')).toBe(patches);
    expect((await pc.referral(id)).details?.dealValue).toBe(120_000);

    await seller.edit(opportunityId, { notes: 'Pasted as plain text', value: 99_000.5 });
    await until(
      async () => Number((await pc.referral(id)).details?.dealValue) === 99_000.5,
      10_000,
      'the fix',
    );
    await until(async () => (await opportunity(opportunityId)).name.endsWith('✔'), 5_000, 'the ✔ again');
  });

  it('R31 un-ticking Sync stops the sync (link kept, one audit line); deleting the record leaves the referral as an orphan', async () => {
    const { opportunityId } = await seller.opportunity({});
    const referral = await sharedReferral(opportunityId);
    const id = String(referral.id);
    await seller.edit(opportunityId, { sync: false });
    const lines = await until(
      async () => {
        const all = await seller.auditLines(opportunityId);
        return all.some((l) => /Sync with Partner Center unticked/.test(l)) ? all : null;
      },
      10_000,
      'the un-share audit line',
    );
    expect(lines.filter((l) => /unticked/.test(l))).toHaveLength(1);
    expect((await opportunity(opportunityId)).name).not.toMatch(/[✔✖]$/);
    expect(await h.store.linkByReferral(id)).toMatchObject({ state: 'unshared', crmId: opportunityId });

    // Edits while un-shared stay in the CRM.
    const patches = countOf(await pc.calls(), 'PATCH /v1.0/engagements/referrals');
    const since = new Date();
    await seller.edit(opportunityId, { notes: 'Private note' });
    await until(
      async () => runs.some((r) => r.crmId === opportunityId && r.startedAt >= since),
      10_000,
      'a run of the edited record',
    );
    expect(countOf(await pc.calls(), 'PATCH /v1.0/engagements/referrals')).toBe(patches);
    expect((await pc.referral(id)).details?.notes).toBe('Move 200 VMs to Azure.');

    // Deleted in the CRM: a referral cannot be deleted, so the link is kept as an orphan.
    await seller.edit(opportunityId, { sync: true });
    await until(async () => (await h.store.linkByReferral(id))?.state === 'active', 10_000, 'shared again');
    await seller.remove(opportunityId);
    await until(
      async () => (await h.store.linkByReferral(id))?.state === 'orphaned',
      10_000,
      'the orphaned link',
    );
    expect((await pc.referral(id)).status).toBe('Active');
  });

  it("R32 an opportunity that already carries a Referral Identifier (the Power Automate connector's) is adopted: linked, no second referral", async () => {
    // A referral the old connector created, seeded without events, and the record it wrote the identifier on.
    const [referralId] = (
      await control<{ ids: string[] }>(h.pc.info.control, 'POST', '/seed', {
        referrals: [
          {
            name: 'Migrated deal',
            direction: 'Outgoing',
            details: { dealValue: 42_000, currency: 'USD', closingDateTime: '2027-06-30T00:00:00Z' },
          },
        ],
      })
    ).ids as [string];
    const before = (await pc.all()).length;
    const accountId = await seller.createAccount({
      name: 'Migrated Ltd',
      postalCode: '98101',
      country: 'US',
    });
    const migrated = await seller.createOpportunity(accountId, {
      name: 'Migrated deal',
      closeDate: '2027-06-30',
      value: 42_000,
      currency: 'USD',
      sync: true,
      referralId,
    });
    const link = await until(
      async () => {
        const found = await h.store.linkByCrm(crm, migrated);
        return found?.referralId ? found : null;
      },
      10_000,
      'the migrated record linked',
    );
    expect(link.referralId).toBe(referralId);
    expect((await pc.all()).length).toBe(before);
    expect(await seller.withReferral(referralId)).toEqual([migrated]);
  });

  it('R26 offline with every webhook dropped: on restart the sweep and the change feed catch up on both sides, nobody touching a record', async () => {
    const { opportunityId } = await seller.opportunity({});
    const referral = await sharedReferral(opportunityId);
    const id = String(referral.id);
    await until(
      async () => (await h.store.listJobs({ state: ['pending', 'running'] })).length === 0,
      10_000,
      'quiet',
    );
    await h.engine.stop();
    await pc.behaviour({ mode: 'drop', count: 1_000 });
    try {
      // While cosell is down: Microsoft edits the referral and sends a new one; the seller edits the deal.
      await pc.editAsMicrosoft(id, { details: { notes: 'Microsoft: budget approved' } });
      const sent = await pc.sendIncoming({
        name: 'Sent while cosell was down',
        status: 'Active',
        substatus: 'Accepted',
      });
      await seller.edit(opportunityId, { value: 175_000 });

      const { engine } = await h.newEngine();
      await engine.start();
      try {
        await until(
          async () => (await opportunity(opportunityId)).notes === 'Microsoft: budget approved',
          15_000,
          "Microsoft's edit in the CRM",
        );
        await until(
          async () => (await pc.referral(id)).details?.dealValue === 175_000,
          15_000,
          "the seller's edit in Partner Center",
        );
        await until(
          async () => (await seller.withReferral(String(sent.id))).length === 1,
          15_000,
          'the referral sent while cosell was down',
        );
        expect(await referralsFor(opportunityId)).toHaveLength(1);
      } finally {
        await engine.stop();
      }
    } finally {
      await pc.behaviour({ mode: 'normal' });
      await h.engine.start();
    }
  });

  it('R19 our own writes cause zero further API writes over an idle window', async () => {
    const { opportunityId } = await seller.opportunity({});
    await sharedReferral(opportunityId);
    const settledAudit = await seller.auditLines(opportunityId);
    // Let every echo (webhooks of our PATCHes, change-feed hints of our CRM writes) play out, then measure.
    await until(
      async () => (await h.store.listJobs({ state: ['pending', 'running'] })).length === 0,
      10_000,
      'quiet',
    );
    await h.engine.stop();
    await h.engine.drain();
    const stamps = async () => {
      const rows = await seller.snapshot();
      const referrals = await pc.all();
      return JSON.stringify({ rows, referrals: referrals.map((r) => [r.id, r.eTag]) });
    };
    const stateBefore = await stamps();
    const pcBefore = await pc.calls();
    const crmBefore = await crmControl(h).calls();
    for (let cycle = 0; cycle < 3; cycle++) {
      await h.engine.pollCrmOnce();
      await h.engine.reconcileOnce();
      await h.engine.drain();
    }
    const pcAfter = await pc.calls();
    const crmAfter = await crmControl(h).calls();
    const pcWrites = ['POST /v1.0', 'PATCH /v1.0', 'PUT /v1.0'].map(
      (p) => countOf(pcAfter, p) - countOf(pcBefore, p),
    );
    expect(pcWrites).toEqual([0, 0, 0]);
    // Writes by endpoint; composite and $batch POSTs carry the reads, and the snapshot below shows they wrote
    // nothing.
    const writes = Object.entries(crmAfter.byEndpoint)
      .filter(([key]) => /^(PATCH|DELETE|PUT) |^POST (?!.*(composite|\$batch))/.test(key))
      .filter(([key, n]) => n !== (crmBefore.byEndpoint[key] ?? 0));
    expect(writes).toEqual([]);
    expect(await stamps()).toBe(stateBefore);
    expect(await seller.auditLines(opportunityId)).toEqual(settledAudit);
    console.info(
      `[measure] idle window (3 poll+reconcile+drain cycles): Partner Center reads ${countOf(pcAfter, 'GET /v1.0') - countOf(pcBefore, 'GET /v1.0')}, ${crm} calls ${crmAfter.apiCalls - crmBefore.apiCalls}, writes 0`,
    );
  });
});
