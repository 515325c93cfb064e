import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { opportunityBody, startTestOrg, type TestOrg } from './test-support.ts';

type Json = Record<string, unknown>;

let org: TestOrg;

beforeAll(async () => {
  org = await startTestOrg({ dailyApiLimit: 5 });
});
afterAll(async () => {
  await org.close();
});
beforeEach(async () => {
  await org.control('POST', '/reset');
});

describe('Salesforce emulator: API allocation, faults and counters', () => {
  it('Sforce-Limit-Info on every response; over the daily allocation 403 REQUEST_LIMIT_EXCEEDED', async () => {
    for (let i = 1; i <= 5; i++) {
      const result = await org.api('GET', '/limits');
      expect(result.headers.get('sforce-limit-info')).toBe(`api-usage=${i}/5`);
    }
    const refused = await org.api('POST', '/sobjects/Account', { Name: 'x' });
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual([
      { message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' },
    ]);
    expect(refused.headers.get('sforce-limit-info')).toBe('api-usage=5/5');
    // The allocation frees (control API), and work resumes.
    await org.control('PATCH', '/limits', { used: 0, dailyApiLimit: 10 });
    const limits = await org.api('GET', '/limits');
    expect((limits.body as Json)['DailyApiRequests']).toEqual({ Max: 10, Remaining: 9 });
  });

  it('faults: 503, UNABLE_TO_LOCK_ROW and delays on matching requests, count times', async () => {
    await org.control('POST', '/faults', {
      method: 'POST',
      path: '/sobjects/Opportunity',
      errorCode: 'UNABLE_TO_LOCK_ROW',
      count: 1,
    });
    const locked = await org.api('POST', '/sobjects/Opportunity', opportunityBody());
    expect(locked.status).toBe(400);
    expect((locked.body as Json[])[0]?.['errorCode']).toBe('UNABLE_TO_LOCK_ROW');
    expect((await org.api('POST', '/sobjects/Opportunity', opportunityBody())).status).toBe(201);

    await org.control('POST', '/faults', { path: '/limits', status: 503, count: 2 });
    expect((await org.api('GET', '/limits')).status).toBe(503);
    expect((await org.api('GET', '/limits')).status).toBe(503);
    expect((await org.api('GET', '/limits')).status).toBe(200);

    await org.control('PATCH', '/limits', { used: 0 });
    await org.control('POST', '/faults', { path: '/limits', delayMs: 150, count: 1 });
    const started = Date.now();
    expect((await org.api('GET', '/limits')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('a reset fault closes the connection without an answer, count times', async () => {
    await org.control('POST', '/faults', { path: '/limits', reset: true, count: 1 });
    await expect(org.api('GET', '/limits')).rejects.toThrow();
    expect((await org.api('GET', '/limits')).status).toBe(200);
  });

  it('counts calls by endpoint pattern; control calls are free', async () => {
    await org.control('POST', '/ui/Account', { Name: 'UI account' });
    await org.api('POST', '/sobjects/Opportunity', opportunityBody());
    await org.api('PATCH', '/sobjects/Opportunity/Referral_Identifier__c/r1', opportunityBody());
    const calls = (await org.control('GET', '/calls')).body as { apiCalls: number; byEndpoint: Json };
    expect(calls.apiCalls).toBe(2);
    expect(calls.byEndpoint).toMatchObject({
      'POST /sobjects/Opportunity': 1,
      'PATCH /sobjects/Opportunity/Referral_Identifier__c/:value': 1,
    });
    await org.control('DELETE', '/calls');
    expect(((await org.control('GET', '/calls')).body as { apiCalls: number }).apiCalls).toBe(0);
  });

  it('a late-committing seller save is stamped (SystemModstamp, LastModifiedDate) behind now; bad lags are refused', async () => {
    const bad = await org.control('PATCH', '/ui-commit-lag', { ms: -1 });
    expect(bad.status).toBe(400);
    expect(await org.control('PATCH', '/ui-commit-lag', { ms: 30_000 })).toMatchObject({ status: 200 });
    const before = Date.now();
    const created = await org.control('POST', '/ui/Account', { Name: 'Late Co' });
    const id = (created.body as Json)['id'] as string;
    const record = (await org.control('GET', `/ui/Account/${id}`)).body as Json;
    const stamp = Date.parse(String(record['SystemModstamp']).replace('+0000', 'Z'));
    expect(before - stamp).toBeGreaterThanOrEqual(29_000);
    expect(record['LastModifiedDate']).toBe(record['SystemModstamp']);
    // The API's own writes are not delayed.
    const api = await org.api('POST', '/sobjects/Account', { Name: 'Prompt Co' });
    const row = (await org.api('GET', `/sobjects/Account/${(api.body as Json)['id']}`)).body as Json;
    expect(Date.now() - Date.parse(String(row['SystemModstamp']).replace('+0000', 'Z'))).toBeLessThan(5_000);
  });
});
