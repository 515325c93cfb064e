import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { opportunityBody, soql, startTestOrg, type TestOrg } from './test-support.ts';

type Json = Record<string, unknown>;
type QueryResult = { totalSize: number; done: boolean; nextRecordsUrl?: string; records: Json[] };
type ErrorItem = { message: string; errorCode: string };

let org: TestOrg;

beforeAll(async () => {
  org = await startTestOrg();
});
afterAll(async () => {
  await org.close();
});
beforeEach(async () => {
  await org.control('POST', '/reset');
});

async function query(q: string, headers: Record<string, string> = {}): Promise<QueryResult> {
  const result = await org.api('GET', soql(q), undefined, headers);
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  return result.body as QueryResult;
}

async function queryError(q: string): Promise<ErrorItem> {
  const result = await org.api('GET', soql(q));
  expect(result.status).toBe(400);
  return (result.body as ErrorItem[])[0] as ErrorItem;
}

async function create(type: string, body: Json): Promise<string> {
  const result = await org.api('POST', `/sobjects/${type}`, body);
  expect(result.status, JSON.stringify(result.body)).toBe(201);
  return (result.body as { id: string }).id;
}

/** Follows nextRecordsUrl like a client does. */
async function fetchAll(first: QueryResult): Promise<Json[]> {
  const records = [...first.records];
  let page = first;
  while (!page.done && page.nextRecordsUrl) {
    const next = await fetch(`${org.emulator.info.instanceUrl}${page.nextRecordsUrl}`, {
      headers: { authorization: `Bearer ${org.token}` },
    });
    page = (await next.json()) as QueryResult;
    records.push(...page.records);
  }
  return records;
}

describe('Salesforce emulator: SOQL', () => {
  it('pages over more than 2000 records with nextRecordsUrl locators', async () => {
    const seeded = await org.control('POST', '/seed', {
      generate: { type: 'Opportunity', count: 2105, template: opportunityBody({ Name: 'Deal {n}' }) },
    });
    expect(seeded.status).toBe(201);
    const first = await query('SELECT Id, Name FROM Opportunity ORDER BY Name');
    expect(first).toMatchObject({ totalSize: 2105, done: false });
    expect(first.records).toHaveLength(2000);
    expect(first.nextRecordsUrl).toMatch(/^\/services\/data\/v60\.0\/query\/01g[0-9A-Za-z]{15}-2000$/);
    const all = await fetchAll(first);
    expect(all).toHaveLength(2105);
    expect(new Set(all.map((r) => r['Id'])).size).toBe(2105);
    // A used-up locator is gone.
    const stale = await fetch(`${org.emulator.info.instanceUrl}${first.nextRecordsUrl}`, {
      headers: { authorization: `Bearer ${org.token}` },
    });
    expect(stale.status).toBe(400);
    // Sforce-Query-Options asks for smaller batches.
    const small = await query('SELECT Id FROM Opportunity', { 'sforce-query-options': 'batchSize=500' });
    expect(small.records).toHaveLength(500);
  });

  it('selects parent dot-paths and child subqueries (contact roles and the solutions junction)', async () => {
    const accountId = await create('Account', { Name: 'Contoso', BillingCountry: 'US' });
    const contactId = await create('Contact', {
      LastName: 'Smith',
      AccountId: accountId,
      Email: 'smith@contoso.example',
    });
    const opportunityId = await create('Opportunity', opportunityBody({ AccountId: accountId }));
    await create('Opportunity', opportunityBody({ Name: 'No account' }));
    await create('OpportunityContactRole', {
      OpportunityId: opportunityId,
      ContactId: contactId,
      Role: 'Decision Maker',
    });
    const solutionId = await create('Microsoft_Solution_Detail__c', {
      Name: 'Contoso AI',
      Solution_Id__c: 'SOL-34104-EBB',
    });
    await create('Microsoft_Partner_Center_Solution__c', {
      Opportunity__c: opportunityId,
      Solution__c: solutionId,
    });

    const result = await query(
      'SELECT Id, Name, Account.Name, Account.BillingCountry, Owner.Name, ' +
        '(SELECT ContactId, Role, Contact.Email FROM OpportunityContactRoles), ' +
        '(SELECT Solution__r.Solution_Id__c FROM Microsoft_Partner_Center_Solutions__r) ' +
        'FROM Opportunity ORDER BY Account.Name NULLS LAST',
    );
    expect(result.totalSize).toBe(2);
    const [withAccount, without] = result.records;
    expect(withAccount).toMatchObject({
      Id: opportunityId,
      Account: { attributes: { type: 'Account' }, Name: 'Contoso', BillingCountry: 'US' },
      Owner: { Name: 'Cosell Integration' },
      OpportunityContactRoles: {
        totalSize: 1,
        done: true,
        records: [
          { ContactId: contactId, Role: 'Decision Maker', Contact: { Email: 'smith@contoso.example' } },
        ],
      },
      Microsoft_Partner_Center_Solutions__r: {
        totalSize: 1,
        records: [{ Solution__r: { Solution_Id__c: 'SOL-34104-EBB' } }],
      },
    });
    expect(without).toMatchObject({ Account: null, OpportunityContactRoles: null });
  });

  it("string literals are unescaped: O'Brien \\ Sons matches and cannot inject", async () => {
    const hostile = "O'Brien \\ Sons";
    await create('Account', { Name: hostile });
    await create('Account', { Name: 'Other' });
    const escaped = hostile.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
    const found = await query(`SELECT Name FROM Account WHERE Name = '${escaped}'`);
    expect(found.records.map((r) => r['Name'])).toEqual([hostile]);
    // An injection attempt stays inside the literal.
    const injection = "x' OR Name != '";
    const safe = injection.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
    expect((await query(`SELECT Name FROM Account WHERE Name = '${safe}'`)).totalSize).toBe(0);
  });

  it('WHERE operators: = != < > <= >= LIKE IN NOT IN AND OR NOT, parentheses, null, booleans, dates', async () => {
    await create(
      'Opportunity',
      opportunityBody({
        Name: 'Alpha',
        Amount: 100,
        CloseDate: '2026-01-15',
        Sync_with_Partner_Center__c: true,
      }),
    );
    await create(
      'Opportunity',
      opportunityBody({ Name: 'Beta', Amount: 200, CloseDate: '2026-02-15', StageName: 'Closed Won' }),
    );
    await create(
      'Opportunity',
      opportunityBody({ Name: 'Gamma', CloseDate: '2026-03-15', Referral_Identifier__c: 'r-1' }),
    );
    const names = async (where: string) =>
      (await query(`SELECT Name FROM Opportunity WHERE ${where} ORDER BY Name`)).records.map(
        (r) => r['Name'],
      );
    expect(await names("Name = 'alpha'")).toEqual(['Alpha']);
    expect(await names("Name != 'Alpha'")).toEqual(['Beta', 'Gamma']);
    expect(await names('Amount > 100')).toEqual(['Beta']);
    expect(await names('Amount >= 100 AND Amount <= 150')).toEqual(['Alpha']);
    expect(await names('Amount < 150')).toEqual(['Alpha']);
    expect(await names('Amount = null')).toEqual(['Gamma']);
    expect(await names('Referral_Identifier__c != null')).toEqual(['Gamma']);
    expect(await names("Name LIKE '%a%'")).toEqual(['Alpha', 'Beta', 'Gamma']);
    expect(await names("Name LIKE 'G_mma'")).toEqual(['Gamma']);
    expect(await names("Name IN ('Alpha', 'Gamma')")).toEqual(['Alpha', 'Gamma']);
    expect(await names("Name NOT IN ('Alpha', 'Gamma')")).toEqual(['Beta']);
    expect(await names('Sync_with_Partner_Center__c = true OR IsWon = TRUE')).toEqual(['Alpha', 'Beta']);
    expect(await names("NOT (Name = 'Alpha' OR Name = 'Beta')")).toEqual(['Gamma']);
    expect(await names("(Amount = 100 OR Amount = 200) AND NOT Name = 'Beta'")).toEqual(['Alpha']);
    // OR-ed equalities on different fields are answered from the indexes (the union, no record twice); an OR
    // with a branch no index holds still scans.
    expect(await names("(Name = 'ALPHA' AND Amount = 100) OR Referral_Identifier__c = 'R-1'")).toEqual([
      'Alpha',
      'Gamma',
    ]);
    expect(await names("Name = 'Alpha' OR Amount = 100 OR Name IN ('Beta')")).toEqual(['Alpha', 'Beta']);
    expect(await names("Name = 'Alpha' OR Amount > 150")).toEqual(['Alpha', 'Beta']);
    expect(await names('CloseDate >= 2026-02-01 AND CloseDate < 2026-03-31')).toEqual(['Beta', 'Gamma']);
    expect(await names('SystemModstamp > 2020-01-01T00:00:00Z')).toEqual(['Alpha', 'Beta', 'Gamma']);
    expect(await names('SystemModstamp > 2999-01-01T00:00:00.000+0000')).toEqual([]);
    expect(await names('CreatedDate = TODAY')).toEqual(['Alpha', 'Beta', 'Gamma']);
  });

  it('ORDER BY, LIMIT, OFFSET and COUNT()', async () => {
    for (const name of ['c', 'a', 'b', 'e', 'd']) await create('Account', { Name: name });
    const page = await query('SELECT Name FROM Account ORDER BY Name DESC LIMIT 2 OFFSET 1');
    expect(page.records.map((r) => r['Name'])).toEqual(['d', 'c']);
    const count = await query("SELECT COUNT() FROM Account WHERE Name > 'b'");
    expect(count).toEqual({ totalSize: 3, done: true, records: [] });
  });

  it('queryAll includes deleted records; query does not', async () => {
    const id = await create('Account', { Name: 'Temp' });
    expect((await org.api('DELETE', `/sobjects/Account/${id}`)).status).toBe(204);
    expect((await query('SELECT Id FROM Account')).totalSize).toBe(0);
    const all = await org.api(
      'GET',
      `/queryAll?q=${encodeURIComponent('SELECT Id, IsDeleted FROM Account')}`,
    );
    expect((all.body as QueryResult).records).toMatchObject([{ Id: id, IsDeleted: true }]);
  });

  it('MALFORMED_QUERY, INVALID_FIELD and INVALID_TYPE on bad SOQL', async () => {
    expect((await queryError('SELEC Id FROM Account')).errorCode).toBe('MALFORMED_QUERY');
    const unknown = await queryError('SELECT Id, Nope__c FROM Opportunity');
    expect(unknown.errorCode).toBe('INVALID_FIELD');
    expect(unknown.message).toContain("No such column 'Nope__c' on entity 'Opportunity'");
    expect((await queryError('SELECT Id FROM Nope__c')).errorCode).toBe('INVALID_TYPE');
    expect((await queryError('SELECT Id, Nope.Name FROM Opportunity')).errorCode).toBe('INVALID_FIELD');
    expect((await queryError('SELECT Id, (SELECT Id FROM Nopes) FROM Opportunity')).errorCode).toBe(
      'INVALID_TYPE',
    );
    expect((await queryError("SELECT Id FROM Opportunity WHERE Audit__c = 'x'")).errorCode).toBe(
      'INVALID_FIELD',
    );
    expect((await queryError('SELECT Name, COUNT(Id) FROM Account GROUP BY Name')).errorCode).toBe(
      'MALFORMED_QUERY',
    );
  });
});

describe('Salesforce emulator: replication endpoints', () => {
  it('updated and deleted list ids in the window with latestDateCovered', async () => {
    const keep = await create('Opportunity', opportunityBody());
    const drop = await create('Opportunity', opportunityBody({ Name: 'drop' }));
    expect((await org.api('DELETE', `/sobjects/Opportunity/${drop}`)).status).toBe(204);
    const start = encodeURIComponent(new Date(Date.now() - 10 * 60_000).toISOString());
    const end = encodeURIComponent(new Date(Date.now() + 10 * 60_000).toISOString());
    const updated = await org.api('GET', `/sobjects/Opportunity/updated/?start=${start}&end=${end}`);
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ ids: [keep] });
    expect(
      Date.parse(String((updated.body as Json)['latestDateCovered']).replace('+0000', 'Z')),
    ).toBeLessThanOrEqual(Date.now());
    const deleted = await org.api('GET', `/sobjects/Opportunity/deleted/?start=${start}&end=${end}`);
    expect((deleted.body as { deletedRecords: Json[] }).deletedRecords).toMatchObject([{ id: drop }]);
    const tooOld = encodeURIComponent(new Date(Date.now() - 40 * 86_400_000).toISOString());
    const refused = await org.api('GET', `/sobjects/Opportunity/updated/?start=${tooOld}&end=${end}`);
    expect((refused.body as ErrorItem[])[0]?.errorCode).toBe('INVALID_REPLICATION_DATE');
  });
});
