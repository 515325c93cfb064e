// The Salesforce adapter against the Salesforce emulator over real HTTP: every port method, both OAuth grants,
// paging, upsert idempotency, SOQL escaping and the error mappings (REQUEST_LIMIT_EXCEEDED, INVALID_SESSION_ID,
// UNABLE_TO_LOCK_ROW).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSalesforceEmulator } from '../../emulators/salesforce/index.ts';
import { CrmError, type NewDeal } from '../../src/crm/port.ts';
import { SalesforceAdapter } from '../../src/crm/salesforce/adapter.ts';
import { SalesforceClient } from '../../src/crm/salesforce/client.ts';
import { type SalesforceConnection, salesforceConnectionSchema } from '../../src/crm/salesforce/settings.ts';
import { until } from '../helpers/until.ts';

type Emulator = Awaited<ReturnType<typeof startSalesforceEmulator>>;
let emulator: Emulator;

beforeAll(async () => {
  emulator = await startSalesforceEmulator({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await emulator?.close();
});
beforeEach(async () => {
  await control('POST', '/reset');
});

async function control<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${emulator.info.control}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  if (response.status >= 400)
    throw new Error(`control ${method} ${path}: ${response.status} ${await response.text()}`);
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A seller's edit in the Salesforce UI (not an API call). */
async function ui(sobject: string, body: Record<string, unknown>): Promise<string> {
  return (await control<{ id: string }>('POST', `/ui/${sobject}`, body)).id;
}
async function uiEdit(sobject: string, id: string, body: Record<string, unknown>): Promise<void> {
  await control('PATCH', `/ui/${sobject}/${id}`, body);
}
async function uiRead(sobject: string, id: string): Promise<Record<string, unknown>> {
  return control('GET', `/ui/${sobject}/${id}`);
}

interface CallSummary {
  apiCalls: number;
  byEndpoint: Record<string, number>;
  recent: { method: string; endpoint: string; path: string; status: number; countedAsApiCall: boolean }[];
}
const calls = () => control<CallSummary>('GET', '/calls');
const clearCalls = () => control('DELETE', '/calls');

function connection(grant: 'jwt-bearer' | 'client-credentials'): SalesforceConnection {
  const info = emulator.info;
  return salesforceConnectionSchema.parse({
    loginUrl: info.loginUrl,
    apiVersion: info.apiVersion,
    auth:
      grant === 'jwt-bearer'
        ? { grant, clientId: info.clientId, username: info.username, privateKeyPath: info.jwtPrivateKeyPath }
        : { grant, clientId: info.clientId, clientSecret: info.clientSecret },
  });
}

/**
 * SystemModstamp cursors have whole-second precision (the SOQL literal format), so a test that must separate
 * "before" from "after" waits for the next second to begin and uses it as the cursor.
 */
async function nextWholeSecond(): Promise<string> {
  const boundary = (Math.floor(Date.now() / 1000) + 1) * 1000;
  await until(() => Date.now() >= boundary, 2_000, 'the next whole second');
  return new Date(boundary).toISOString();
}

const noSleep = { sleep: async () => {}, random: () => 0 };

async function adapter(grant: 'jwt-bearer' | 'client-credentials' = 'client-credentials') {
  const a = await SalesforceAdapter.connect(connection(grant), {}, noSleep);
  await a.orgShape();
  await clearCalls();
  return a;
}

function newDeal(overrides: Partial<NewDeal> = {}): NewDeal {
  return {
    kind: 'opportunity',
    referralId: 'a1b2c3d4-0000-4000-8000-000000000001',
    fields: {
      name: 'Contoso cloud migration',
      closeDate: '2027-03-31',
      value: 250000,
      notes: 'Customer wants to move 300 VMs.',
      assistance: 'ProofOfConceptOrDemo',
    },
    account: {
      name: 'Contoso Ltd',
      address: { street: '1 Main St', city: 'Redmond', postalCode: '98052', country: 'US' },
    },
    contacts: [{ firstName: 'Ada', lastName: 'Lovelace', email: 'ada@contoso.example' }],
    solutions: [{ id: 'SOL-34104-EBB', name: 'Contoso Migrate' }],
    ...overrides,
  };
}

describe('Salesforce adapter over HTTP', () => {
  it.each(['jwt-bearer', 'client-credentials'] as const)(
    'authenticates with the %s grant and queries',
    async (grant) => {
      const client = await SalesforceClient.connect(connection(grant));
      expect(client.instanceUrl).toBe(emulator.info.instanceUrl);
      const users = await client.query('SELECT Id, Username FROM User WHERE IsActive = true');
      expect(users.length).toBeGreaterThanOrEqual(1);
    },
  );

  it('refuses a wrong client secret with a CrmError naming the fix, without the secret', async () => {
    const bad = salesforceConnectionSchema.parse({
      loginUrl: emulator.info.loginUrl,
      auth: {
        grant: 'client-credentials',
        clientId: emulator.info.clientId,
        clientSecret: 'not-the-secret-xyz',
      },
    });
    const error = await SalesforceClient.connect(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CrmError);
    expect((error as CrmError).authFailed).toBe(true);
    expect((error as CrmError).fix).toMatch(/consumer key and secret/);
    expect(JSON.stringify({ ...(error as CrmError), message: (error as CrmError).message })).not.toContain(
      'not-the-secret-xyz',
    );
  });

  it('R26 a token endpoint that answers 503 while cosell starts or runs is retried, not taken for bad credentials', async () => {
    await control('POST', '/faults', { path: '/services/oauth2/token', status: 503, count: 2 });
    const client = await SalesforceClient.connect(connection('client-credentials'), noSleep);
    expect(await client.query('SELECT Id FROM User WHERE IsActive = true')).not.toHaveLength(0);
    const tokenCalls = (await calls()).recent.filter((c) => c.path.includes('/oauth2/token'));
    expect(tokenCalls.map((c) => c.status)).toEqual([503, 503, 200]);

    // Still unavailable after every retry: the client is still made (a restart during an outage keeps the
    // service up), and its calls fail with an error that says so, is retryable, and does not blame the secret.
    await control('POST', '/faults', { path: '/services/oauth2/token', status: 503, count: 10_000 });
    const unavailable = await SalesforceClient.connect(connection('client-credentials'), noSleep);
    const error = await unavailable.query('SELECT Id FROM User').catch((e: unknown) => e);
    await control('DELETE', '/faults');
    expect(error).toBeInstanceOf(CrmError);
    expect(error).toMatchObject({ retryable: true, operation: 'token' });
    expect((error as CrmError).authFailed).toBeFalsy();
    expect((error as CrmError).message).toMatch(/token endpoint gave no token .* looks unavailable/);
    expect((error as CrmError).fix).not.toMatch(/consumer key/);
  });

  it('R4 R5 R15 creates opportunity, account, contact, contact role and solution rows in two API calls', async () => {
    const a = await adapter();
    const result = await a.createDeal(newDeal(), {
      referralLink: 'https://partner.microsoft.com/referrals/x',
      auditLine: '2026-11-20 created from Partner Center',
      mark: 'ok',
    });
    expect(result).toMatchObject({ kind: 'opportunity', created: true, accountCreated: true });
    expect((await calls()).apiCalls).toBe(2);

    const deal = await a.findDeal({ kind: 'opportunity', id: result.id });
    expect(deal).toMatchObject({
      kind: 'opportunity',
      name: 'Contoso cloud migration',
      mark: 'ok',
      stage: 'Qualification',
      closeDate: '2027-03-31',
      value: 250000,
      syncWithPartnerCenter: true,
      assistance: 'ProofOfConceptOrDemo',
      referralId: 'a1b2c3d4-0000-4000-8000-000000000001',
      referralLink: 'https://partner.microsoft.com/referrals/x',
      audit: '2026-11-20 created from Partner Center',
      account: { name: 'Contoso Ltd', address: { postalCode: '98052', country: 'US', city: 'Redmond' } },
      contacts: [{ lastName: 'Lovelace', email: 'ada@contoso.example', isPrimary: true }],
      solutions: [{ id: 'SOL-34104-EBB', name: 'Contoso Migrate' }],
    });
    const raw = await uiRead('Opportunity', result.id);
    expect(raw.Name).toBe('Contoso cloud migration ✔');
    // The org has no country picklists: the two-letter code is stored as the country name (R21).
    expect((await uiRead('Account', String(result.accountId))).BillingCountry).toBe('United States');

    const byReferral = await a.findDeal({
      kind: 'opportunity',
      referralId: 'a1b2c3d4-0000-4000-8000-000000000001',
    });
    expect(byReferral?.id).toBe(result.id);
    expect(await a.findDeal({ kind: 'opportunity', referralId: 'no-such-referral' })).toBeNull();
  });

  it('R4 the same create sent twice gives one opportunity (idempotent by Referral Identifier)', async () => {
    const a = await adapter();
    const first = await a.createDeal(newDeal());
    const second = await a.createDeal(newDeal());
    expect(second).toMatchObject({ id: first.id, created: false });
    const client = a.client;
    const opportunities = await client.query(
      "SELECT Id FROM Opportunity WHERE Referral_Identifier__c = 'a1b2c3d4-0000-4000-8000-000000000001'",
    );
    expect(opportunities).toHaveLength(1);
    expect(await client.query('SELECT Id FROM Account')).toHaveLength(1);

    // The upsert itself (what protects a create whose look-up raced) never duplicates either.
    const u1 = await client.upsert('Opportunity', 'Referral_Identifier__c', 'ref/with?odd#chars', {
      Name: 'X',
      StageName: 'Prospecting',
      CloseDate: '2027-01-01',
    });
    const u2 = await client.upsert('Opportunity', 'Referral_Identifier__c', 'ref/with?odd#chars', {
      Name: 'Y',
    });
    expect(u1.created).toBe(true);
    expect(u2).toEqual({ id: u1.id, created: false });
    expect((await uiRead('Opportunity', u1.id)).Name).toBe('Y');
  });

  it('R5 matches accounts by name + postal code, and hostile names are escaped, not injected', async () => {
    const a = await adapter();
    const obrien = await ui('Account', {
      Name: "O'Brien \\ Sons",
      BillingPostalCode: '12345',
      BillingCountry: 'Ireland',
    });
    await ui('Account', { Name: 'Somebody Else', BillingPostalCode: '12345' });

    const found = await a.findAccount({ name: "O'Brien \\ Sons", postalCode: '12345' });
    expect(found).toMatchObject({ id: obrien, name: "O'Brien \\ Sons", address: { country: 'IE' } });
    expect(await a.findAccount({ name: "O'Brien \\ Sons", postalCode: '99999' })).toBeNull();
    expect(await a.findAccount({ name: "x' OR Name != '", postalCode: '12345' })).toBeNull();
    expect(await a.findAccount({ name: "x' OR Name != '" })).toBeNull();

    const created = await a.createDeal(
      newDeal({ account: { name: "O'Brien \\ Sons", address: { postalCode: '12345', country: 'IE' } } }),
    );
    expect(created).toMatchObject({ accountId: obrien, accountCreated: false });
    const again = await a.findOrCreateAccount({ name: "x' OR Name != '", address: { postalCode: '1' } });
    expect(again.created).toBe(true);
    expect((await uiRead('Account', String(again.account.id))).Name).toBe("x' OR Name != '");
  });

  it('R5 matches contacts by email within the account only', async () => {
    const a = await adapter();
    const contoso = await ui('Account', { Name: 'Contoso' });
    const fabrikam = await ui('Account', { Name: 'Fabrikam' });
    const existing = await ui('Contact', {
      AccountId: contoso,
      LastName: 'Lovelace',
      Email: 'ADA@contoso.example',
    });
    await ui('Contact', { AccountId: fabrikam, LastName: 'Hopper', Email: 'grace@contoso.example' });

    const contacts = await a.findOrCreateContacts(contoso, [
      { lastName: 'Lovelace', email: 'ada@contoso.example' },
      { lastName: 'Hopper', email: 'grace@contoso.example' },
    ]);
    expect(contacts[0]?.id).toBe(existing);
    expect(contacts[1]?.id).toBeTruthy();
    expect((await uiRead('Contact', String(contacts[1]?.id))).AccountId).toBe(contoso);
  });

  it('R19 R20 writes data, the audit line and the mark in one update; ✖ replaces ✔', async () => {
    const a = await adapter();
    const { id } = await a.createDeal(newDeal(), { auditLine: 'line 1', mark: 'ok' });
    const deal = (await a.findDeal({ kind: 'opportunity', id }))!;
    await clearCalls();
    await a.updateDeal(
      deal,
      { fields: { value: 300000, closeDate: '2027-06-30' } },
      { auditLine: 'line 2', mark: 'error', microsoftCrmId: 'MSX-42' },
    );
    expect((await calls()).apiCalls).toBe(1);
    const raw = await uiRead('Opportunity', id);
    expect(raw).toMatchObject({
      Name: 'Contoso cloud migration ✖',
      Amount: 300000,
      CloseDate: '2027-06-30',
      Audit__c: 'line 1\nline 2',
      Microsoft_CRM_Identifier__c: 'MSX-42',
    });

    // Nothing to write (same mark, no line, no fields) -> no call at all.
    const unchanged = (await a.findDeal({ kind: 'opportunity', id }))!;
    await clearCalls();
    await a.updateDeal(unchanged, { addSolutions: [{ id: 'SOL-34104-EBB' }] }, { mark: 'error' });
    expect((await calls()).apiCalls).toBe(0);
  });

  it('R15 R13 adds and removes solutions and contacts on an existing deal', async () => {
    const a = await adapter();
    const { id } = await a.createDeal(newDeal());
    let deal = (await a.findDeal({ kind: 'opportunity', id }))!;
    await a.updateDeal(deal, {
      addSolutions: [{ id: 'SOL-2', name: 'Second' }],
      removeSolutions: ['SOL-34104-EBB'],
      addContacts: [{ lastName: 'Turing', email: 'alan@contoso.example' }],
    });
    deal = (await a.findDeal({ kind: 'opportunity', id }))!;
    expect(deal.solutions.map((s) => s.id)).toEqual(['SOL-2']);
    expect(deal.contacts.map((c) => c.email).sort()).toEqual(['ada@contoso.example', 'alan@contoso.example']);

    await a.addSolutions(deal, [{ id: 'SOL-3' }, { id: 'SOL-2' }]);
    expect((await a.findDeal({ kind: 'opportunity', id }))!.solutions.map((s) => s.id).sort()).toEqual([
      'SOL-2',
      'SOL-3',
    ]);
    await a.removeSolutions(deal, ['SOL-2', 'SOL-3']);
    expect((await a.findDeal({ kind: 'opportunity', id }))!.solutions).toEqual([]);
    // The catalogue keeps its rows (admins curate it, R15).
    expect(await a.client.query('SELECT Id FROM Microsoft_Solution_Detail__c')).toHaveLength(3);
  });

  it('R13 closes a deal won or lost by stage', async () => {
    const a = await adapter();
    const { id } = await a.createDeal(newDeal());
    await a.closeDeal(
      (await a.findDeal({ kind: 'opportunity', id }))!,
      'won',
      {},
      { auditLine: 'won', mark: 'ok' },
    );
    expect(await a.findDeal({ kind: 'opportunity', id })).toMatchObject({
      stage: 'Closed Won',
      isClosed: true,
      isWon: true,
    });
    const other = await a.createDeal(newDeal({ referralId: 'r-lost' }));
    await a.closeDeal((await a.findDeal({ kind: 'opportunity', id: other.id }))!, 'lost');
    expect(await a.findDeal({ kind: 'opportunity', id: other.id })).toMatchObject({
      stage: 'Closed Lost',
      isClosed: true,
      isWon: false,
    });
  });

  it('R9 creates and finds a lead by referral id', async () => {
    const a = await adapter();
    const lead = await a.createDeal(newDeal({ kind: 'lead', referralId: 'lead-ref-1' }), {
      auditLine: 'from PC',
    });
    expect(lead).toMatchObject({ kind: 'lead', created: true });
    const found = await a.findDeal({ kind: 'lead', referralId: 'lead-ref-1' });
    expect(found).toMatchObject({
      kind: 'lead',
      id: lead.id,
      name: 'Contoso Ltd',
      audit: 'from PC',
      contacts: [{ lastName: 'Lovelace', email: 'ada@contoso.example' }],
      account: { address: { country: 'US' } },
    });
    expect(await a.findDeal({ kind: 'lead', id: lead.id })).toMatchObject({ kind: 'lead' });
  });

  it('R9 a lead converted by a seller shows its new opportunity and appears in the change feed', async () => {
    const a = await adapter();
    const lead = await a.createDeal(newDeal({ kind: 'lead', referralId: 'lead-ref-2' }));
    const cursor = await nextWholeSecond();
    const converted = await control<{ opportunityId: string }>('POST', `/ui/Lead/${lead.id}/convert`, {});
    expect(await a.findDeal({ kind: 'lead', id: lead.id })).toMatchObject({
      kind: 'lead',
      isClosed: true,
      convertedOpportunityId: converted.opportunityId,
    });
    const feed = await a.listChangedDeals(cursor, { overlapMs: 0 });
    expect(feed.changes).toContainEqual(
      expect.objectContaining({ kind: 'lead', id: lead.id, reason: 'deal' }),
    );
  });

  it('R20 with "display check mark" off, names carry no mark', async () => {
    const a = await SalesforceAdapter.connect(
      connection('client-credentials'),
      { displayCheckMark: false },
      noSleep,
    );
    const { id } = await a.createDeal(newDeal(), { mark: 'ok' });
    expect((await uiRead('Opportunity', id)).Name).toBe('Contoso cloud migration');
    await a.updateDeal(
      (await a.findDeal({ kind: 'opportunity', id }))!,
      {},
      { mark: 'error', auditLine: 'failed' },
    );
    expect((await uiRead('Opportunity', id)).Name).toBe('Contoso cloud migration');
  });

  it('R10 R31 change feed lists ticked or linked deals, maps an account-only change to its deal, and reports deletions', async () => {
    const a = await adapter();
    const account = await ui('Account', { Name: 'Fabrikam', BillingCountry: 'Germny' });
    const ticked = await ui('Opportunity', {
      Name: 'Ticked',
      StageName: 'Prospecting',
      CloseDate: '2027-01-01',
      AccountId: account,
      Sync_with_Partner_Center__c: true,
    });
    await ui('Opportunity', {
      Name: 'Not shared',
      StageName: 'Prospecting',
      CloseDate: '2027-01-01',
      AccountId: account,
    });
    const linked = (
      await a.createDeal(
        newDeal({ referralId: 'linked-1', fields: { ...newDeal().fields, syncWithPartnerCenter: false } }),
      )
    ).id;

    const first = await a.listChangedDeals(null);
    expect(first.changes.map((c) => c.id).sort()).toEqual([ticked, linked].sort());
    expect(first.changes.every((c) => c.reason === 'deal')).toBe(true);

    // Only the account's country is fixed: the opportunity's own stamp does not move, the feed still names it.
    const cursor = await nextWholeSecond();
    await uiEdit('Account', account, { BillingCountry: 'Germany' });
    const second = await a.listChangedDeals(cursor, { overlapMs: 0 });
    expect(second.changes).toEqual([
      expect.objectContaining({ id: ticked, reason: 'account', kind: 'opportunity' }),
    ]);
    expect(Date.parse(second.cursor)).toBeGreaterThanOrEqual(Date.parse(cursor));

    await control('DELETE', `/ui/Opportunity/${ticked}`);
    const third = await a.listChangedDeals(second.cursor);
    expect(third.changes).toContainEqual(expect.objectContaining({ id: ticked, deleted: true }));
  });

  it('R13 change feed maps a new contact role and a new solution row to their deal', async () => {
    const a = await adapter();
    const { id } = await a.createDeal(newDeal());
    const contact = await ui('Contact', { LastName: 'New' });
    const catalogue = await ui('Microsoft_Solution_Detail__c', { Name: 'Extra', Solution_Id__c: 'SOL-X' });

    const beforeRole = await nextWholeSecond();
    await ui('OpportunityContactRole', { OpportunityId: id, ContactId: contact, Role: 'Evaluator' });
    const roles = await a.listChangedDeals(beforeRole, { overlapMs: 0 });
    expect(roles.changes).toEqual([expect.objectContaining({ id, reason: 'contact' })]);

    const beforeSolution = await nextWholeSecond();
    await ui('Microsoft_Partner_Center_Solution__c', { Opportunity__c: id, Solution__c: catalogue });
    const solutions = await a.listChangedDeals(beforeSolution, { overlapMs: 0 });
    expect(solutions.changes).toEqual([expect.objectContaining({ id, reason: 'solution' })]);
  });

  it('follows nextRecordsUrl over more than 2000 records', async () => {
    await control('POST', '/seed', {
      generate: { type: 'Account', count: 2100, template: { Name: 'Bulk {n}' } },
    });
    const a = await adapter();
    const rows = await a.client.query("SELECT Id, Name FROM Account WHERE Name LIKE 'Bulk %'");
    expect(rows).toHaveLength(2100);
    expect(new Set(rows.map((r) => r.Id)).size).toBe(2100);
    expect((await calls()).apiCalls).toBeGreaterThanOrEqual(2);
  });

  it('R26 a page whose locator Salesforce no longer knows (INVALID_QUERY_LOCATOR: a lost answer asked again, an idle cursor) runs the query again, alone and among composite queries', async () => {
    await control('POST', '/seed', {
      generate: { type: 'Account', count: 2100, template: { Name: 'Locator {n}' } },
    });
    const a = await adapter();
    const lostLocator = {
      method: 'GET',
      path: '/01g',
      status: 400,
      errorCode: 'INVALID_QUERY_LOCATOR',
      message: 'invalid query locator',
      count: 1,
    };
    await control('POST', '/faults', lostLocator);
    const rows = await a.client.query("SELECT Id FROM Account WHERE Name LIKE 'Locator %'");
    expect(rows).toHaveLength(2100);
    expect(new Set(rows.map((r) => r.Id)).size).toBe(2100);

    // The change feed's queries go out together in one composite call; the accounts page on.
    await control('POST', '/faults', lostLocator);
    const page = await a.listChangedDeals(null, { overlapMs: 0 });
    expect(page.cursor).toEqual(expect.any(String));
    expect(await control('GET', '/faults')).toEqual([]);
  });

  it('R27 REQUEST_LIMIT_EXCEEDED stops with a clear message and is not retried', async () => {
    const a = await adapter();
    await control('PATCH', '/limits', { dailyApiLimit: 100, used: 100 });
    await clearCalls();
    const error = await a.findDeal({ kind: 'opportunity', referralId: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CrmError);
    expect(error).toMatchObject({
      budgetExhausted: true,
      retryable: false,
      code: 'REQUEST_LIMIT_EXCEEDED',
      status: 403,
    });
    expect((error as CrmError).message).toMatch(
      /daily API request limit exceeded.*stopping until the allocation frees/,
    );
    expect((await calls()).recent.filter((c) => c.path.includes('/query'))).toHaveLength(1);
  });

  it('INVALID_SESSION_ID re-mints the token once and repeats the call', async () => {
    const a = await adapter('jwt-bearer');
    await control('POST', '/tokens/expire');
    const found = await a.findDeal({ kind: 'opportunity', referralId: 'none' });
    expect(found).toBeNull();
    const summary = await calls();
    expect(summary.recent.filter((c) => c.path.includes('/oauth2/token'))).toHaveLength(1);
  });

  it('a 401 right after a fresh token is reported as an auth failure, not retried in a loop', async () => {
    const a = await adapter();
    await control('POST', '/faults', {
      path: '/query',
      status: 401,
      errorCode: 'INVALID_SESSION_ID',
      count: 5,
    });
    const error = await a.findDeal({ kind: 'opportunity', referralId: 'none' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ authFailed: true, code: 'INVALID_SESSION_ID', status: 401 });
    const pending = await control<{ pending: { count: number }[] }>('POST', '/faults', {
      path: '/never',
      count: 1,
    });
    expect(pending.pending[0]?.count).toBe(3);
  });

  it('UNABLE_TO_LOCK_ROW is retried with backoff until the row frees', async () => {
    const retries: string[] = [];
    const a = await SalesforceAdapter.connect(
      connection('client-credentials'),
      {},
      { ...noSleep, onRetry: (e) => retries.push(String(e.code)) },
    );
    const { id } = await a.createDeal(newDeal());
    const deal = (await a.findDeal({ kind: 'opportunity', id }))!;
    await control('POST', '/faults', {
      method: 'PATCH',
      path: '/sobjects/Opportunity',
      errorCode: 'UNABLE_TO_LOCK_ROW',
      count: 2,
    });
    await a.updateDeal(deal, { fields: { value: 1 } });
    expect(retries).toEqual(['UNABLE_TO_LOCK_ROW', 'UNABLE_TO_LOCK_ROW']);
    expect((await uiRead('Opportunity', id)).Amount).toBe(1);
  });

  it('a misconfigured field name fails with INVALID_FIELD and the deploy fix', async () => {
    const a = await SalesforceAdapter.connect(
      connection('client-credentials'),
      { fields: { dealValue: 'Not_There__c' } },
      noSleep,
    );
    const error = await a.findDeal({ kind: 'opportunity', referralId: 'x' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INVALID_FIELD' });
    expect((error as CrmError).fix).toMatch(/sf project deploy start/);
  });

  it('describeSchema is clean on the packaged org', async () => {
    const a = await adapter();
    const report = await a.describeSchema();
    expect(report.problems).toEqual([]);
    expect(report.objects.every((o) => o.present)).toBe(true);
  });
});

describe('Salesforce adapter on a multi-currency org', () => {
  let multi: Emulator;
  beforeAll(async () => {
    multi = await startSalesforceEmulator({ port: 0, host: '127.0.0.1', multiCurrency: true });
  });
  afterAll(async () => {
    await multi?.close();
  });

  it('R4 R21 writes and reads the deal currency; a currency the org has not enabled is a clear error', async () => {
    const info = multi.info;
    const a = await SalesforceAdapter.connect(
      salesforceConnectionSchema.parse({
        loginUrl: info.loginUrl,
        auth: { grant: 'client-credentials', clientId: info.clientId, clientSecret: info.clientSecret },
      }),
      {},
      noSleep,
    );
    const { id } = await a.createDeal(newDeal({ fields: { ...newDeal().fields, currency: 'EUR' } }));
    expect(await a.findDeal({ kind: 'opportunity', id })).toMatchObject({ currency: 'EUR', value: 250000 });
    const error = await a
      .createDeal(newDeal({ referralId: 'r-xxx', fields: { ...newDeal().fields, currency: 'XTS' } }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CrmError);
    expect((error as CrmError).message).toMatch(/CurrencyIsoCode|currency/i);
    // allOrNone: the failed create left no account or contact behind.
    expect(
      await a.client.query("SELECT Id FROM Opportunity WHERE Referral_Identifier__c = 'r-xxx'"),
    ).toHaveLength(0);
    expect(await a.client.query('SELECT Id FROM Account')).toHaveLength(1);
  });
});
