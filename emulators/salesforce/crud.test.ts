import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { normaliseId } from './ids.ts';
import { DEFAULT_PACKAGE_DIR } from './package-files.ts';
import { opportunityBody, startTestOrg, type TestOrg } from './test-support.ts';

type SaveResult = { id: string; success: boolean; errors: unknown[]; created?: boolean };
type ErrorItem = { message: string; errorCode: string; fields?: string[] };
type Json = Record<string, unknown>;

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

async function createAccount(name = 'Contoso'): Promise<string> {
  const result = await org.api('POST', '/sobjects/Account', { Name: name, BillingPostalCode: '98052' });
  expect(result.status).toBe(201);
  return (result.body as SaveResult).id;
}

describe('Salesforce emulator: sObject CRUD', () => {
  it('creates with 201 and an 18-char id with the right prefix, reads with attributes, updates 204, deletes 204', async () => {
    const accountId = await createAccount();
    expect(accountId).toMatch(/^001[0-9A-Za-z]{15}$/);
    expect(normaliseId(accountId)).toBe(accountId);
    const created = await org.api('POST', '/sobjects/Opportunity', opportunityBody({ AccountId: accountId }));
    expect(created.status).toBe(201);
    const { id } = created.body as SaveResult;
    expect(id).toMatch(/^006/);
    expect(created.body).toEqual({ id, success: true, errors: [] });
    expect(created.headers.get('location')).toBe(`/services/data/v60.0/sobjects/Opportunity/${id}`);

    const read = await org.api('GET', `/sobjects/Opportunity/${id}`);
    const record = read.body as Json;
    expect(record['attributes']).toEqual({
      type: 'Opportunity',
      url: `/services/data/v60.0/sobjects/Opportunity/${id}`,
    });
    expect(record['CreatedDate']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$/);
    expect(record['IsClosed']).toBe(false);
    expect(record['Sync_with_Partner_Center__c']).toBe(false);

    // A 15-char id works too, and ?fields= limits the answer.
    const short = await org.api('GET', `/sobjects/Opportunity/${id.slice(0, 15)}?fields=Name,StageName`);
    expect(Object.keys(short.body as Json).sort()).toEqual(['Name', 'StageName', 'attributes']);

    const updated = await org.api('PATCH', `/sobjects/Opportunity/${id}`, { StageName: 'Closed Won' });
    expect(updated.status).toBe(204);
    const afterUpdate = (await org.api('GET', `/sobjects/Opportunity/${id}`)).body as Json;
    expect(afterUpdate).toMatchObject({ IsClosed: true, IsWon: true, Probability: 100 });
    expect(String(afterUpdate['SystemModstamp']) >= String(record['SystemModstamp'])).toBe(true);

    expect((await org.api('DELETE', `/sobjects/Opportunity/${id}`)).status).toBe(204);
    const gone = await org.api('GET', `/sobjects/Opportunity/${id}`);
    expect(gone.status).toBe(404);
    expect((gone.body as ErrorItem[])[0]?.errorCode).toBe('ENTITY_IS_DELETED');
  });

  it('REQUIRED_FIELD_MISSING names every missing field', async () => {
    const result = await org.api('POST', '/sobjects/Opportunity', { Name: 'x' });
    expect(result.status).toBe(400);
    expect(result.body).toEqual([
      {
        message: 'Required fields are missing: [StageName, CloseDate]',
        errorCode: 'REQUIRED_FIELD_MISSING',
        fields: ['StageName', 'CloseDate'],
      },
    ]);
  });

  it('INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST for a value outside How can Microsoft help?', async () => {
    const result = await org.api(
      'POST',
      '/sobjects/Opportunity',
      opportunityBody({ How_can_Microsoft_help__c: 'Free money' }),
    );
    expect(result.status).toBe(400);
    expect((result.body as ErrorItem[])[0]).toMatchObject({
      errorCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
      fields: ['How_can_Microsoft_help__c'],
    });
  });

  it('STRING_TOO_LONG past the field length', async () => {
    const result = await org.api(
      'POST',
      '/sobjects/Opportunity',
      opportunityBody({ Referral_Identifier__c: 'x'.repeat(101) }),
    );
    expect(result.status).toBe(400);
    expect((result.body as ErrorItem[])[0]).toMatchObject({
      errorCode: 'STRING_TOO_LONG',
      fields: ['Referral_Identifier__c'],
    });
  });

  it('NUMBER_OUTSIDE_VALID_RANGE past the digits of a number field (Amount holds 16 before the point)', async () => {
    const result = await org.api('POST', '/sobjects/Opportunity', opportunityBody({ Amount: 1e20 }));
    expect(result.status).toBe(400);
    expect((result.body as ErrorItem[])[0]).toMatchObject({
      errorCode: 'NUMBER_OUTSIDE_VALID_RANGE',
      fields: ['Amount'],
    });
    const largest = await org.api(
      'POST',
      '/sobjects/Opportunity',
      opportunityBody({ Amount: 9_999_999_999_999_998 }),
    );
    expect(largest.status).toBe(201);
  });

  it('INVALID_FIELD for unknown fields, and CurrencyIsoCode in a single-currency org', async () => {
    const unknown = await org.api('POST', '/sobjects/Opportunity', opportunityBody({ Nope__c: 1 }));
    expect(unknown.status).toBe(400);
    expect((unknown.body as ErrorItem[])[0]).toMatchObject({
      errorCode: 'INVALID_FIELD',
      message: "No such column 'Nope__c' on sobject of type Opportunity",
    });
    const currency = await org.api(
      'POST',
      '/sobjects/Opportunity',
      opportunityBody({ CurrencyIsoCode: 'EUR' }),
    );
    expect((currency.body as ErrorItem[])[0]?.errorCode).toBe('INVALID_FIELD');
  });

  it('R24 a create whose body carries Id answers the documented "Example of an error" exactly', async () => {
    const result = await org.api(
      'POST',
      '/sobjects/Opportunity',
      opportunityBody({ Id: '006000000000001AAA' }),
    );
    expect(result.status).toBe(400);
    expect(result.body).toEqual([
      { message: 'The Id field should not be specified in the sobject data.', errorCode: 'INVALID_FIELD' },
    ]);
  });

  it('INVALID_FIELD_FOR_INSERT_UPDATE for read-only fields', async () => {
    const result = await org.api(
      'POST',
      '/sobjects/Opportunity',
      opportunityBody({ IsWon: true, IsClosed: true }),
    );
    expect(result.status).toBe(400);
    expect((result.body as ErrorItem[])[0]).toMatchObject({
      errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE',
      fields: ['IsWon', 'IsClosed'],
    });
  });

  it('bad ids: NOT_FOUND in the URL, MALFORMED_ID in a reference field, NOT_FOUND for a missing record', async () => {
    const malformedPath = await org.api('GET', '/sobjects/Opportunity/not-an-id');
    expect(malformedPath.status).toBe(404);
    expect((malformedPath.body as ErrorItem[])[0]?.errorCode).toBe('NOT_FOUND');
    const malformedRef = await org.api(
      'POST',
      '/sobjects/Opportunity',
      opportunityBody({ AccountId: 'bad' }),
    );
    expect(malformedRef.status).toBe(400);
    expect((malformedRef.body as ErrorItem[])[0]).toMatchObject({
      errorCode: 'MALFORMED_ID',
      fields: ['AccountId'],
    });
    const missing = await org.api('GET', '/sobjects/Opportunity/0065g00000ZZZZZZZZ');
    expect(missing.status).toBe(404);
    const wrongType = await org.api('GET', '/sobjects/Nope__c/describe');
    expect(wrongType.status).toBe(404);
    expect(wrongType.body).toEqual([
      { errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' },
    ]);
  });

  it('DUPLICATE_VALUE on the unique Referral Identifier (case-insensitive)', async () => {
    expect(
      (await org.api('POST', '/sobjects/Opportunity', opportunityBody({ Referral_Identifier__c: 'ref-1' })))
        .status,
    ).toBe(201);
    const duplicate = await org.api(
      'POST',
      '/sobjects/Opportunity',
      opportunityBody({ Referral_Identifier__c: 'REF-1' }),
    );
    expect(duplicate.status).toBe(400);
    expect((duplicate.body as ErrorItem[])[0]?.errorCode).toBe('DUPLICATE_VALUE');
  });

  it('If-Unmodified-Since: 412 when the record changed after that date', async () => {
    const { id } = (await org.api('POST', '/sobjects/Opportunity', opportunityBody())).body as SaveResult;
    const past = new Date(Date.now() - 60_000).toUTCString();
    const stale = await org.api(
      'PATCH',
      `/sobjects/Opportunity/${id}`,
      { Name: 'y' },
      { 'if-unmodified-since': past },
    );
    expect(stale.status).toBe(412);
    const future = new Date(Date.now() + 60_000).toUTCString();
    const fresh = await org.api(
      'PATCH',
      `/sobjects/Opportunity/${id}`,
      { Name: 'y' },
      { 'if-unmodified-since': future },
    );
    expect(fresh.status).toBe(204);
  });
});

describe('Salesforce emulator: upsert by Referral_Identifier__c', () => {
  it('the same create sent twice gives one record: 201 created, then 200 updated', async () => {
    const path = '/sobjects/Opportunity/Referral_Identifier__c/ref-42';
    const first = await org.api('PATCH', path, opportunityBody());
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ success: true, created: true });
    const second = await org.api('PATCH', path, opportunityBody({ Amount: 1000 }));
    expect(second.status).toBe(200);
    expect(second.body).toEqual({
      id: (first.body as SaveResult).id,
      success: true,
      errors: [],
      created: false,
    });
    const read = await org.api('GET', path);
    expect(read.body).toMatchObject({
      Id: (first.body as SaveResult).id,
      Amount: 1000,
      Referral_Identifier__c: 'ref-42',
    });
    const count = await org.api('GET', `/query?q=${encodeURIComponent('SELECT COUNT() FROM Opportunity')}`);
    expect((count.body as Json)['totalSize']).toBe(1);
  });

  it('url-encoded external ids round-trip and updateOnly refuses to create', async () => {
    const key = encodeURIComponent('a/b c');
    expect(
      (await org.api('PATCH', `/sobjects/Opportunity/Referral_Identifier__c/${key}`, opportunityBody()))
        .status,
    ).toBe(201);
    expect((await org.api('GET', `/sobjects/Opportunity/Referral_Identifier__c/${key}`)).body).toMatchObject({
      Referral_Identifier__c: 'a/b c',
    });
    const updateOnly = await org.api(
      'PATCH',
      '/sobjects/Opportunity/Referral_Identifier__c/new?updateOnly=true',
      opportunityBody(),
    );
    expect(updateOnly.status).toBe(404);
  });

  it('300 with the matching URLs when an external id matches several records, nothing written', async () => {
    // An org set up from the old connector guide has Referral Identifier as External ID but not Unique.
    const dir = mkdtempSync(join(tmpdir(), 'cosell-sf-package-'));
    cpSync(DEFAULT_PACKAGE_DIR, dir, { recursive: true });
    const file = join(
      dir,
      'force-app/main/default/objects/Opportunity/fields/Referral_Identifier__c.field-meta.xml',
    );
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('<unique>true</unique>', '<unique>false</unique>'),
    );
    const loose = await startTestOrg({ packageDir: dir });
    try {
      await loose.api('POST', '/sobjects/Opportunity', opportunityBody({ Referral_Identifier__c: 'dup' }));
      await loose.api('POST', '/sobjects/Opportunity', opportunityBody({ Referral_Identifier__c: 'dup' }));
      const result = await loose.api('PATCH', '/sobjects/Opportunity/Referral_Identifier__c/dup', {
        Name: 'changed',
      });
      expect(result.status).toBe(300);
      expect(result.body as string[]).toHaveLength(2);
      expect((result.body as string[])[0]).toMatch(/^\/services\/data\/v60\.0\/sobjects\/Opportunity\/006/);
      const names = await loose.api(
        'GET',
        `/query?q=${encodeURIComponent("SELECT Name FROM Opportunity WHERE Name = 'changed'")}`,
      );
      expect((names.body as Json)['totalSize']).toBe(0);
    } finally {
      await loose.close();
      rmSync(dir, { recursive: true, force: true });
    }
    // A field that is not an external id cannot key an upsert at all.
    const notExternal = await org.api(
      'PATCH',
      '/sobjects/Opportunity/Microsoft_CRM_Identifier__c/x',
      opportunityBody(),
    );
    expect(notExternal.status).toBe(404);
  });

  it('a parent can be given by its external id in the body', async () => {
    await org.api('PATCH', '/sobjects/Opportunity/Referral_Identifier__c/ref-p', opportunityBody());
    const solution = await org.api('POST', '/sobjects/Microsoft_Solution_Detail__c', {
      Name: 'Contoso AI',
      Solution_Id__c: 'SOL-34104-EBB',
    });
    expect(solution.status).toBe(201);
    const link = await org.api('POST', '/sobjects/Microsoft_Partner_Center_Solution__c', {
      Opportunity__r: { Referral_Identifier__c: 'ref-p' },
      Solution__r: { Solution_Id__c: 'SOL-34104-EBB' },
    });
    expect(link.status).toBe(201);
    const read = (
      await org.api('GET', `/sobjects/Microsoft_Partner_Center_Solution__c/${(link.body as SaveResult).id}`)
    ).body as Json;
    expect(read['Name']).toBe('MPCS-000001');
    expect(read['Solution__c']).toBe((solution.body as SaveResult).id);
    // Solution__c restricts deletion: a catalogue entry in use cannot be deleted.
    const blocked = await org.api(
      'DELETE',
      `/sobjects/Microsoft_Solution_Detail__c/${(solution.body as SaveResult).id}`,
    );
    expect(blocked.status).toBe(400);
    expect((blocked.body as ErrorItem[])[0]?.errorCode).toBe('DELETE_FAILED');
  });

  it('one primary contact role per opportunity; deleting the opportunity deletes its roles', async () => {
    const { id: opportunityId } = (await org.api('POST', '/sobjects/Opportunity', opportunityBody()))
      .body as SaveResult;
    const contact = async (name: string) =>
      ((await org.api('POST', '/sobjects/Contact', { LastName: name })).body as SaveResult).id;
    const role = async (contactId: string) =>
      (
        (
          await org.api('POST', '/sobjects/OpportunityContactRole', {
            OpportunityId: opportunityId,
            ContactId: contactId,
            IsPrimary: true,
          })
        ).body as SaveResult
      ).id;
    const first = await role(await contact('A'));
    const second = await role(await contact('B'));
    expect((await org.api('GET', `/sobjects/OpportunityContactRole/${first}`)).body).toMatchObject({
      IsPrimary: false,
    });
    expect((await org.api('GET', `/sobjects/OpportunityContactRole/${second}`)).body).toMatchObject({
      IsPrimary: true,
    });
    expect((await org.api('DELETE', `/sobjects/Opportunity/${opportunityId}`)).status).toBe(204);
    expect((await org.api('GET', `/sobjects/OpportunityContactRole/${second}`)).status).toBe(404);
  });
});

describe('Salesforce emulator: describe, FLS and org shapes', () => {
  it('describe reports the shipped fields with their metadata', async () => {
    const result = await org.api('GET', '/sobjects/Opportunity/describe');
    expect(result.status).toBe(200);
    const fields = (result.body as { fields: Json[] }).fields;
    const byName = (name: string) => fields.find((f) => f['name'] === name);
    expect(byName('Referral_Identifier__c')).toMatchObject({
      type: 'string',
      length: 100,
      externalId: true,
      unique: true,
      updateable: true,
    });
    expect(byName('Audit__c')).toMatchObject({ type: 'textarea', length: 100000 });
    expect(byName('Sync_with_Partner_Center__c')).toMatchObject({
      type: 'boolean',
      nillable: false,
      defaultValue: false,
    });
    expect(byName('StageName')).toMatchObject({ type: 'picklist', nillable: false });
    expect(((byName('StageName')?.['picklistValues'] ?? []) as Json[]).map((v) => v['value'])).toContain(
      'Closed Won',
    );
    expect(byName('IsWon')).toMatchObject({ createable: false, updateable: false });
    expect(byName('AccountId')).toMatchObject({
      type: 'reference',
      referenceTo: ['Account'],
      relationshipName: 'Account',
    });
    const rels = (result.body as { childRelationships: Json[] }).childRelationships.map(
      (r) => r['relationshipName'],
    );
    expect(rels).toEqual(
      expect.arrayContaining(['OpportunityContactRoles', 'Microsoft_Partner_Center_Solutions__r']),
    );
    const lead = (await org.api('GET', '/sobjects/Lead/describe')).body as { fields: Json[] };
    const status = lead.fields.find((f) => f['name'] === 'Status');
    expect(
      ((status?.['picklistValues'] ?? []) as Json[]).find((v) => v['defaultValue'] === true)?.['value'],
    ).toBe('Open - Not Contacted');
  });

  it('R18 with the permission set unassigned the integration user sees no custom fields or objects', async () => {
    await org.control('POST', '/permset', { assigned: false });
    const describeResult = (await org.api('GET', '/sobjects/Opportunity/describe')).body as {
      fields: Json[];
    };
    expect(describeResult.fields.some((f) => String(f['name']).endsWith('__c'))).toBe(false);
    expect((await org.api('GET', '/sobjects/Microsoft_Solution_Detail__c/describe')).status).toBe(404);
    const write = await org.api(
      'POST',
      '/sobjects/Opportunity',
      opportunityBody({ Referral_Identifier__c: 'x' }),
    );
    expect((write.body as ErrorItem[])[0]?.errorCode).toBe('INVALID_FIELD');
    await org.control('POST', '/permset', { assigned: true });
    expect((await org.api('GET', '/sobjects/Microsoft_Solution_Detail__c/describe')).status).toBe(200);
  });

  it('R18 a weakened permission set shows read-only fields as not updateable and hides others', async () => {
    await org.control('POST', '/permset', {
      assigned: true,
      readOnlyFields: ['Opportunity.Audit__c'],
      hiddenFields: ['Opportunity.Referral_Link__c'],
    });
    const fields = ((await org.api('GET', '/sobjects/Opportunity/describe')).body as { fields: Json[] })
      .fields;
    expect(fields.find((f) => f['name'] === 'Audit__c')).toMatchObject({
      createable: false,
      updateable: false,
    });
    expect(fields.some((f) => f['name'] === 'Referral_Link__c')).toBe(false);
    const write = await org.api('POST', '/sobjects/Opportunity', opportunityBody({ Audit__c: 'line' }));
    expect((write.body as ErrorItem[])[0]?.errorCode).toBe('INVALID_FIELD_FOR_INSERT_UPDATE');
  });

  it('lead conversion in the UI creates account, contact, opportunity and marks the lead', async () => {
    const lead = await org.control('POST', '/ui/Lead', {
      LastName: 'Doe',
      FirstName: 'Jane',
      Company: 'Fabrikam',
      Email: 'jane@fabrikam.example',
      Country: 'US',
      Referral_Identifier__c: 'lead-ref-1',
    });
    expect(lead.status).toBe(201);
    const leadId = (lead.body as SaveResult).id;
    expect(leadId).toMatch(/^00Q/);
    expect((await org.api('GET', `/sobjects/Lead/${leadId}`)).body).toMatchObject({
      Status: 'Open - Not Contacted',
      Name: 'Jane Doe',
    });
    const converted = await org.control('POST', `/ui/Lead/${leadId}/convert`, {});
    expect(converted.status).toBe(200);
    const result = converted.body as { accountId: string; contactId: string; opportunityId: string };
    const readLead = (await org.api('GET', `/sobjects/Lead/${leadId}`)).body as Json;
    expect(readLead).toMatchObject({
      IsConverted: true,
      Status: 'Closed - Converted',
      ConvertedAccountId: result.accountId,
      ConvertedContactId: result.contactId,
      ConvertedOpportunityId: result.opportunityId,
    });
    expect((await org.api('GET', `/sobjects/Opportunity/${result.opportunityId}`)).body).toMatchObject({
      AccountId: result.accountId,
      Referral_Identifier__c: 'lead-ref-1',
    });
    const roles = await org.api(
      'GET',
      `/query?q=${encodeURIComponent(`SELECT ContactId, IsPrimary FROM OpportunityContactRole WHERE OpportunityId = '${result.opportunityId}'`)}`,
    );
    expect((roles.body as { records: Json[] }).records[0]).toMatchObject({
      ContactId: result.contactId,
      IsPrimary: true,
    });
    const edit = await org.api('PATCH', `/sobjects/Lead/${leadId}`, { Title: 'CTO' });
    expect((edit.body as ErrorItem[])[0]?.errorCode).toBe('CANNOT_UPDATE_CONVERTED_LEAD');
  });

  it("merging in the UI reparents the duplicate's children and deletes it with MasterRecordId", async () => {
    const account = async (Name: string) =>
      ((await org.control('POST', '/ui/Account', { Name })).body as SaveResult).id;
    const master = await account('Northwind');
    const duplicate = await account('Northwind Traders');
    const opportunity = (
      (await org.control('POST', '/ui/Opportunity', opportunityBody({ AccountId: duplicate })))
        .body as SaveResult
    ).id;
    const merged = await org.control('POST', `/ui/Account/${master}/merge`, { mergeIds: [duplicate] });
    expect(merged.body).toMatchObject({
      id: master,
      mergedRecordIds: [duplicate],
      updatedRelatedIds: [opportunity],
    });
    expect((await org.api('GET', `/sobjects/Account/${duplicate}`)).status).toBe(404);
    const all = await org.api(
      'GET',
      `/queryAll?q=${encodeURIComponent(`SELECT Id, IsDeleted, MasterRecordId FROM Account WHERE Id = '${duplicate}'`)}`,
    );
    expect((all.body as { records: Json[] }).records[0]).toMatchObject({
      IsDeleted: true,
      MasterRecordId: master,
    });
    expect((await org.api('GET', `/sobjects/Opportunity/${opportunity}`)).body).toMatchObject({
      AccountId: master,
    });
    const refused = await org.control('POST', `/ui/Opportunity/${opportunity}/merge`, { mergeIds: [master] });
    expect((refused.body as ErrorItem[])[0]?.errorCode).toBe('INVALID_TYPE');
  });

  it('UI edits validate and stamp like API edits but are not API calls', async () => {
    await org.control('DELETE', '/calls');
    const created = await org.control('POST', '/ui/Opportunity', opportunityBody());
    const id = (created.body as SaveResult).id;
    expect((await org.control('PATCH', `/ui/Opportunity/${id}`, { StageName: 'Nope' })).status).toBe(400);
    expect(
      (await org.control('PATCH', `/ui/Opportunity/${id}`, { Sync_with_Partner_Center__c: true })).status,
    ).toBe(204);
    const calls = (await org.control('GET', '/calls')).body as { apiCalls: number };
    expect(calls.apiCalls).toBe(0);
    const record = (await org.api('GET', `/sobjects/Opportunity/${id}`)).body as Json;
    expect(record['Sync_with_Partner_Center__c']).toBe(true);
    // The seller made both edits: the record carries the seller, not the integration user.
    expect(record['LastModifiedById']).toBe(record['OwnerId']);
    const me = await org.api(
      'GET',
      `/query?q=${encodeURIComponent(`SELECT Id FROM User WHERE Username = '${org.emulator.info.username}'`)}`,
    );
    expect(record['LastModifiedById']).not.toBe((me.body as { records: Json[] }).records[0]?.['Id']);
  });
});

describe('Salesforce emulator: bare and multi-currency orgs', () => {
  it('R18 a bare org has only standard fields (for doctor) and no custom objects', async () => {
    const bare = await startTestOrg({ bare: true });
    try {
      const fields = ((await bare.api('GET', '/sobjects/Opportunity/describe')).body as { fields: Json[] })
        .fields;
      expect(fields.map((f) => f['name'])).toContain('StageName');
      expect(fields.some((f) => String(f['name']).endsWith('__c'))).toBe(false);
      expect((await bare.api('GET', '/sobjects/Microsoft_Solution_Detail__c/describe')).status).toBe(404);
    } finally {
      await bare.close();
    }
  });

  it('a multi-currency org accepts CurrencyIsoCode and refuses unknown codes', async () => {
    const multi = await startTestOrg({ multiCurrency: true });
    try {
      const ok = await multi.api(
        'POST',
        '/sobjects/Opportunity',
        opportunityBody({ CurrencyIsoCode: 'EUR' }),
      );
      expect(ok.status).toBe(201);
      const bad = await multi.api(
        'POST',
        '/sobjects/Opportunity',
        opportunityBody({ CurrencyIsoCode: 'XXX' }),
      );
      expect((bad.body as ErrorItem[])[0]?.errorCode).toBe('INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST');
    } finally {
      await multi.close();
    }
  });
});
