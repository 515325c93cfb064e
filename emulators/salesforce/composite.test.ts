import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { opportunityBody, soql, startTestOrg, type TestOrg } from './test-support.ts';

type Json = Record<string, unknown>;
type SubResponse = { body: unknown; httpHeaders: Json; httpStatusCode: number; referenceId: string };
type CollectionResult = {
  id: string | null;
  success: boolean;
  errors: { statusCode: string; message: string; fields: string[] }[];
  created?: boolean;
};

let org: TestOrg;
const v = '/services/data/v60.0';

beforeAll(async () => {
  org = await startTestOrg();
});
afterAll(async () => {
  await org.close();
});
beforeEach(async () => {
  await org.control('POST', '/reset');
});

function errorCodeOf(response: SubResponse | undefined): unknown {
  return ((response?.body ?? []) as Json[])[0]?.['errorCode'];
}

async function count(type: string): Promise<number> {
  return ((await org.api('GET', soql(`SELECT COUNT() FROM ${type}`))).body as { totalSize: number })
    .totalSize;
}

function dealGraph(opportunity: Json): Json[] {
  return [
    { method: 'POST', url: `${v}/sobjects/Account`, referenceId: 'refAccount', body: { Name: 'Contoso' } },
    {
      method: 'POST',
      url: `${v}/sobjects/Contact`,
      referenceId: 'refContact',
      body: { LastName: 'Smith', AccountId: '@{refAccount.id}' },
    },
    {
      method: 'PATCH',
      url: `${v}/sobjects/Opportunity/Referral_Identifier__c/ref-77`,
      referenceId: 'refOpportunity',
      body: { ...opportunity, AccountId: '@{refAccount.id}' },
    },
    {
      method: 'POST',
      url: `${v}/sobjects/OpportunityContactRole`,
      referenceId: 'refRole',
      body: { OpportunityId: '@{refOpportunity.id}', ContactId: '@{refContact.id}', IsPrimary: true },
    },
  ];
}

describe('Salesforce emulator: /composite', () => {
  it('runs subrequests with @{ref.id} references as one API call', async () => {
    const before = (await org.control('GET', '/calls')).body as { apiCalls: number };
    const result = await org.api('POST', '/composite', {
      allOrNone: true,
      compositeRequest: dealGraph(opportunityBody()),
    });
    expect(result.status).toBe(200);
    const responses = (result.body as { compositeResponse: SubResponse[] }).compositeResponse;
    expect(responses.map((r) => [r.referenceId, r.httpStatusCode])).toEqual([
      ['refAccount', 201],
      ['refContact', 201],
      ['refOpportunity', 201],
      ['refRole', 201],
    ]);
    expect(responses[0]?.httpHeaders['Location']).toMatch(/\/sobjects\/Account\/001/);
    const after = (await org.control('GET', '/calls')).body as { apiCalls: number; byEndpoint: Json };
    expect(after.apiCalls - before.apiCalls).toBe(1);
    expect(after.byEndpoint['POST /composite']).toBe(1);
    const opportunity = await org.api(
      'GET',
      soql(
        "SELECT Account.Name, (SELECT Contact.LastName FROM OpportunityContactRoles) FROM Opportunity WHERE Referral_Identifier__c = 'ref-77'",
      ),
    );
    expect((opportunity.body as { records: Json[] }).records[0]).toMatchObject({
      Account: { Name: 'Contoso' },
      OpportunityContactRoles: { records: [{ Contact: { LastName: 'Smith' } }] },
    });
  });

  it('R25 GET /counters: a composite is one request; its subrequests count by their own method and object', async () => {
    await org.control('DELETE', '/counters');
    await org.api('POST', '/composite', { allOrNone: true, compositeRequest: dealGraph(opportunityBody()) });
    await org.api('GET', soql('SELECT Id, (SELECT Id FROM OpportunityLineItems) FROM Opportunity LIMIT 1'));
    await org.api('POST', '/composite/sobjects', {
      records: [1, 2, 3].map((n) => ({ attributes: { type: 'Account' }, Name: `Collection ${n}` })),
    });
    const counters = (await org.control('GET', '/counters')).body as Json;
    expect(counters).toMatchObject({
      api: 'salesforce',
      requests: 3,
      reads: 1,
      writes: 5,
      tokens: 0,
      endpoints: {
        'POST /composite': { kind: 'batch', direct: 1, batched: 0 },
        'POST /sobjects/Account': { kind: 'write', direct: 0, batched: 1, records: 1 },
        'PATCH /sobjects/Opportunity/Referral_Identifier__c/:value': { kind: 'write', batched: 1 },
        'GET /query Opportunity': { kind: 'read', direct: 1, batched: 0 },
        'POST /composite/sobjects Account': { kind: 'write', direct: 1, records: 3 },
      },
    });
  });

  it('references into query results: @{ref.records[0].Id}', async () => {
    await org.api('POST', '/sobjects/Account', { Name: 'Fabrikam' });
    const result = await org.api('POST', '/composite', {
      compositeRequest: [
        {
          method: 'GET',
          url: `${v}/query?q=${encodeURIComponent("SELECT Id FROM Account WHERE Name = 'Fabrikam'")}`,
          referenceId: 'found',
        },
        {
          method: 'POST',
          url: `${v}/sobjects/Opportunity`,
          referenceId: 'opp',
          body: opportunityBody({ AccountId: '@{found.records[0].Id}' }),
        },
      ],
    });
    const responses = (result.body as { compositeResponse: SubResponse[] }).compositeResponse;
    expect(responses[1]?.httpStatusCode).toBe(201);
  });

  it('allOrNone rolls everything back when one subrequest fails', async () => {
    const result = await org.api('POST', '/composite', {
      allOrNone: true,
      compositeRequest: dealGraph(opportunityBody({ How_can_Microsoft_help__c: 'Not a value' })),
    });
    expect(result.status).toBe(200);
    const responses = (result.body as { compositeResponse: SubResponse[] }).compositeResponse;
    expect(responses.map((r) => r.httpStatusCode)).toEqual([400, 400, 400, 400]);
    expect(errorCodeOf(responses[2])).toBe('INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST');
    expect(errorCodeOf(responses[0])).toBe('PROCESSING_HALTED');
    expect(errorCodeOf(responses[3])).toBe('PROCESSING_HALTED');
    expect(await count('Account')).toBe(0);
    expect(await count('Contact')).toBe(0);
  });

  it('allOrNone puts back a record it had updated and deleted, and the stamps with it', async () => {
    const kept = ((await org.api('POST', '/sobjects/Account', { Name: 'Kept' })).body as { id: string }).id;
    const gone = ((await org.api('POST', '/sobjects/Account', { Name: 'Gone' })).body as { id: string }).id;
    const before = (await org.api('GET', `/sobjects/Account/${kept}`)).body as Record<string, unknown>;
    const result = await org.api('POST', '/composite', {
      allOrNone: true,
      compositeRequest: [
        {
          method: 'PATCH',
          url: `${v}/sobjects/Account/${kept}`,
          referenceId: 'rename',
          body: { Name: 'Renamed' },
        },
        { method: 'DELETE', url: `${v}/sobjects/Account/${gone}`, referenceId: 'drop' },
        { method: 'POST', url: `${v}/sobjects/Account`, referenceId: 'bad', body: { Name: 'x'.repeat(300) } },
      ],
    });
    const responses = (result.body as { compositeResponse: SubResponse[] }).compositeResponse;
    expect(responses.map((r) => r.httpStatusCode)).toEqual([400, 400, 400]);
    const after = (await org.api('GET', `/sobjects/Account/${kept}`)).body as Record<string, unknown>;
    expect(after).toMatchObject({ Name: 'Kept', SystemModstamp: before['SystemModstamp'] });
    expect((await org.api('GET', `/sobjects/Account/${gone}`)).status).toBe(200);
  });

  it('without allOrNone earlier writes stay and dependants of a failure are halted', async () => {
    const result = await org.api('POST', '/composite', {
      allOrNone: false,
      compositeRequest: dealGraph(opportunityBody({ StageName: 'Nope' })),
    });
    const responses = (result.body as { compositeResponse: SubResponse[] }).compositeResponse;
    expect(responses.map((r) => r.httpStatusCode)).toEqual([201, 201, 400, 400]);
    expect(errorCodeOf(responses[3])).toBe('PROCESSING_HALTED');
    expect(await count('Account')).toBe(1);
  });

  it('refuses more than 25 subrequests', async () => {
    const many = Array.from({ length: 26 }, (_, i) => ({
      method: 'POST',
      url: `${v}/sobjects/Account`,
      referenceId: `a${i}`,
      body: { Name: `A${i}` },
    }));
    const result = await org.api('POST', '/composite', { compositeRequest: many });
    expect(result.status).toBe(400);
    expect(await count('Account')).toBe(0);
  });
});

describe('Salesforce emulator: sObject Collections', () => {
  it('creates, updates, upserts and deletes up to 200 records with per-record results', async () => {
    const created = await org.api('POST', '/composite/sobjects', {
      allOrNone: false,
      records: [
        { attributes: { type: 'Account' }, Name: 'One' },
        { attributes: { type: 'Account' } },
        { attributes: { type: 'Contact' }, LastName: 'Two' },
      ],
    });
    expect(created.status).toBe(200);
    const results = created.body as CollectionResult[];
    expect(results[0]).toMatchObject({ success: true, errors: [] });
    expect(results[1]).toEqual({
      id: null,
      success: false,
      errors: [
        {
          statusCode: 'REQUIRED_FIELD_MISSING',
          message: 'Required fields are missing: [Name]',
          fields: ['Name'],
        },
      ],
    });
    expect(results[2]?.id).toMatch(/^003/);

    const updated = await org.api('PATCH', '/composite/sobjects', {
      records: [{ attributes: { type: 'Account' }, id: results[0]?.id, Name: 'One renamed' }],
    });
    expect((updated.body as CollectionResult[])[0]).toMatchObject({ id: results[0]?.id, success: true });

    const upsertBody = {
      allOrNone: false,
      records: [
        { attributes: { type: 'Opportunity' }, Referral_Identifier__c: 'c-1', ...opportunityBody() },
        { attributes: { type: 'Opportunity' }, Referral_Identifier__c: 'c-2', ...opportunityBody() },
      ],
    };
    const first = (
      await org.api('PATCH', '/composite/sobjects/Opportunity/Referral_Identifier__c', upsertBody)
    ).body as CollectionResult[];
    expect(first.map((r) => r.created)).toEqual([true, true]);
    const second = (
      await org.api('PATCH', '/composite/sobjects/Opportunity/Referral_Identifier__c', upsertBody)
    ).body as CollectionResult[];
    expect(second.map((r) => r.created)).toEqual([false, false]);
    expect(await count('Opportunity')).toBe(2);

    const ids = [results[0]?.id, results[2]?.id].join(',');
    const deleted = await org.api('DELETE', `/composite/sobjects?ids=${ids}`);
    expect((deleted.body as CollectionResult[]).every((r) => r.success)).toBe(true);
    expect(await count('Account')).toBe(0);
  });

  it('allOrNone: one bad record rolls back the others with ALL_OR_NONE_OPERATION_ROLLED_BACK', async () => {
    const result = await org.api('POST', '/composite/sobjects', {
      allOrNone: true,
      records: [
        { attributes: { type: 'Account' }, Name: 'Good' },
        { attributes: { type: 'Account' }, Name: 'x'.repeat(300) },
      ],
    });
    const items = result.body as CollectionResult[];
    expect(items[0]).toMatchObject({
      id: null,
      success: false,
      errors: [{ statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK' }],
    });
    expect(items[1]?.errors[0]?.statusCode).toBe('STRING_TOO_LONG');
    expect(await count('Account')).toBe(0);
  });

  it('refuses more than 200 records and unknown types per record', async () => {
    const tooMany = await org.api('POST', '/composite/sobjects', {
      records: Array.from({ length: 201 }, (_, i) => ({ attributes: { type: 'Account' }, Name: `A${i}` })),
    });
    expect(tooMany.status).toBe(400);
    expect((tooMany.body as Json[])[0]?.['errorCode']).toBe('EXCEEDED_ID_LIMIT');
    const badType = await org.api('POST', '/composite/sobjects', {
      records: [{ attributes: { type: 'Nope' }, Name: 'x' }],
    });
    expect((badType.body as CollectionResult[])[0]?.errors[0]?.statusCode).toBe('INVALID_TYPE');
  });
});

describe('Salesforce emulator: /composite/graph', () => {
  const graph = (graphId: string, referral: string, lastName: string | null) => ({
    graphId,
    compositeRequest: dealGraph(opportunityBody()).map((node) =>
      node['referenceId'] === 'refOpportunity'
        ? { ...node, url: `${v}/sobjects/Opportunity/Referral_Identifier__c/${referral}` }
        : node['referenceId'] === 'refContact'
          ? { ...node, body: { ...(node['body'] as Json), LastName: lastName } }
          : node,
    ),
  });
  type GraphResponse = {
    graphs: { graphId: string; isSuccessful: boolean; graphResponse: { compositeResponse: SubResponse[] } }[];
  };

  it('R34 runs each graph all-or-none on its own: one record failing leaves the others written, as one API call', async () => {
    await org.control('DELETE', '/counters');
    const response = await org.api('POST', '/composite/graph', {
      graphs: [graph('g1', 'ref-g1', 'Smith'), graph('g2', 'ref-g2', null), graph('g3', 'ref-g3', 'Jones')],
    });
    expect(response.status).toBe(200);
    const { graphs } = response.body as GraphResponse;
    expect(graphs.map((g) => [g.graphId, g.isSuccessful])).toEqual([
      ['g1', true],
      ['g2', false],
      ['g3', true],
    ]);
    const failed = graphs[1]!.graphResponse.compositeResponse;
    expect(failed.map((r) => errorCodeOf(r))).toEqual([
      'PROCESSING_HALTED',
      'REQUIRED_FIELD_MISSING',
      'PROCESSING_HALTED',
      'PROCESSING_HALTED',
    ]);
    const counters = (await org.control('GET', '/counters')).body as { requests: number; endpoints: Json };
    expect(counters.requests).toBe(1);
    expect(counters.endpoints['POST /composite/graph']).toMatchObject({ kind: 'batch', direct: 1 });
    // g2's account was undone with its graph; g1's and g3's records stand.
    expect(await count('Account')).toBe(2);
    expect(await count('Opportunity')).toBe(2);
    expect(await count('OpportunityContactRole')).toBe(2);
  });

  it('refuses what Salesforce refuses: more than 75 graphs, a query node, a repeated graphId', async () => {
    const many = Array.from({ length: 76 }, (_, i) => ({
      graphId: `g${i}`,
      compositeRequest: [
        { method: 'POST', url: `${v}/sobjects/Account`, referenceId: 'a', body: { Name: 'x' } },
      ],
    }));
    const tooMany = await org.api('POST', '/composite/graph', { graphs: many });
    expect(tooMany.status).toBe(400);
    expect(JSON.stringify(tooMany.body)).toContain('LIMIT_EXCEEDED');

    const query = await org.api('POST', '/composite/graph', {
      graphs: [
        {
          graphId: 'q',
          compositeRequest: [{ method: 'GET', url: `${v}/query?q=SELECT+Id+FROM+Account`, referenceId: 'q' }],
        },
      ],
    });
    const { graphs } = query.body as GraphResponse;
    expect(graphs[0]!.isSuccessful).toBe(false);
    expect(errorCodeOf(graphs[0]!.graphResponse.compositeResponse[0])).toBe('INVALID_URL');

    const repeated = await org.api('POST', '/composite/graph', { graphs: [many[0], many[0]] });
    expect(repeated.status).toBe(400);
    expect(await count('Account')).toBe(0);
  });
});
