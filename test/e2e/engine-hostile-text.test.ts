// Text that breaks hand-built queries and naive escaping (issue 11 §3, data): quotes, backslashes, SOQL and OData
// operators, wildcards, unicode beyond the BMP. Each value arrives exactly as sent or is refused with a clear error
// — never injected into a query, never a crash, never a silent drop — on both CRMs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deal } from '../../src/core/deal.ts';
import { until } from '../helpers/until.ts';
import { CRMS, type Harness, pcControl, startHarness, TEST_ENGINE_SETTINGS } from './engine-harness.ts';

const CUSTOMER = `O'Brien & Sons \\ "Ltd" %_ ' OR Name != '' -- ) or (1 eq 1) 株式会社 😀`;
const NAME = `Deal ' OR Id != null -- \\' "x" %' and startswith(name,'a') 😀`;
const NOTES = `Line 1 with 'quotes' and \\backslashes\\\nLine 2: SELECT Id FROM Account WHERE Name LIKE '%' ; $filter=name eq 'x' 🚀`;

describe.each(CRMS)('$crm: hostile text', ({ crm }) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(TEST_ENGINE_SETTINGS, { crm });
    await h.engine.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  const dealOf = (referralId: string) => h.crm.findDeal({ kind: 'opportunity', referralId });

  it('R4 R5 R6 a referral whose name, customer and notes carry quotes, operators and emoji arrives exactly; the same customer again matches its account instead of a query gone wrong', async () => {
    const pc = pcControl(h);
    const customerProfile = {
      name: CUSTOMER,
      address: { city: 'Dublin', postalCode: 'D02 X285', country: 'IE' },
      team: [{ firstName: "D'Arcy", lastName: 'Ó Briain', email: 'darcy.obriain@obrien.example' }],
    };
    const first = await pc.sendIncoming({
      name: NAME,
      customerProfile,
      details: { dealValue: 12_345.67, currency: 'EUR', notes: NOTES },
    });
    const deal = (await until(() => dealOf(String(first.id)), 10_000, 'the first opportunity')) as Deal;
    expect(deal.name).toBe(NAME);
    expect(deal.notes).toBe(NOTES);
    expect(deal.account?.name).toBe(CUSTOMER);
    expect(deal.contacts.map((c) => [c.firstName, c.lastName])).toEqual([["D'Arcy", 'Ó Briain']]);
    expect(deal.mark).toBe('ok');

    // The same customer again: matched by name and postal code (R5), so the quotes went into the query as text.
    const second = await pc.sendIncoming({ name: `${NAME} (2)`, customerProfile });
    const again = (await until(() => dealOf(String(second.id)), 10_000, 'the second opportunity')) as Deal;
    expect(again.account?.id).toBe(deal.account?.id);

    // A Partner Center edit of the notes with more of the same reaches the CRM exactly.
    await until(
      async () => (await pc.referral(String(first.id))).externalReferenceId === deal.id,
      5_000,
      'link',
    );
    const edited = `${NOTES}\n'); DROP TABLE referrals; --`;
    await pc.editAsMicrosoft(String(first.id), { details: { notes: edited } });
    await until(async () => (await dealOf(String(first.id)))?.notes === edited, 10_000, 'the edited notes');
  });

  it('R10 R6 a seller who types the same into the CRM sends it to Partner Center exactly, and edits follow', async () => {
    const pc = pcControl(h);
    const { opportunityId } = await h.desk.opportunity({ sync: false });
    await h.desk.edit(opportunityId, { name: NAME, notes: NOTES, sync: true });
    const referralId = await until(
      async () => (await h.desk.read(opportunityId)).referralId,
      10_000,
      'the referral of the shared opportunity',
    );
    const referral = await pc.referral(String(referralId));
    expect(referral.name).toBe(NAME);
    expect(referral.details?.notes).toBe(NOTES);
    const edited = `${NOTES}\n\\' OR '1'='1`;
    await h.desk.edit(opportunityId, { notes: edited });
    await until(
      async () => (await pc.referral(String(referralId))).details?.notes === edited,
      10_000,
      'notes',
    );
  });
});
