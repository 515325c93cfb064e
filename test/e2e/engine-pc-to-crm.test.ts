// Partner Center -> CRM through the real engine, on Salesforce and on Dynamics 365: a Microsoft seller's
// referral (emulator control API) reaches cosell as a signed webhook, and the opportunity appears in the CRM
// emulator; later edits update only what changed; duplicated and reordered deliveries change nothing about the
// outcome.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deal } from '../../src/core/deal.ts';
import { until } from '../helpers/until.ts';
import { CRMS, type Harness, pcControl, startHarness } from './engine-harness.ts';

describe.each(CRMS)('Partner Center -> $crm (engine over HTTP)', ({ crm }) => {
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
  const opportunitiesWith = (referralId: string) => h.desk.withReferral(referralId);

  it("R4 R5 a Microsoft seller's referral becomes an opportunity within seconds with every field, matched account, contacts and solutions", async () => {
    // An existing customer account: matched by name + postal code, not duplicated (R5).
    const accountId = await h.desk.createAccount({
      name: 'Fabrikam, Inc.',
      postalCode: '98052',
      country: 'US',
    });
    const sent = Date.now();
    const referral = await pc.sendIncoming({
      name: 'Fabrikam data platform',
      details: {
        dealValue: 50_000,
        currency: 'USD',
        closingDateTime: '2027-03-31T00:00:00Z',
        notes: 'Customer wants a proof of concept.',
        requirements: { solutions: [{ id: 'SOL-34104-EBB', name: 'Contoso Analytics' }] },
      },
    });
    const id = String(referral.id);
    const deal = (await until(() => dealOf(id), 10_000, 'the opportunity of the referral')) as Deal;
    const latencyMs = Date.now() - sent;
    console.info(`[measure] PC->CRM new referral latency: ${latencyMs} ms`);
    expect(latencyMs).toBeLessThan(5_000);

    expect(deal).toMatchObject({
      kind: 'opportunity',
      name: 'Fabrikam data platform',
      mark: 'ok',
      syncWithPartnerCenter: true,
      referralId: id,
      value: 50_000,
      currency: 'USD',
      closeDate: '2027-03-31',
      notes: 'Customer wants a proof of concept.',
      assistance: 'GeneralOrOther',
      visibleToMicrosoft: true,
      microsoftCrmId: referral.trackingInfo?.microsoftMsxId,
    });
    expect(deal.referralLink).toContain(id);
    expect(deal.account?.id).toBe(accountId);
    expect(deal.contacts.map((c) => c.email)).toEqual(['dana@fabrikam.example']);
    expect(deal.solutions.map((s) => s.id)).toEqual(['SOL-34104-EBB']);
    const audit = (deal.audit ?? '').split('\n');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatch(/PC->CRM: created from referral/);

    // The referral names its CRM record (externalReferenceId), so a later event links, never re-creates.
    await until(
      async () => (await pc.referral(id)).externalReferenceId === deal.id,
      5_000,
      'externalReferenceId',
    );
    expect(await opportunitiesWith(id)).toHaveLength(1);
  });

  it('R5 a customer not in the CRM is created with its address and two-letter country', async () => {
    const referral = await pc.sendIncoming({
      name: 'Woodgrove expansion',
      customerProfile: {
        name: 'Woodgrove Bank',
        address: { addressLine1: '1 Bank St', city: 'London', postalCode: 'EC2V 7HH', country: 'GB' },
        team: [{ firstName: 'Wade', lastName: 'Wood', email: 'wade@woodgrove.example' }],
      },
      details: { dealValue: 90_000, currency: 'GBP' },
    });
    const deal = (await until(() => dealOf(String(referral.id)), 10_000, 'the opportunity')) as Deal;
    expect(deal.account).toMatchObject({
      name: 'Woodgrove Bank',
      address: { street: '1 Bank St', city: 'London', postalCode: 'EC2V 7HH', country: 'GB' },
    });
    expect(deal.currency).toBe('GBP');
  });

  it('R6 a later Partner Center edit updates only the field that changed, with one audit line', async () => {
    const referral = await pc.sendIncoming({
      name: 'Litware rollout',
      details: { dealValue: 10_000, currency: 'USD', notes: 'v1' },
    });
    const id = String(referral.id);
    const first = (await until(() => dealOf(id), 10_000, 'the opportunity')) as Deal;
    await until(
      async () => (await pc.referral(id)).externalReferenceId === first.id,
      5_000,
      'externalReferenceId',
    );
    const before = await h.desk.read(first.id);

    await pc.editAsMicrosoft(id, { details: { dealValue: 12_500 } });
    const updated = (await until(
      async () => {
        const d = await dealOf(id);
        return d?.value === 12_500 ? d : null;
      },
      10_000,
      'the new deal value',
    )) as Deal;
    const after = await h.desk.read(first.id);
    // Only the deal value and the audit trail moved; notes, name, close date and stage are as they were.
    for (const field of ['name', 'notes', 'closeDate', 'stage', 'currency', 'assistance'] as const) {
      expect(after[field], field).toEqual(before[field]);
    }
    const audit = (updated.audit ?? '').split('\n');
    expect(audit).toHaveLength(2);
    expect(audit[1]).toMatch(/deal value 10000 -> 12500/);
  });

  it('R5 R15 a contact Microsoft removes from the customer team is unlinked from the opportunity; one added is linked', async () => {
    const dana = { firstName: 'Dana', lastName: 'Fabrikam', email: 'dana@fabrikam.example' };
    const lee = { firstName: 'Lee', lastName: 'Fabrikam', email: 'lee@fabrikam.example' };
    const referral = await pc.sendIncoming({
      name: 'Fabrikam two contacts',
      status: 'Active',
      substatus: 'Accepted',
      customerProfile: {
        name: 'Fabrikam, Inc.',
        address: { addressLine1: '1 Way', city: 'Redmond', state: 'WA', postalCode: '98052', country: 'US' },
        team: [dana, lee],
      },
    });
    const id = String(referral.id);
    const emailsOf = async () => ((await dealOf(id))?.contacts ?? []).map((c) => c.email).sort();
    await until(async () => (await emailsOf()).length === 2, 10_000, 'both contacts on the opportunity');
    await until(
      async () => Boolean((await pc.referral(id)).externalReferenceId),
      5_000,
      'externalReferenceId',
    );

    const kim = { firstName: 'Kim', lastName: 'Fabrikam', email: 'kim@fabrikam.example' };
    await pc.editAsMicrosoft(id, { customerProfile: { team: [lee, kim] } });
    await until(
      async () => JSON.stringify(await emailsOf()) === JSON.stringify([kim.email, lee.email]),
      10_000,
      'Dana unlinked and Kim linked',
    );
    const deal = (await dealOf(id)) as Deal;
    expect((deal.audit ?? '').split('\n').at(-1)).toMatch(
      /PC->CRM: customer contacts kim@fabrikam\.example, lee@fabrikam\.example/,
    );
    // Partner Center keeps the team it has: nothing echoes back.
    expect(((await pc.referral(id)).customerProfile?.team ?? []).map((m) => m.email).sort()).toEqual([
      kim.email,
      lee.email,
    ]);
  });

  it("R4 R13 a referral without a close date gets one (arrival + 90 days) said in the audit line; the seller's change reaches Partner Center", async () => {
    const referral = await pc.sendIncoming({
      name: 'Undated expansion',
      status: 'Active',
      substatus: 'Accepted',
      details: { dealValue: 8_000, currency: 'USD', closingDateTime: null },
    });
    const id = String(referral.id);
    expect(referral.details?.closingDateTime ?? null).toBeNull();
    const deal = (await until(() => dealOf(id), 10_000, 'the opportunity')) as Deal;
    const expected = new Date(Date.now() + 90 * 86_400_000).toISOString().slice(0, 10);
    expect(deal.closeDate).toBe(expected);
    expect((await h.desk.auditLines(deal.id))[0]).toContain(
      `close date ${expected} set by cosell: the referral has none (engine.defaultCloseDays = 90)`,
    );
    await until(
      async () => (await pc.referral(id)).externalReferenceId === deal.id,
      5_000,
      'externalReferenceId',
    );
    // The default stays in the CRM: Partner Center is not told a date nobody chose.
    expect((await pc.referral(id)).details?.closingDateTime ?? null).toBeNull();

    await h.desk.edit(deal.id, { closeDate: '2027-06-30' });
    await until(
      async () => (await pc.referral(id)).details?.closingDateTime?.startsWith('2027-06-30') === true,
      10_000,
      "the seller's close date in Partner Center",
    );
    expect((await h.desk.read(deal.id)).closeDate).toBe('2027-06-30');
  });

  it('R2 duplicated and reordered webhooks give one record and the final state', async () => {
    await pc.behaviour({ mode: 'duplicate', count: 1 });
    const duplicated = await pc.sendIncoming({ name: 'Duplicate delivery deal' });
    const dupId = String(duplicated.id);
    await until(() => dealOf(dupId), 10_000, 'the duplicated referral opportunity');
    await until(
      () =>
        h.accepted.filter((a) => a.body.includes(dupId) && a.body.includes('referral-created')).length >= 2,
      5_000,
      'both deliveries',
    );
    expect(
      h.accepted
        .filter((a) => a.body.includes(dupId) && a.body.includes('referral-created'))
        .map((a) => a.duplicate),
    ).toEqual([false, true]);
    expect(await opportunitiesWith(dupId)).toHaveLength(1);

    // created, updated (notes), updated (deal value) arrive newest first.
    await pc.behaviour({ mode: 'reorder', count: 3 });
    const reordered = await pc.sendIncoming({
      name: 'Reordered delivery deal',
      details: { dealValue: 1_000, currency: 'USD', notes: 'first' },
    });
    const id = String(reordered.id);
    await pc.editAsMicrosoft(id, { details: { notes: 'second' } });
    await pc.editAsMicrosoft(id, { details: { dealValue: 3_000 } });
    const final = (await until(
      async () => {
        const d = await dealOf(id);
        return d && d.value === 3_000 && d.notes === 'second' ? d : null;
      },
      10_000,
      'the final state after reordered events',
    )) as Deal;
    expect(final.name).toBe('Reordered delivery deal');
    expect(await opportunitiesWith(id)).toHaveLength(1);
  });
});
