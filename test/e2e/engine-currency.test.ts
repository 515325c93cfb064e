// A referral in a currency the CRM has not enabled (R21), over real HTTP: a single-currency USD org receives a
// EUR and a JPY referral. The deal value must not be written as if it were dollars, Partner Center's currency
// must never be overwritten by the org's, and the record must say what is wrong and how to fix it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deal } from '../../src/core/deal.ts';
import { until } from '../helpers/until.ts';
import {
  CRMS,
  countOf,
  type Harness,
  pcControl,
  startHarness,
  TEST_ENGINE_SETTINGS,
} from './engine-harness.ts';

describe.each(CRMS)('a single-currency USD org on $crm (engine over HTTP)', ({ crm }) => {
  let h: Harness;
  let pc: ReturnType<typeof pcControl>;

  beforeAll(async () => {
    h = await startHarness(TEST_ENGINE_SETTINGS, { crm, crmOrg: { multiCurrency: false, currency: 'USD' } });
    pc = pcControl(h);
    await h.engine.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  const dealOf = (referralId: string) => h.crm.findDeal({ kind: 'opportunity', referralId });

  it.each([
    ['EUR', 250_000],
    ['JPY', 5_000_000],
  ])(
    'R21 R19 R20 a %s referral arrives without its deal value, with ✖ and an audit line naming the currency; Partner Center keeps %s',
    async (currency, value) => {
      // Already accepted in Partner Center, so the seller's edit is not held back by the on-hold stage (R8).
      const referral = await pc.sendIncoming({
        status: 'Active',
        substatus: 'Accepted',
        name: `Tailspin ${currency} rollout`,
        details: { dealValue: value, currency, closingDateTime: '2027-05-31T00:00:00Z', notes: 'v1' },
      });
      const id = String(referral.id);
      const deal = (await until(() => dealOf(id), 10_000, 'the opportunity of the referral')) as Deal;

      const record = await h.desk.read(deal.id);
      expect(record.value).toBeNull();
      expect(deal.mark).toBe('error');
      const audit = String(record.audit).split('\n');
      expect(audit).toHaveLength(1);
      expect(audit[0]).toContain(`created from referral ${id}`);
      expect(audit[0]).toContain(`in ${currency}, which is not enabled in the CRM (enabled: USD)`);
      expect(audit[0]).toContain(`Fix: Enable ${currency} as a currency in the CRM`);

      // A seller's later edit syncs; the money fields stay Partner Center's.
      await until(
        async () => (await pc.referral(id)).externalReferenceId === deal.id,
        5_000,
        'externalReferenceId',
      );
      const patchesBefore = countOf(await pc.calls(), 'PATCH /v1.0/engagements/referrals');
      await h.desk.edit(deal.id, { notes: 'v2 from the seller' });
      await until(
        async () => (await pc.referral(id)).details?.notes === 'v2 from the seller',
        10_000,
        'notes synced',
      );
      const after = await pc.referral(id);
      expect(after.details?.currency).toBe(currency);
      expect(Number(after.details?.dealValue)).toBe(value);
      expect(countOf(await pc.calls(), 'PATCH /v1.0/engagements/referrals')).toBe(patchesBefore + 1);

      // The ✖ stays and the currency problem is not written again on every sync (R19).
      // The audit line is written to the CRM right after the Partner Center update.
      const lines = await until(
        async () => {
          const all = String((await h.desk.read(deal.id)).audit).split('\n');
          return all.length >= 2 ? all : null;
        },
        5_000,
        'the audit line of the edit',
      );
      expect(lines).toHaveLength(2);
      expect(lines[1]).toMatch(/CRM->PC: notes$/);
      expect((await dealOf(id))?.mark).toBe('error');
    },
  );
});
