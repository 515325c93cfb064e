/**
 * The proof that the emulator speaks the real wire format: jsforce 3.10.16 itself, pointed at it, runs an
 * ordinary session without errors.
 */
import { Connection } from 'jsforce';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSalesforceEmulator } from './server.ts';
import {
  demoJwtClaims,
  readDemoPrivateKey,
  signJwtAssertion,
  startTestOrg,
  type TestOrg,
} from './test-support.ts';

let org: TestOrg;
let emulator: RunningSalesforceEmulator;

beforeAll(async () => {
  org = await startTestOrg({ queryBatchSize: 50 });
  emulator = org.emulator;
});
afterAll(async () => {
  await org.close();
});

function newConnection(): Connection {
  return new Connection({
    oauth2: {
      loginUrl: emulator.info.loginUrl,
      clientId: emulator.info.clientId,
      clientSecret: emulator.info.clientSecret,
    },
    version: '60.0',
  });
}

describe('jsforce 3.10.16 against the Salesforce emulator', () => {
  it('logs in with client credentials and with a JWT bearer assertion', async () => {
    const viaSecret = newConnection();
    const user = await viaSecret.authorize({ grant_type: 'client_credentials' });
    expect(user.organizationId).toMatch(/^00D/);
    expect(viaSecret.instanceUrl).toBe(emulator.info.instanceUrl);

    const viaJwt = newConnection();
    const assertion = signJwtAssertion(demoJwtClaims(emulator), readDemoPrivateKey(emulator));
    await viaJwt.authorize({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion });
    const identity = await viaJwt.identity();
    expect(identity.username).toBe(emulator.info.username);
  });

  it('runs describe, create, update, upsert, query with autoFetch, composite and collections', async () => {
    const conn = newConnection();
    await conn.authorize({ grant_type: 'client_credentials' });

    const described = await conn.sobject('Opportunity').describe();
    expect(described.fields.map((f) => f.name)).toContain('Referral_Identifier__c');

    const account = await conn.sobject('Account').create({ Name: "O'Brien \\ Sons" });
    expect(account.success).toBe(true);
    const created = await conn.sobject('Opportunity').create({
      Name: 'jsforce deal',
      StageName: 'Prospecting',
      CloseDate: '2026-12-31',
      AccountId: account.id,
    });
    expect(created.success).toBe(true);
    const opportunityId = created.id ?? '';
    const updated = await conn.sobject('Opportunity').update({ Id: opportunityId, Amount: 5000 });
    expect(updated.success).toBe(true);
    const retrieved = await conn.sobject('Opportunity').retrieve(opportunityId);
    expect(retrieved['Amount']).toBe(5000);

    const upsert = {
      Name: 'upserted',
      StageName: 'Prospecting',
      CloseDate: '2026-12-31',
      Referral_Identifier__c: 'js-1',
    };
    const first = await conn.sobject('Opportunity').upsert(upsert, 'Referral_Identifier__c');
    const second = await conn.sobject('Opportunity').upsert(upsert, 'Referral_Identifier__c');
    expect(first).toMatchObject({ success: true });
    expect(second).toMatchObject({ success: true });

    // Collections: jsforce sends arrays to /composite/sobjects.
    const many = await conn.sobject('Opportunity').create(
      Array.from({ length: 150 }, (_, i) => ({
        Name: `bulk ${i}`,
        StageName: 'Qualification',
        CloseDate: '2026-12-31',
      })),
      { allOrNone: true },
    );
    expect(many.every((r) => r.success)).toBe(true);
    const manyUpserts = await conn.sobject('Opportunity').upsert(
      [
        { ...upsert, Referral_Identifier__c: 'js-2' },
        { ...upsert, Referral_Identifier__c: 'js-1', Amount: 7 },
      ],
      'Referral_Identifier__c',
    );
    expect(manyUpserts.every((r) => r.success)).toBe(true);

    // Query with autoFetch pages through nextRecordsUrl (batches of 50 here).
    const records: Record<string, unknown>[] = [];
    await new Promise<void>((resolve, reject) => {
      conn
        .query('SELECT Id, Name, Account.Name FROM Opportunity ORDER BY Name')
        .on('record', (record: Record<string, unknown>) => records.push(record))
        .on('end', () => resolve())
        .on('error', reject)
        .run({ autoFetch: true, maxFetch: 10_000 });
    });
    expect(records).toHaveLength(153);
    const calls = (await org.control('GET', '/calls')).body as { byEndpoint: Record<string, number> };
    expect(calls.byEndpoint['GET /query/:locator']).toBe(3);
    const escaped = "O\\'Brien \\\\ Sons";
    const found = await conn.query(`SELECT Name FROM Account WHERE Name = '${escaped}'`);
    expect(found.totalSize).toBe(1);

    // Composite through jsforce's raw request (jsforce has no composite helper).
    const composite = await conn.requestPost<{ compositeResponse: { httpStatusCode: number }[] }>(
      '/services/data/v60.0/composite',
      {
        allOrNone: true,
        compositeRequest: [
          {
            method: 'POST',
            url: '/services/data/v60.0/sobjects/Account',
            referenceId: 'acc',
            body: { Name: 'Composite Co' },
          },
          {
            method: 'POST',
            url: '/services/data/v60.0/sobjects/Contact',
            referenceId: 'con',
            body: { LastName: 'Lee', AccountId: '@{acc.id}' },
          },
        ],
      },
    );
    expect(composite.compositeResponse.map((r) => r.httpStatusCode)).toEqual([201, 201]);

    const destroyed = await conn.sobject('Opportunity').destroy(opportunityId);
    expect(destroyed.success).toBe(true);
    const limits = await conn.limits();
    expect(limits.DailyApiRequests?.Max).toBe(100_000);
  });

  it('surfaces Salesforce errors as jsforce errors with the errorCode', async () => {
    const conn = newConnection();
    await conn.authorize({ grant_type: 'client_credentials' });
    await expect(conn.sobject('Opportunity').create({ Name: 'missing stage' })).rejects.toMatchObject({
      errorCode: 'REQUIRED_FIELD_MISSING',
    });
    await expect(conn.query('SELECT Nope__c FROM Opportunity')).rejects.toMatchObject({
      errorCode: 'INVALID_FIELD',
    });
  });
});
