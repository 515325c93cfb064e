// The CRM port's contract, one test body for every CRM adapter against its emulator over real HTTP: what the
// engine relies on and nothing CRM-specific. A new adapter is done with the port when it passes here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importSolutionsCsv } from '../../src/cli/commands/solutions.ts';
import { CrmError, type NewDeal } from '../../src/crm/port.ts';
import { crmVersionOf } from '../../src/engine/crm-version.ts';
import { until } from '../helpers/until.ts';
import { CRM_ORGS, type TestOrg } from './crm-orgs.ts';

let seq = 0;
function newDeal(overrides: Partial<NewDeal> = {}): NewDeal {
  seq++;
  return {
    kind: 'opportunity',
    referralId: `contract-${seq}-${Date.now()}`,
    fields: {
      name: `Contract deal ${seq}`,
      closeDate: '2027-03-31',
      value: 1_000,
      currency: 'USD',
      notes: 'v1',
    },
    account: { name: `Contract account ${seq}`, address: { postalCode: '98052', country: 'US' } },
    contacts: [{ firstName: 'Ada', lastName: 'Lovelace', email: `ada${seq}@contract.example` }],
    solutions: [{ id: 'SOL-CONTRACT-1', name: 'Contract solution' }],
    ...overrides,
  };
}

describe.each(CRM_ORGS)('the CRM port on $kind', ({ start }) => {
  let org: TestOrg;
  beforeAll(async () => {
    org = await start();
  });
  afterAll(async () => {
    await org?.close();
  });

  it('R4 R5 a create is idempotent by referral id and reads back by id and by referral id, with its account, contact and solution', async () => {
    const input = newDeal();
    const first = await org.adapter.createDeal(input, { auditLine: 'created', mark: 'ok' });
    const again = await org.adapter.createDeal(input, { auditLine: 'created', mark: 'ok' });
    expect(first.created).toBe(true);
    expect(again).toMatchObject({ id: first.id, created: false });
    const byId = await org.adapter.findDeal({ kind: 'opportunity', id: first.id });
    const byReferral = await org.adapter.findDeal({ kind: 'opportunity', referralId: input.referralId });
    expect(byReferral?.id).toBe(first.id);
    expect(byId).toMatchObject({
      kind: 'opportunity',
      name: input.fields.name,
      referralId: input.referralId,
      value: 1_000,
      notes: 'v1',
      mark: 'ok',
      audit: 'created',
      account: { name: input.account?.name, address: { country: 'US' } },
    });
    expect(byId?.contacts.map((c) => c.email)).toEqual([input.contacts?.[0]?.email]);
    expect(byId?.solutions.map((s) => s.id)).toEqual(['SOL-CONTRACT-1']);
    expect(await org.adapter.findDeal({ kind: 'opportunity', id: `${first.id.slice(0, -3)}zzz` })).toBeNull();
  });

  it('R4 R5 R34 creates gathered into a batch: each record stands or fails on its own, and two deals of one new customer share one account', async () => {
    const bulk = await start();
    try {
      bulk.adapter.batchCreates?.({ lingerMs: 20 });
      const shared = {
        name: `Shared customer ${Date.now()}`,
        address: { postalCode: '10001', country: 'US' },
      };
      const inputs = [
        newDeal(),
        newDeal({ account: shared }),
        newDeal({ extraFields: { no_such_field__c: 'x' } }),
        newDeal({ account: shared }),
        newDeal(),
      ];
      const outcomes = await Promise.allSettled(inputs.map((input) => bulk.adapter.createDeal(input, {})));
      expect(outcomes.map((o) => o.status)).toEqual([
        'fulfilled',
        'fulfilled',
        'rejected',
        'fulfilled',
        'fulfilled',
      ]);
      const refused = (outcomes[2] as PromiseRejectedResult).reason as CrmError;
      expect(refused).toBeInstanceOf(CrmError);
      expect(refused.record).toBe(inputs[2]!.referralId);
      expect(refused.message).toMatch(/no_such_field__c/);
      // The refused record is not there; the others stand, each read back by its referral.
      expect(
        await bulk.adapter.findDeal({ kind: 'opportunity', referralId: inputs[2]!.referralId }),
      ).toBeNull();
      const created = outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value);
      expect(created.every((c) => c.created)).toBe(true);
      for (const i of [0, 1, 3, 4]) {
        expect(
          (await bulk.adapter.findDeal({ kind: 'opportunity', referralId: inputs[i]!.referralId }))?.id,
        ).toBe((outcomes[i] as PromiseFulfilledResult<{ id: string }>).value.id);
      }
      const [second, fourth] = [outcomes[1], outcomes[3]] as PromiseFulfilledResult<{ accountId?: string }>[];
      expect(second!.value.accountId).toBeTruthy();
      expect(fourth!.value.accountId).toBe(second!.value.accountId);
    } finally {
      await bulk.close();
    }
  });

  it('R13 R19 an update writes data, contacts, solutions and the audit line together; the audit keeps earlier lines', async () => {
    const { id } = await org.adapter.createDeal(newDeal(), { auditLine: 'line 1' });
    const deal = (await org.adapter.findDeal({ kind: 'opportunity', id }))!;
    await org.adapter.updateDeal(
      deal,
      {
        fields: { notes: 'v2', value: 2_000 },
        addContacts: [{ lastName: 'Hopper', email: 'grace@contract.example' }],
        addSolutions: [{ id: 'SOL-CONTRACT-2', name: 'Second' }],
        removeSolutions: ['SOL-CONTRACT-1'],
      },
      { auditLine: 'line 2', mark: 'error' },
    );
    const after = (await org.adapter.findDeal({ kind: 'opportunity', id }))!;
    expect(after).toMatchObject({ notes: 'v2', value: 2_000, mark: 'error', audit: 'line 1\nline 2' });
    expect(after.contacts.map((c) => c.email).sort()).toEqual(
      [deal.contacts[0]!.email, 'grace@contract.example'].sort(),
    );
    expect(after.solutions.map((s) => s.id)).toEqual(['SOL-CONTRACT-2']);
  });

  it.each(['won', 'lost'] as const)(
    'R13 closing %s carries the data and the audit line in the same change',
    async (outcome) => {
      const { id } = await org.adapter.createDeal(newDeal());
      const deal = (await org.adapter.findDeal({ kind: 'opportunity', id }))!;
      await org.adapter.closeDeal(
        deal,
        outcome,
        { fields: { value: 3_000 } },
        { auditLine: `closed ${outcome}` },
      );
      expect(await org.adapter.findDeal({ kind: 'opportunity', id })).toMatchObject({
        isClosed: true,
        isWon: outcome === 'won',
        value: 3_000,
        audit: `closed ${outcome}`,
      });
    },
  );

  it('R26 R31 the change feed lists a seller edit and a deletion after the cursor it gave, with an opaque cursor', async () => {
    const { id } = await org.adapter.createDeal(newDeal());
    const { id: doomed } = await org.adapter.createDeal(newDeal());
    const start = await org.adapter.listChangedDeals(null, { overlapMs: 0 });
    expect(typeof start.cursor).toBe('string');
    await org.seller.editDeal(id, { notes: 'edited by the seller' });
    await org.seller.deleteDeal(doomed);
    const seen = await until(
      async () => {
        const page = await org.adapter.listChangedDeals(start.cursor, { overlapMs: 0 });
        const edited = page.changes.some((c) => c.id === id && !c.deleted);
        const deleted = page.changes.some((c) => c.id === doomed && c.deleted);
        return edited && deleted ? page : null;
      },
      5_000,
      'the edit and the deletion in the change feed',
    );
    expect(seen.changes.find((c) => c.id === id)).toMatchObject({ kind: 'opportunity', reason: 'deal' });
  });

  it("R10 R26 the change feed lists a deal's own change with the version a read of the deal gives; what a sync records for that read never passes for a second edit", async () => {
    const { id } = await org.adapter.createDeal(newDeal());
    const start = await org.adapter.listChangedDeals(null, { overlapMs: 0 });
    const listed = async (notes: string) => {
      await org.seller.editDeal(id, { notes });
      const readAt = new Date();
      const deal = (await org.adapter.findDeal({ kind: 'opportunity', id }))!;
      const change = await until(
        async () =>
          (await org.adapter.listChangedDeals(start.cursor, { overlapMs: 0 })).changes.find(
            (c) => c.id === id && crmVersionOf(c) === crmVersionOf(deal),
          ),
        5_000,
        `the edit '${notes}' in the change feed with the deal's version`,
      );
      return { listed: crmVersionOf(change), recorded: crmVersionOf(deal, readAt) };
    };
    const first = await listed('first edit');
    // Two edits in one second: Dataverse tells them apart by row version; Salesforce stamps both with the same
    // second, so a read within that second records no version at all.
    const second = await listed('second edit');
    expect(first.listed).not.toBeNull();
    expect(second.listed).not.toBe(first.recorded);
  });

  it("R13 R26 an account edit after the deal's own change, listed with it, carries a newer version than the deal read", async () => {
    const { id, accountId } = await org.adapter.createDeal(newDeal());
    const start = await org.adapter.listChangedDeals(null, { overlapMs: 0 });
    await org.seller.editDeal(id, { notes: 'edited before the account' });
    const readAt = new Date();
    const deal = (await org.adapter.findDeal({ kind: 'opportunity', id }))!;
    await org.seller.renameAccount(accountId!, 'Renamed after the deal was read');
    // Both changes in one listing: a sync that read the deal has not seen the account's edit, and the hint must
    // not look like the version it read.
    const change = await until(
      async () => {
        const page = await org.adapter.listChangedDeals(start.cursor, { overlapMs: 0 });
        return page.changes.find((c) => c.id === id && crmVersionOf(c) !== null);
      },
      5_000,
      'the deal in the change feed',
    );
    expect(crmVersionOf(change)).not.toBe(crmVersionOf(deal, readAt));
  });

  it('R9 a lead is created idempotently by referral id and reads back with its contact and country', async () => {
    const input = newDeal({ kind: 'lead' });
    const lead = await org.adapter.createDeal(input, { auditLine: 'from PC' });
    expect(lead).toMatchObject({ kind: 'lead', created: true });
    expect(await org.adapter.createDeal(input)).toMatchObject({ id: lead.id, created: false });
    const found = await org.adapter.findDeal({ kind: 'lead', referralId: input.referralId });
    expect(found).toMatchObject({
      kind: 'lead',
      id: lead.id,
      referralId: input.referralId,
      audit: 'from PC',
      isClosed: false,
      contacts: [{ lastName: 'Lovelace', email: input.contacts?.[0]?.email }],
      account: { address: { country: 'US' } },
    });
  });

  it('R9 a lead a seller converts names its new opportunity and appears in the change feed', async () => {
    const { id } = await org.adapter.createDeal(newDeal({ kind: 'lead' }));
    const start = await org.adapter.listChangedDeals(null, { overlapMs: 0 });
    const opportunityId = await org.seller.convertLead(id);
    expect(await org.adapter.findDeal({ kind: 'lead', id })).toMatchObject({
      kind: 'lead',
      isClosed: true,
      convertedOpportunityId: opportunityId,
    });
    await until(
      async () => {
        const page = await org.adapter.listChangedDeals(start.cursor, { overlapMs: 0 });
        return page.changes.some((c) => c.kind === 'lead' && c.id === id) ? page : null;
      },
      5_000,
      'the converted lead in the change feed',
    );
  });

  it('R15 a solution catalogue CSV is checked first: one bad row writes nothing; --skip-invalid loads the rest; a second import changes nothing; deals then use the imported names', async () => {
    const csv = [
      'id,name',
      'SOL-IMPORT-1,Contoso Analytics',
      'SOL-IMPORT-2,"Contoso Data, Lakehouse edition"',
      ',No id here',
      'SOL-IMPORT-1,Duplicate',
    ].join('\n');
    const refused = await importSolutionsCsv(org.adapter, csv, {});
    expect(refused.problems).toEqual([
      { line: 4, message: 'the id is empty' },
      { line: 5, message: 'the id "SOL-IMPORT-1" is already on line 2' },
    ]);
    expect(refused).toMatchObject({ created: 0, updated: 0 });
    expect(await org.adapter.importSolutions([{ id: 'SOL-IMPORT-1', name: 'Contoso Analytics' }])).toEqual({
      created: 1,
      updated: 0,
      unchanged: 0,
    });

    const progress: number[] = [];
    const loaded = await importSolutionsCsv(org.adapter, csv, {
      skipInvalid: true,
      onProgress: (done) => progress.push(done),
    });
    expect(loaded).toMatchObject({ created: 1, updated: 0, unchanged: 1, skipped: 2 });
    expect(progress).toEqual([2]);
    const renamed = csv.replace('Contoso Analytics', 'Contoso Analytics 2026');
    expect(await importSolutionsCsv(org.adapter, renamed, { skipInvalid: true })).toMatchObject({
      created: 0,
      updated: 1,
      unchanged: 1,
    });

    // A deal naming the solution by id only links the catalogue row the import made.
    const { id } = await org.adapter.createDeal(newDeal({ solutions: [{ id: 'SOL-IMPORT-2', name: null }] }));
    const deal = await org.adapter.findDeal({ kind: 'opportunity', id });
    expect(deal?.solutions).toEqual([
      expect.objectContaining({ id: 'SOL-IMPORT-2', name: 'Contoso Data, Lakehouse edition' }),
    ]);
  });

  it('R3 R25 R21 the probe, the call counter, the currencies and the field limits', async () => {
    const before = org.adapter.apiCallCount();
    await org.adapter.probe();
    expect(org.adapter.apiCallCount()).toBeGreaterThan(before);
    const currencies = await org.adapter.currencies();
    expect(currencies.enabled).toContain(currencies.corporate);
    expect(currencies.corporate).toMatch(/^[A-Z]{3}$/);
    const limits = await org.adapter.fieldLimits('opportunity');
    expect(limits.deal.name).toBeGreaterThan(10);
    expect(limits.deal.notes).toBeGreaterThan(1_000);
    expect(limits.contact.email).toBeGreaterThan(10);
  });

  it('R18 the shipped schema is found complete', async () => {
    const report = await org.adapter.describeSchema();
    expect(report.problems).toEqual([]);
  });
});

describe.each(CRM_ORGS)('a single-currency org on $kind', ({ start }) => {
  it('R21 names its one currency', async () => {
    const org = await start({ multiCurrency: false, currency: 'EUR' });
    try {
      expect(await org.adapter.currencies()).toEqual({ corporate: 'EUR', enabled: ['EUR'] });
    } finally {
      await org.close();
    }
  });
});
