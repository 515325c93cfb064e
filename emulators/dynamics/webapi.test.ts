// dynamics-web-api, the library the product uses, runs an ordinary session against the emulator unchanged:
// the emulator speaks the Web API's wire format (reference/crm.md §A).
import { DynamicsWebApi } from 'dynamics-web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { control } from '../../src/cli/demo-story.ts';
import { type RunningDynamicsEmulator, startDynamicsEmulator } from './index.ts';

let emulator: RunningDynamicsEmulator;
let api: DynamicsWebApi;
let token: string;

async function newToken(): Promise<string> {
  const { info } = emulator;
  const response = await fetch(info.token, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: info.clientId,
      client_secret: info.clientSecret,
      scope: info.scope,
    }),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

async function raw(
  method: string,
  path: string,
  init: { body?: unknown; headers?: Record<string, string> } = {},
) {
  const response = await fetch(`${emulator.info.api}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'application/json',
      'content-type': 'application/json',
      ...init.headers,
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  emulator = await startDynamicsEmulator();
  token = await newToken();
  api = new DynamicsWebApi({
    serverUrl: emulator.info.url,
    onTokenRefresh: async () => token,
    dataApi: { version: '9.2' },
  });
});
afterAll(async () => {
  await emulator?.close();
});

describe('the Dataverse emulator through dynamics-web-api', () => {
  it('creates, retrieves, updates, upserts by alternate key and deletes', async () => {
    const accountId = await api.create<Record<string, unknown>, string>({
      collection: 'accounts',
      data: { name: 'Contoso', address1_country: 'US' },
    });
    expect(accountId).toMatch(/^[0-9a-f-]{36}$/);
    const id = await api.create<Record<string, unknown>, string>({
      collection: 'opportunities',
      data: {
        name: 'Deal',
        estimatedvalue: 1000,
        'customerid_account@odata.bind': `/accounts(${accountId})`,
        cosell_referralidentifier: 'R-api-1',
      },
    });
    const read = await api.retrieve({
      collection: 'opportunities',
      key: id,
      select: ['name', 'estimatedvalue', '_customerid_value'],
    });
    expect(read).toMatchObject({ name: 'Deal', estimatedvalue: 1000, _customerid_value: accountId });
    expect(read['@odata.etag']).toMatch(/^W\/"\d+"$/);
    await api.update({ collection: 'opportunities', key: id, data: { estimatedvalue: 2000 } });
    await api.upsert({
      collection: 'opportunities',
      key: "cosell_referralidentifier='R-api-1'",
      data: { description: 'upserted' },
    });
    const after = await api.retrieve({
      collection: 'opportunities',
      key: "cosell_referralidentifier='R-api-1'",
      select: ['estimatedvalue', 'description'],
    });
    expect(after).toMatchObject({ opportunityid: id, estimatedvalue: 2000, description: 'upserted' });
    await api.deleteRecord({ collection: 'opportunities', key: id });
    await expect(api.retrieve({ collection: 'opportunities', key: id })).rejects.toMatchObject({
      status: 404,
    });
  });

  it('nested $expand: an opportunity with its contact connections and their contacts in one read; $top beside it is refused', async () => {
    const contactId = await api.create<Record<string, unknown>, string>({
      collection: 'contacts',
      data: { lastname: 'Nested', emailaddress1: 'nested@contoso.example' },
    });
    const id = await api.create<Record<string, unknown>, string>({
      collection: 'opportunities',
      data: { name: 'Nested deal', 'parentcontactid@odata.bind': `/contacts(${contactId})` },
    });
    await api.create({
      collection: 'connections',
      data: {
        'record1id_opportunity@odata.bind': `/opportunities(${id})`,
        'record2id_contact@odata.bind': `/contacts(${contactId})`,
      },
    });
    const read = await api.retrieve<Record<string, unknown>>({
      collection: 'opportunities',
      key: id,
      select: ['name'],
      expand: [
        { property: 'parentcontactid', select: ['lastname'] },
        {
          property: 'opportunity_connections1',
          select: ['_record2id_value'],
          expand: [{ property: 'record2id_contact', select: ['emailaddress1'] }],
        },
      ],
    });
    expect(read.parentcontactid).toMatchObject({ lastname: 'Nested' });
    expect(read.opportunity_connections1).toEqual([
      expect.objectContaining({
        _record2id_value: contactId,
        record2id_contact: expect.objectContaining({ emailaddress1: 'nested@contoso.example' }),
      }),
    ]);
    const refused = await raw(
      'GET',
      `/opportunities(${id})?$expand=opportunity_connections1($top=1;$expand=record2id_contact($select=lastname))`,
    );
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(
      /\$orderby and \$top are not supported with a nested \$expand/,
    );
  });

  it('refuses a money value beyond its range with 400, as Dataverse does', async () => {
    await expect(
      api.create({ collection: 'opportunities', data: { name: 'Too big', estimatedvalue: 1e20 } }),
    ).rejects.toMatchObject({ status: 400, message: expect.stringContaining('outside the valid range') });
    const id = await api.create<Record<string, unknown>, string>({
      collection: 'opportunities',
      data: { name: 'Largest', estimatedvalue: 922_337_203_685_477 },
    });
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('pages over more than 5,000 rows with maxpagesize and an opaque nextLink; $skip is refused', async () => {
    await control(emulator.info.control, 'POST', '/seed', { generate: { opportunities: 5_200 } });
    const all = await api.retrieveAll({ collection: 'opportunities', select: ['name'], maxPageSize: 2_000 });
    expect(all.value.length).toBeGreaterThanOrEqual(5_200);
    expect(new Set(all.value.map((r: { opportunityid: string }) => r.opportunityid)).size).toBe(
      all.value.length,
    );
    const skip = await raw('GET', 'opportunities?$skip=10');
    expect(skip.status).toBe(400);
    expect(skip.body.error.message).toMatch(/\$skip is not supported/);
  });

  it('runs a batch whose change set creates an account and an opportunity bound by Content-ID', async () => {
    api.startBatch();
    api.create<Record<string, unknown>, string>({
      collection: 'accounts',
      data: { name: 'Batch account' },
      contentId: '1',
    });
    api.create<Record<string, unknown>, string>({
      collection: 'opportunities',
      data: { name: 'Batch deal', 'customerid_account@odata.bind': '$1' },
    });
    const results = await api.executeBatch();
    expect(results).toHaveLength(2);
    const opportunity = await api.retrieve({
      collection: 'opportunities',
      key: String(results[1]),
      select: ['_customerid_value'],
    });
    expect(opportunity._customerid_value).toBe(results[0]);
  });

  it('a filter on a column or a lookup finds rows as they are now: after an update, and after a change set that failed was undone', async () => {
    const names = async (filter: string) =>
      (
        await api.retrieveMultiple<{ name: string }>({ collection: 'accounts', select: ['name'], filter })
      ).value.map((a) => a.name);
    const parent = await api.create<Record<string, unknown>, string>({
      collection: 'accounts',
      data: { name: 'Indexed parent' },
    });
    const child = await api.create<Record<string, unknown>, string>({
      collection: 'accounts',
      data: { name: 'Indexed child', 'parentaccountid@odata.bind': `/accounts(${parent})` },
    });
    expect(await names(`_parentaccountid_value eq ${parent.toUpperCase()}`)).toEqual(['Indexed child']);
    await api.update({ collection: 'accounts', key: child, data: { name: 'Indexed renamed' } });
    expect(await names("name eq 'INDEXED CHILD'")).toEqual([]);
    expect((await names("name eq 'indexed renamed' or name eq 'Indexed parent'")).sort()).toEqual([
      'Indexed parent',
      'Indexed renamed',
    ]);
    // An or across columns (an account by name and postal code, or by its parent) finds each row once.
    expect(
      (
        await names(
          `(name eq 'indexed renamed' and address1_postalcode eq null) or _parentaccountid_value eq ${parent} or name eq 'Indexed parent'`,
        )
      ).sort(),
    ).toEqual(['Indexed parent', 'Indexed renamed']);

    // A change set renames the child, then fails: the rename is undone, and so is what the index saw.
    api.startBatch();
    api.update({ collection: 'accounts', key: child, data: { name: 'Renamed in a failed set' } });
    api.update({ collection: 'accounts', key: '00000000-0000-0000-0000-000000000001', data: { name: 'x' } });
    await expect(api.executeBatch()).rejects.toBeDefined();
    expect(await names("name eq 'Renamed in a failed set'")).toEqual([]);
    expect(await names("name eq 'Indexed renamed'")).toEqual(['Indexed renamed']);
  });

  it('R25 GET /counters: a $batch is one request; each part counts by its own method and entity set', async () => {
    await control(emulator.info.control, 'DELETE', '/counters');
    api.startBatch();
    api.create({ collection: 'accounts', data: { name: 'Counted account' }, contentId: '1' });
    api.create({
      collection: 'opportunities',
      data: { name: 'Counted', 'customerid_account@odata.bind': '$1' },
    });
    api.retrieveMultiple({ collection: 'accounts', select: ['name'], top: 1 });
    await api.executeBatch();
    await api.retrieveMultiple({ collection: 'opportunities', select: ['name'], top: 1 });
    const counters = (await control(emulator.info.control, 'GET', '/counters')) as Record<string, unknown>;
    expect(counters).toMatchObject({
      api: 'dataverse',
      requests: 2,
      reads: 2,
      writes: 2,
      endpoints: {
        'POST /$batch': { kind: 'batch', direct: 1, batched: 0 },
        'POST /accounts': { kind: 'write', direct: 0, batched: 1 },
        'POST /opportunities': { kind: 'write', direct: 0, batched: 1 },
        'GET /accounts': { kind: 'read', direct: 0, batched: 1 },
        'GET /opportunities': { kind: 'read', direct: 1, batched: 0 },
      },
    });
  });

  it('rolls a change set back when one of its parts fails', async () => {
    api.startBatch();
    api.create<Record<string, unknown>, string>({
      collection: 'accounts',
      data: { name: 'Rolled back account' },
    });
    api.create<Record<string, unknown>, string>({
      collection: 'opportunities',
      data: { name: 'x'.repeat(301) },
    });
    await expect(api.executeBatch()).rejects.toBeTruthy();
    const left = await api.retrieveMultiple({
      collection: 'accounts',
      filter: "name eq 'Rolled back account'",
    });
    expect(left.value).toEqual([]);
  });

  it('tracks changes: a delta link lists edits and deletions; $filter with track-changes is refused', async () => {
    const first = await api.retrieveMultiple({
      collection: 'contacts',
      select: ['lastname'],
      trackChanges: true,
    });
    expect(first.oDataDeltaLink).toBeTruthy();
    const kept = await api.create<Record<string, unknown>, string>({
      collection: 'contacts',
      data: { lastname: 'Kept' },
    });
    const gone = await api.create<Record<string, unknown>, string>({
      collection: 'contacts',
      data: { lastname: 'Gone' },
    });
    const middle = await api.retrieveMultiple(
      { collection: 'contacts', select: ['lastname'] },
      first.oDataDeltaLink,
    );
    expect(middle.value.map((r: { contactid: string }) => r.contactid).sort()).toEqual([kept, gone].sort());
    await api.deleteRecord({ collection: 'contacts', key: gone });
    const delta = await raw('GET', middle.oDataDeltaLink!.slice(emulator.info.api.length));
    expect(delta.body.value).toEqual([
      expect.objectContaining({
        id: gone,
        reason: 'deleted',
        '@odata.context': expect.stringContaining('$deletedEntity'),
      }),
    ]);
    const filtered = await raw('GET', "contacts?$filter=lastname eq 'Kept'", {
      headers: { prefer: 'odata.track-changes' },
    });
    expect(filtered.status).toBe(400);
    expect(filtered.body.error.message).toMatch(/isn't supported when Change Tracking is enabled/);
  });

  it('expires a delta token after the change-tracking retention', async () => {
    const first = await raw('GET', 'accounts?$select=name', { headers: { prefer: 'odata.track-changes' } });
    await control(emulator.info.control, 'POST', '/clock', { advanceMs: 8 * 86_400_000 });
    token = await newToken();
    const expired = await raw('GET', String(first.body['@odata.deltaLink']).slice(emulator.info.api.length));
    expect(expired.status).toBe(400);
    expect(expired.body.error.message).toMatch(/expired.*full sync/i);
  });
});

describe('the Dataverse emulator refuses what Dataverse refuses', () => {
  it('conditional writes: If-None-Match * creates only, If-Match * updates only, a stale etag is 412', async () => {
    const create = await raw('PATCH', "opportunities(cosell_referralidentifier='R-cond')", {
      body: { name: 'Cond' },
      headers: { 'if-none-match': '*' },
    });
    expect(create.status).toBe(204);
    const again = await raw('PATCH', "opportunities(cosell_referralidentifier='R-cond')", {
      body: { name: 'Cond' },
      headers: { 'if-none-match': '*' },
    });
    expect(again.status).toBe(412);
    const missing = await raw('PATCH', "opportunities(cosell_referralidentifier='R-none')", {
      body: { name: 'x' },
      headers: { 'if-match': '*' },
    });
    expect(missing.status).toBe(404);
    const row = await raw('GET', "opportunities(cosell_referralidentifier='R-cond')?$select=name");
    await raw('PATCH', `opportunities(${row.body.opportunityid})`, { body: { description: 'moved on' } });
    const stale = await raw('PATCH', `opportunities(${row.body.opportunityid})`, {
      body: { name: 'late' },
      headers: { 'if-match': row.body['@odata.etag'] },
    });
    expect(stale.status).toBe(412);
    expect(stale.body.error.message).toMatch(/RowVersion/);
  });

  it('closing an opportunity by PATCH is refused; WinOpportunity closes it with an opportunityclose', async () => {
    const id = await api.create<Record<string, unknown>, string>({
      collection: 'opportunities',
      data: { name: 'To win', estimatedvalue: 500 },
    });
    const patch = await raw('PATCH', `opportunities(${id})`, { body: { statecode: 1, statuscode: 3 } });
    expect(patch.status).toBe(400);
    expect(patch.body.error.message).toMatch(/WinOpportunityRequest/);
    await api.callAction({
      actionName: 'WinOpportunity',
      action: {
        Status: 3,
        OpportunityClose: { subject: 'Won', 'opportunityid@odata.bind': `/opportunities(${id})` },
      },
    });
    const won = await api.retrieve({
      collection: 'opportunities',
      key: id,
      select: ['statecode', 'statuscode', 'actualvalue'],
    });
    expect(won).toMatchObject({ statecode: 1, statuscode: 3, actualvalue: 500 });
  });

  it("Merge moves the subordinate account's children to the target and deactivates it with masterid", async () => {
    const [target, subordinate] = await Promise.all(
      ['Contoso', 'Contoso Ltd'].map((name) =>
        api.create<Record<string, unknown>, string>({ collection: 'accounts', data: { name } }),
      ),
    );
    const opportunity = await api.create<Record<string, unknown>, string>({
      collection: 'opportunities',
      data: { name: 'On the duplicate', 'parentaccountid@odata.bind': `/accounts(${subordinate})` },
    });
    await api.callAction({
      actionName: 'Merge',
      action: {
        Target: { '@odata.type': 'Microsoft.Dynamics.CRM.account', accountid: target },
        Subordinate: { '@odata.type': 'Microsoft.Dynamics.CRM.account', accountid: subordinate },
        UpdateContent: { '@odata.type': 'Microsoft.Dynamics.CRM.account', telephone1: '555 0100' },
        PerformParentingChecks: false,
      },
    });
    const merged = await api.retrieve({
      collection: 'accounts',
      key: subordinate!,
      select: ['statecode', '_masterid_value'],
    });
    expect(merged).toMatchObject({ statecode: 1, _masterid_value: target });
    expect(
      await api.retrieve({
        collection: 'opportunities',
        key: opportunity!,
        select: ['_parentaccountid_value'],
      }),
    ).toMatchObject({ _parentaccountid_value: target });
    expect(
      await api.retrieve({ collection: 'accounts', key: target!, select: ['telephone1'] }),
    ).toMatchObject({
      telephone1: '555 0100',
    });
    const again = await raw('POST', 'Merge', {
      body: {
        Target: { '@odata.type': 'Microsoft.Dynamics.CRM.account', accountid: target },
        Subordinate: { '@odata.type': 'Microsoft.Dynamics.CRM.account', accountid: subordinate },
      },
    });
    expect(again.status).toBe(400);
    expect(again.body.error.message).toMatch(/active records/);
  });

  it('a reset fault closes the connection without an answer, count times', async () => {
    await control(emulator.info.control, 'POST', '/faults', { path: '/accounts', reset: true, count: 1 });
    await expect(raw('GET', 'accounts?$select=name')).rejects.toThrow();
    expect((await raw('GET', 'accounts?$select=name')).status).toBe(200);
  });

  it('answers a throttled client with 429, Retry-After in seconds and the documented code', async () => {
    await control(emulator.info.control, 'POST', '/faults', {
      status: 429,
      retryAfter: 2,
      count: 1,
      path: '/accounts',
    });
    const throttled = await raw('GET', 'accounts?$select=name');
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('2');
    expect(throttled.body.error.code).toBe('0x80072322');
  });

  it('counts requests against the service protection limit: over it, 429 with Retry-After in seconds and 0x80072322, counted as refused', async () => {
    await control(emulator.info.control, 'PUT', '/limits', { requestsPerWindow: 3, windowMs: 60_000 });
    try {
      for (let i = 0; i < 3; i++) expect((await raw('GET', 'accounts?$select=name&$top=1')).status).toBe(200);
      const over = await raw('GET', 'accounts?$select=name&$top=1');
      expect(over.status).toBe(429);
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(over.body.error).toMatchObject({
        code: '0x80072322',
        message: expect.stringMatching(/limit of 3/),
      });
      const status = await control<{ refused: Record<string, number> }>(
        emulator.info.control,
        'GET',
        '/limits',
      );
      expect(status.refused).toEqual({ '0x80072322': 1 });
    } finally {
      await control(emulator.info.control, 'PUT', '/limits', { requestsPerWindow: 6000, windowMs: 300_000 });
    }
  });

  it('with odata.continue-on-error a batch goes on after a failing part and answers 200 with each part', async () => {
    api.startBatch();
    api.create({ collection: 'opportunities', data: { name: 'x'.repeat(301) }, inChangeSet: false });
    api.create({ collection: 'accounts', data: { name: 'After the failure' }, inChangeSet: false });
    const results = await api.executeBatch({ continueOnError: true }).catch((e: unknown) => e);
    const stored = await api.retrieveMultiple({
      collection: 'accounts',
      filter: "name eq 'After the failure'",
    });
    expect(stored.value).toHaveLength(1);
    expect(Array.isArray(results) ? results.length : 0).toBe(2);
  });

  it('refuses a request without a valid token with 401 and the error envelope', async () => {
    const response = await fetch(`${emulator.info.api}accounts`, {
      headers: { authorization: 'Bearer forged' },
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/token/);
  });

  it('escapes: a hostile string in $filter and in an alternate key matches literally', async () => {
    const hostile = "O'Neil') or (name ne '";
    await api.create<Record<string, unknown>, string>({ collection: 'accounts', data: { name: hostile } });
    const found = await api.retrieveMultiple({
      collection: 'accounts',
      filter: `name eq '${hostile.replace(/'/g, "''")}'`,
    });
    expect(found.value.map((r: { name: string }) => r.name)).toEqual([hostile]);
    const key = `cosell_referralidentifier='${"R'1 or 1 eq 1".replace(/'/g, "''")}'`;
    expect(
      (await raw('PATCH', `opportunities(${encodeURIComponent(key)})`, { body: { name: 'Quoted key' } }))
        .status,
    ).toBe(204);
    expect(
      (await raw('GET', `opportunities(${encodeURIComponent(key)})?$select=cosell_referralidentifier`)).body
        .cosell_referralidentifier,
    ).toBe("R'1 or 1 eq 1");
  });
});
