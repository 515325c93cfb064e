// Incoming referrals on Salesforce and on Dynamics 365 (R8): a Microsoft seller's referral arrives New/Pending
// and waits in the CRM's on-hold stage; the seller answers it there. Leaving on-hold accepts it in Partner
// Center, closing it lost declines it, and edits made while it waits do not reach Microsoft before the answer.
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MICROSOFT_ORGANIZATION_ID } from '../../src/core/cosell-rules.ts';
import type { Deal } from '../../src/core/deal.ts';
import { until } from '../helpers/until.ts';
import { CRMS, countOf, type Harness, pcControl, startHarness } from './engine-harness.ts';

const PATCHES = 'PATCH /v1.0/engagements/referrals';

describe.each(CRMS)('incoming referrals on $crm (engine over HTTP)', ({ crm }) => {
  let h: Harness;
  let pc: ReturnType<typeof pcControl>;

  beforeAll(async () => {
    h = await startHarness(undefined, { crm });
    pc = pcControl(h);
    await h.engine.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  const dealOf = (referralId: string) => h.crm.findDeal({ kind: 'opportunity', referralId });

  /** A referral from a Microsoft seller, once its opportunity exists and Partner Center names it. */
  async function incoming(name: string): Promise<{ id: string; deal: Deal }> {
    const referral = await pc.sendIncoming({ name, details: { dealValue: 20_000, currency: 'USD' } });
    const id = String(referral.id);
    const deal = (await until(() => dealOf(id), 10_000, 'the opportunity of the referral')) as Deal;
    await until(
      async () => (await pc.referral(id)).externalReferenceId === deal.id,
      5_000,
      'externalReferenceId',
    );
    return { id, deal };
  }

  /** Waits until the engine has looked at the link after `since` (a change-feed run of that record). */
  async function seenAfter(crmId: string, since: Date): Promise<void> {
    await until(
      async () =>
        (await h.store.listRuns({ since, limit: 500 })).runs.some(
          (r) => r.crmId === crmId && r.trigger !== 'partner-center-webhook',
        ),
      10_000,
      'a sync run of the edited record',
    );
  }

  it('R9 R11 a seller notes a lead from Microsoft: the note reaches the referral, and its deal value, close date and name stay as Microsoft sent them', async () => {
    const referral = await pc.sendIncoming({
      name: 'Proseware marketing lead',
      type: 'Independent',
      qualification: 'MarketingQualified',
      inviteContext: { invitedBy: { organizationId: MICROSOFT_ORGANIZATION_ID } },
      details: { dealValue: 42_000, currency: 'USD' },
    });
    const id = String(referral.id);
    const sent = await pc.referral(id);
    const lead = (await until(
      () => h.crm.findDeal({ kind: 'lead', referralId: id }),
      10_000,
      'the CRM lead of the referral',
    )) as Deal;
    await until(
      async () => (await h.store.listJobs({ state: ['pending', 'running'] })).length === 0,
      10_000,
      'no pending jobs',
    );

    await h.desk.noteLead(lead.id, 'Called the customer: budget confirmed.');
    await until(
      async () => (await pc.referral(id)).details?.notes === 'Called the customer: budget confirmed.',
      10_000,
      "the seller's note on the referral",
    );
    const after = await pc.referral(id);
    // Salesforce's lead has no amount, close date or deal name (the company stands in): it says nothing about them.
    expect(after.details?.dealValue).toBe(42_000);
    expect(after.details?.closingDateTime).toBe(sent.details?.closingDateTime);
    expect(after.name).toBe('Proseware marketing lead');
    expect((await h.desk.readLead(lead.id))?.audit.join('\n')).not.toMatch(/changed in the CRM/);
  });

  it('R9 a lead from Microsoft arrives as a CRM lead; the seller converts it and the new opportunity takes over the same referral (externalReferenceId, identifiers, one referral)', async () => {
    const referral = await pc.sendIncoming({
      name: 'Tailspin marketing lead',
      type: 'Independent',
      qualification: 'MarketingQualified',
      inviteContext: { invitedBy: { organizationId: MICROSOFT_ORGANIZATION_ID } },
    });
    const id = String(referral.id);
    const lead = (await until(
      () => h.crm.findDeal({ kind: 'lead', referralId: id }),
      10_000,
      'the CRM lead of the referral',
    )) as Deal;
    expect(lead.kind).toBe('lead');
    expect(await dealOf(id)).toBeNull();

    const opportunityId = await h.desk.convertLead(lead.id);
    await until(
      async () => (await pc.referral(id)).externalReferenceId === opportunityId,
      10_000,
      "the referral naming the lead's opportunity",
    );
    const opportunity = await until(
      async () => {
        const o = await h.desk.read(opportunityId);
        // Salesforce's lead conversion copies same-named custom fields: wait for cosell's own line.
        return o.referralId === id && o.referralLink && /converted to opportunity/.test(o.audit ?? '')
          ? o
          : null;
      },
      10_000,
      'the identifiers and the relink line on the new opportunity',
    );
    expect(opportunity.audit).toContain(`lead ${lead.id} converted to opportunity ${opportunityId}`);
    expect((await h.store.linkByReferral(id))?.crmId).toBe(opportunityId);
    // The change feed may still list the converted lead: it never pairs with the referral again.
    expect((await h.store.linkByCrm(crm, lead.id))?.referralId ?? null).toBeNull();
    // One referral in Partner Center for the whole story: the conversion never shared the opportunity again.
    expect((await pc.all()).filter((r) => r.externalReferenceId === opportunityId)).toHaveLength(1);
    await until(
      async () => (await h.desk.read(opportunityId)).name.endsWith('✔'),
      10_000,
      'the ✔ of the synced opportunity',
    );
    await until(
      async () => (await h.store.listJobs({ state: ['pending', 'running'] })).length === 0,
      10_000,
      'no pending jobs',
    );
    const failed = await h.store.listRuns({ referralId: id, failed: true });
    expect(failed.runs).toEqual([]);
  });

  it('R8 R4 an incoming referral waits on hold; edits there do not sync; leaving on-hold accepts it and sends the edits', async () => {
    const { id, deal } = await incoming('Northwind analytics');
    expect((await h.desk.read(deal.id)).onHold).toBe(true);
    expect(await pc.referral(id)).toMatchObject({ status: 'New', substatus: 'Pending' });

    const patches = countOf(await pc.calls(), PATCHES);
    const since = new Date();
    await h.desk.edit(deal.id, { notes: 'Seller note while on hold', value: 24_000 });
    await seenAfter(deal.id, since);
    expect(countOf(await pc.calls(), PATCHES)).toBe(patches);
    const waiting = await pc.referral(id);
    expect(waiting).toMatchObject({ status: 'New', substatus: 'Pending' });
    expect(Number(waiting.details?.dealValue)).toBe(20_000);

    await h.desk.accept(deal.id);
    const accepted = await until(
      async () => {
        const r = await pc.referral(id);
        return r.substatus === 'Accepted' ? r : null;
      },
      10_000,
      'the referral accepted in Partner Center',
    );
    expect(accepted.status).toBe('Active');
    expect(accepted.details?.notes).toBe('Seller note while on hold');
    expect(Number(accepted.details?.dealValue)).toBe(24_000);
    const audit = await until(
      async () => {
        const lines = await h.desk.auditLines(deal.id);
        return lines.length >= 2 ? lines : null;
      },
      10_000,
      'the accept audit line',
    );
    expect(audit.at(-1)).toMatch(/CRM->PC: .*status Pending -> Accepted/);
    expect(audit.at(-1)).toMatch(/deal value 20000 -> 24000/);
    expect((await h.desk.read(deal.id)).name).toMatch(/✔$/);
  });

  it('R8 R17 closing an incoming referral lost in the CRM declines it in Partner Center; later edits are refused, not retried', async () => {
    const { id, deal } = await incoming('Contoso kiosk refresh');
    await h.desk.lose(deal.id);
    await until(
      async () => (await pc.referral(id)).substatus === 'Declined',
      10_000,
      'the referral declined in Partner Center',
    );
    expect((await pc.referral(id)).status).toBe('Closed');
    const lines = await until(
      async () => {
        const all = await h.desk.auditLines(deal.id);
        return all.some((l) => /status Pending -> Declined/.test(l)) ? all : null;
      },
      10_000,
      'the decline audit line',
    );
    expect(lines.filter((l) => /Declined/.test(l))).toHaveLength(1);
  });

  it('R8 a referral accepted in Partner Center itself takes the opportunity out of on-hold', async () => {
    const { id, deal } = await incoming('Adatum security review');
    await pc.accept(id);
    await until(async () => !(await h.desk.read(deal.id)).onHold, 10_000, 'the opportunity off hold');
    const record = await h.desk.read(deal.id);
    expect(record.closed).toBe(false);
    expect((await h.desk.auditLines(deal.id)).at(-1)).toMatch(
      /PC->CRM: .*status Pending -> Accepted \(from Partner Center\)/,
    );
    // Now accepted, the seller's edits sync.
    await h.desk.edit(deal.id, { notes: 'Kick-off booked' });
    await until(
      async () => (await pc.referral(id)).details?.notes === 'Kick-off booked',
      10_000,
      'the edit synced after the accept',
    );
  });

  it("R29 the record of an incoming referral is owned by the CRM user with the partner team member's e-mail, else the default owner", async () => {
    const seller = await h.desk.seller();
    const matched = await pc.sendIncoming({
      name: 'Owned by the seller',
      team: [{ firstName: 'Sam', lastName: 'Seller', email: seller.email.toUpperCase() }],
    });
    const deal = (await until(() => dealOf(String(matched.id)), 10_000, 'the opportunity')) as Deal;
    expect((await h.desk.read(deal.id)).ownerId).toBe(seller.id);
    expect((await h.desk.auditLines(deal.id))[0]).toContain(`owner ${seller.email.toUpperCase()}`);

    // Nobody in the CRM has this e-mail: the configured default owner gets it, and the audit line says why.
    const { engine } = await h.newEngine({ settings: { defaultOwnerId: seller.id } });
    await h.engine.stop();
    await engine.start();
    try {
      const stranger = await pc.sendIncoming({
        name: 'Owned by the default owner',
        team: [{ firstName: 'Pat', lastName: 'Partner', email: 'pat@nowhere.example' }],
      });
      const other = (await until(() => dealOf(String(stranger.id)), 10_000, 'the opportunity')) as Deal;
      expect((await h.desk.read(other.id)).ownerId).toBe(seller.id);
      expect((await h.desk.auditLines(other.id))[0]).toContain(
        'owner: the default owner, as no CRM user has the e-mail of the partner team (pat@nowhere.example)',
      );
    } finally {
      await engine.stop();
      await h.engine.start();
    }
  });

  it('R30 the record shows the response deadline, warns once before it passes (audit line and notification), and closes when Partner Center expires the referral', async () => {
    const deadline = new Date(Date.now() + 2 * 24 * 3_600_000);
    const referral = await pc.sendIncoming({
      name: 'Wingtip renewal',
      expirationDateTime: deadline.toISOString(),
    });
    const id = String(referral.id);
    const deal = (await until(() => dealOf(id), 10_000, 'the opportunity')) as Deal;
    const shown = (await h.desk.read(deal.id)).responseDeadline;
    expect(Math.abs(Date.parse(String(shown)) - deadline.getTime())).toBeLessThan(1_000);
    // cosell reads it back too (dynamics-web-api hands date-times over as Date objects), so the dashboard shows
    // both sides equal and no sync mistakes it for a cleared field.
    expect(Math.abs(Date.parse(String(deal.responseDeadline)) - deadline.getTime())).toBeLessThan(1_000);

    // The sweep of a service whose warning window (3 days) holds the deadline, with a notification webhook.
    const notified: unknown[] = [];
    const hook = Fastify();
    hook.post('/notify', async (request) => {
      notified.push(request.body);
      return {};
    });
    const url = await hook.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { engine } = await h.newEngine({ settings: { expiry: { notifyUrl: `${url}/notify` } } });
      // The link's snapshot is saved right after the create: sweep until it is there.
      await until(async () => (await engine.warnExpiringOnce()) >= 1, 10_000, 'the warning');
      expect(await engine.warnExpiringOnce()).toBe(0);
    } finally {
      await hook.close();
    }
    const warnings = (await h.desk.auditLines(deal.id)).filter((l) => /expires this referral/.test(l));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/in about 4[78] h unless it is accepted .* or declined/);
    expect(notified).toContainEqual(
      expect.objectContaining({
        event: 'referral-expiring',
        referralId: id,
        crmId: deal.id,
        name: 'Wingtip renewal',
      }),
    );

    await pc.expire(id);
    await until(async () => (await h.desk.read(deal.id)).closed, 10_000, 'the opportunity closed');
    const record = await h.desk.read(deal.id);
    expect(record.responseDeadline).toBeNull();
    expect((await h.desk.auditLines(deal.id)).at(-1)).toMatch(
      /status Pending -> Expired \(from Partner Center\)/,
    );
  });
});
