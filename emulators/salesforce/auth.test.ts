import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSalesforceEmulator } from './server.ts';
import {
  demoJwtClaims,
  httpJson,
  readDemoPrivateKey,
  signJwtAssertion,
  startTestOrg,
  type TestOrg,
  tokenRequest,
} from './test-support.ts';

type Json = Record<string, unknown>;

let org: TestOrg;
let emulator: RunningSalesforceEmulator;

beforeAll(async () => {
  org = await startTestOrg();
  emulator = org.emulator;
});
afterAll(async () => {
  await org.close();
});

async function jwtLogin(claims: Json, key = readDemoPrivateKey(emulator)) {
  return tokenRequest(emulator, {
    grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
    assertion: signJwtAssertion(claims, key),
  });
}

describe('Salesforce emulator: OAuth', () => {
  it('JWT bearer: a valid RS256 assertion gets a session whose instance_url is the emulator', async () => {
    const result = await jwtLogin(demoJwtClaims(emulator));
    expect(result.status).toBe(200);
    const body = result.body as Json;
    expect(body).toMatchObject({
      token_type: 'Bearer',
      scope: 'api',
      instance_url: emulator.info.instanceUrl,
    });
    expect(String(body['access_token'])).toMatch(/^00D[0-9A-Za-z]{12}!/);
    expect(String(body['id'])).toMatch(/\/id\/00D[0-9A-Za-z]{15}\/005[0-9A-Za-z]{15}$/);
    const api = await httpJson(`${emulator.info.instanceUrl}/services/data/v60.0/limits`, {
      headers: { authorization: `Bearer ${String(body['access_token'])}` },
    });
    expect(api.status).toBe(200);
  });

  it('JWT bearer accepts https://login.salesforce.com and test.salesforce.com as audience', async () => {
    for (const aud of ['https://login.salesforce.com', 'https://test.salesforce.com']) {
      expect((await jwtLogin(demoJwtClaims(emulator, { aud }))).status).toBe(200);
    }
  });

  it('JWT bearer refuses a wrong key, issuer, subject, audience or an expired assertion', async () => {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const cases: [Json, string | undefined, string][] = [
      [demoJwtClaims(emulator), privateKey, 'invalid_grant'],
      [demoJwtClaims(emulator, { iss: 'someone-else' }), undefined, 'invalid_client_id'],
      [demoJwtClaims(emulator, { sub: 'nobody@example.com' }), undefined, 'invalid_grant'],
      [demoJwtClaims(emulator, { aud: 'https://evil.example' }), undefined, 'invalid_grant'],
      [demoJwtClaims(emulator, { exp: Math.floor(Date.now() / 1000) - 3600 }), undefined, 'invalid_grant'],
    ];
    for (const [claims, key, error] of cases) {
      const result = await jwtLogin(claims, key);
      expect(result.status).toBe(400);
      expect(result.body).toMatchObject({ error });
      expect(typeof (result.body as Json)['error_description']).toBe('string');
    }
  });

  it('client credentials: right secret logs in, wrong secret is invalid_client', async () => {
    const ok = await tokenRequest(emulator, {
      grant_type: 'client_credentials',
      client_id: emulator.info.clientId,
      client_secret: emulator.info.clientSecret,
    });
    expect(ok.status).toBe(200);
    const bad = await tokenRequest(emulator, {
      grant_type: 'client_credentials',
      client_id: emulator.info.clientId,
      client_secret: 'wrong',
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: 'invalid_client', error_description: 'invalid client credentials' });
    expect(JSON.stringify(bad.body)).not.toContain(emulator.info.clientSecret);
    const password = await tokenRequest(emulator, { grant_type: 'password', username: 'u', password: 'p' });
    expect((password.body as Json)['error']).toBe('unsupported_grant_type');
  });

  it('401 INVALID_SESSION_ID for a missing, bad or expired session', async () => {
    const url = `${emulator.info.instanceUrl}/services/data/v60.0/sobjects/Opportunity/describe`;
    const expected = [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }];
    expect(await httpJson(url)).toMatchObject({ status: 401, body: expected });
    expect(await httpJson(url, { headers: { authorization: 'Bearer nope' } })).toMatchObject({
      status: 401,
      body: expected,
    });
    const session = await startTestOrg();
    try {
      expect((await session.api('GET', '/limits')).status).toBe(200);
      await session.control('POST', '/tokens/expire');
      expect(await session.api('GET', '/limits')).toMatchObject({ status: 401, body: expected });
    } finally {
      await session.close();
    }
  });

  it('GET /services/data lists versions without a session', async () => {
    const result = await httpJson(`${emulator.info.instanceUrl}/services/data/`);
    expect(result.status).toBe(200);
    const versions = result.body as { version: string; label: string; url: string }[];
    expect(versions).toContainEqual({ label: "Spring '26", url: '/services/data/v66.0', version: '66.0' });
    expect(versions).toContainEqual({ label: "Winter '24", url: '/services/data/v59.0', version: '59.0' });
  });
});
