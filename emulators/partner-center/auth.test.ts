// The emulator's Entra-shaped token endpoint and the Partner Center bearer checks, over real HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFERRALS_SCOPE, startTestEmulator, type TestEmulator, WEBHOOKS_SCOPE } from './test-support.ts';

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator({ deviceCodeApproval: 'manual' });
});
afterAll(async () => {
  await emu.close();
});

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** A script's sign-in as the demo admin (password grant: no MFA claim), with a refresh token. */
const passwordSignIn = () =>
  emu.tokenRequest({
    grant_type: 'password',
    client_id: emu.pc.info.clientId,
    username: emu.pc.info.username,
    password: emu.pc.info.password,
    scope: `${REFERRALS_SCOPE} offline_access`,
  });

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('token endpoint', () => {
  it('R3 device code flow: pending until approved through the control API, then Entra-shaped user tokens', async () => {
    const { info } = emu.pc;
    const start = await emu.tokenRequest(
      { client_id: info.clientId, scope: `${REFERRALS_SCOPE} openid profile offline_access` },
      info.deviceCode,
    );
    expect(start.status).toBe(200);
    expect(start.body).toMatchObject({ interval: 1, expires_in: 900 });
    expect(start.body.verification_uri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    expect(String(start.body.message)).toContain(String(start.body.user_code));

    const poll = () =>
      emu.tokenRequest({
        grant_type: DEVICE_GRANT,
        client_id: info.clientId,
        device_code: String(start.body.device_code),
      });
    const pending = await poll();
    expect(pending.status).toBe(400);
    expect(pending.body.error).toBe('authorization_pending');
    expect(pending.body.error_codes).toEqual([70016]);
    expect(String(pending.body.error_description)).toMatch(/^AADSTS70016: /);

    const listed = await emu.control<Array<Record<string, unknown>>>('/device-codes');
    expect(listed.body.find((c) => c.user_code === start.body.user_code)?.status).toBe('pending');
    const approved = await emu.control(`/device-codes/${String(start.body.user_code)}/approve`, {
      method: 'POST',
      body: {},
    });
    expect(approved.status).toBe(200);

    const done = await poll();
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, ext_expires_in: 3600 });
    for (const key of ['access_token', 'refresh_token', 'id_token', 'client_info', 'scope'])
      expect(typeof done.body[key]).toBe('string');
    const access = claimsOf(String(done.body.access_token));
    expect(access).toMatchObject({
      aud: 'https://api.partner.microsoft.com',
      upn: info.username,
      roles: ['ReferralsAdmin'],
    });
    expect(typeof access.oid).toBe('string');
    const id = claimsOf(String(done.body.id_token));
    expect(id).toMatchObject({
      aud: info.clientId,
      tid: info.tenantId,
      preferred_username: info.username,
      oid: access.oid,
    });
    for (const claim of ['iss', 'iat', 'nbf', 'exp', 'name']) expect(id[claim]).toBeDefined();
    const clientInfo = JSON.parse(Buffer.from(String(done.body.client_info), 'base64url').toString('utf8'));
    expect(clientInfo).toEqual({ uid: access.oid, utid: info.tenantId });

    const api = await emu.api('/referrals', { token: String(done.body.access_token) });
    expect(api.status).toBe(200);
    // A device code is good for one sign-in.
    expect((await poll()).body.error).toBe('invalid_grant');
  });

  it('R3 a refresh token yields a token for the other API (Entra refresh tokens are multi-resource)', async () => {
    const { info } = emu.pc;
    const first = await passwordSignIn();
    const webhooks = await emu.tokenRequest({
      grant_type: 'refresh_token',
      client_id: info.clientId,
      refresh_token: String(first.body.refresh_token),
      scope: `${WEBHOOKS_SCOPE} offline_access`,
    });
    expect(webhooks.status).toBe(200);
    expect(claimsOf(String(webhooks.body.access_token)).aud).toBe('https://api.partnercenter.microsoft.com');
    const events = await fetch(`${info.webhooks}/registration/events`, {
      headers: { authorization: `Bearer ${String(webhooks.body.access_token)}` },
    });
    expect(events.status).toBe(200);
  });

  it('R3 password grant with a wrong password answers the Entra error shape (AADSTS50126)', async () => {
    const { info } = emu.pc;
    const answer = await emu.tokenRequest({
      grant_type: 'password',
      client_id: info.clientId,
      username: info.username,
      password: 'wrong',
      scope: REFERRALS_SCOPE,
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_grant', error_codes: [50126] });
    expect(String(answer.body.error_description)).toMatch(/^AADSTS50126: /);
    expect(String(answer.body.error_description)).not.toContain('wrong');
  });

  it('accepts the v1 form (POST /{tenant}/oauth2/token with resource=) for any tenant segment', async () => {
    const { info } = emu.pc;
    const answer = await emu.tokenRequest(
      {
        grant_type: 'password',
        client_id: info.clientId,
        username: info.username,
        password: info.password,
        resource: 'https://api.partner.microsoft.com',
        scope: 'openid',
      },
      `${info.authorityHost}/common/oauth2/token`,
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      token_type: 'Bearer',
      resource: 'https://api.partner.microsoft.com',
      expires_in: '3600',
    });
    expect((await emu.api('/referrals', { token: String(answer.body.access_token) })).status).toBe(200);
  });

  it('refuses a scope that names two APIs at once, as Entra does', async () => {
    const { info } = emu.pc;
    const answer = await emu.tokenRequest({
      grant_type: 'password',
      client_id: info.clientId,
      username: info.username,
      password: info.password,
      scope: `${REFERRALS_SCOPE} ${WEBHOOKS_SCOPE}`,
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error_codes).toEqual([28000]);
  });
});

describe('bearer checks', () => {
  it('R3 missing token -> 401 unauthenticated with WWW-Authenticate: Bearer', async () => {
    const answer = await emu.api('/referrals', { token: null });
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(answer.body).toEqual({
      error: { code: 'unauthenticated', message: expect.any(String), target: 'Authorization' },
    });
  });

  it('R3 client credentials (app-only) token is refused by the Referrals API, accepted by the Webhooks API', async () => {
    const { info } = emu.pc;
    const app = await emu.tokenRequest({
      grant_type: 'client_credentials',
      client_id: info.clientId,
      client_secret: 'app-secret',
      scope: REFERRALS_SCOPE,
    });
    expect(app.status).toBe(200);
    expect(app.body.refresh_token).toBeUndefined();
    const refused = await emu.api('/referrals', { token: String(app.body.access_token) });
    expect(refused.status).toBe(401);
    expect((refused.body as { error: { message: string } }).error.message).toContain('App+User');

    const hooks = await emu.tokenRequest({
      grant_type: 'client_credentials',
      client_id: info.clientId,
      client_secret: 'app-secret',
      scope: WEBHOOKS_SCOPE,
    });
    const events = await fetch(`${info.webhooks}/registration/events`, {
      headers: { authorization: `Bearer ${String(hooks.body.access_token)}` },
    });
    expect(events.status).toBe(200);
  });

  it('R3 a token for the Webhooks API is refused by the Referrals API and vice versa (401)', async () => {
    const hooksToken = await emu.userToken(WEBHOOKS_SCOPE);
    const refused = await emu.api('/referrals', { token: hooksToken });
    expect(refused.status).toBe(401);
    expect((refused.body as { error: { message: string } }).error.message).toContain(
      'https://api.partner.microsoft.com/.default',
    );
    const referralsToken = await emu.userToken(REFERRALS_SCOPE);
    const other = await fetch(`${emu.pc.info.webhooks}/registration/events`, {
      headers: { authorization: `Bearer ${referralsToken}` },
    });
    expect(other.status).toBe(401);
  });

  it('R28 a user without the Referrals Admin/User role gets 403 accessDenied naming the role', async () => {
    const created = await emu.control('/users', {
      method: 'POST',
      body: { username: 'viewer@contoso-partner.example', password: 'pw-viewer', roles: ['Account Admin'] },
    });
    expect(created.status).toBe(201);
    expect(created.body.password).toBeUndefined();
    const token = await emu.userToken(REFERRALS_SCOPE, 'viewer@contoso-partner.example', 'pw-viewer');
    const denied = await emu.api('/referrals', { token });
    expect(denied.status).toBe(403);
    expect(denied.body).toEqual({
      error: {
        code: 'accessDenied',
        message: expect.stringContaining(
          'does not have the Referrals Admin or Referrals User role in Partner Center',
        ),
        target: 'referral',
      },
    });
    // Granting the role takes effect on the next call, as Partner Center checks roles per request.
    await emu.control('/users', {
      method: 'POST',
      body: { username: 'viewer@contoso-partner.example', password: 'pw-viewer', roles: ['Referrals User'] },
    });
    expect((await emu.api('/referrals', { token })).status).toBe(200);
  });

  it('R28 revoked credentials: access and refresh tokens stop working (401 / invalid_grant 50173) until a new sign-in', async () => {
    const { info } = emu.pc;
    const signIn = passwordSignIn;
    const before = await signIn();
    expect((await emu.api('/referrals', { token: String(before.body.access_token) })).status).toBe(200);
    expect((await emu.control('/tokens/revoke', { method: 'POST' })).status).toBe(200);
    emu.forgetTokens();
    const after = await emu.api('/referrals', { token: String(before.body.access_token) });
    expect(after.status).toBe(401);
    expect((after.body as { error: { message: string } }).error.message).toContain('revoked');
    const refresh = await emu.tokenRequest({
      grant_type: 'refresh_token',
      client_id: info.clientId,
      refresh_token: String(before.body.refresh_token),
      scope: REFERRALS_SCOPE,
    });
    expect(refresh.body).toMatchObject({ error: 'invalid_grant', error_codes: [50173] });
    const again = await signIn();
    expect((await emu.api('/referrals', { token: String(again.body.access_token) })).status).toBe(200);
  });

  it('R3 expired access token -> 401; the refresh token still gets a new one', async () => {
    const { info } = emu.pc;
    const signIn = await passwordSignIn();
    await emu.control('/tokens/expire-access', { method: 'POST' });
    emu.forgetTokens();
    const expired = await emu.api('/referrals', { token: String(signIn.body.access_token) });
    expect(expired.status).toBe(401);
    expect((expired.body as { error: { message: string } }).error.message).toContain('expired');
    const refreshed = await emu.tokenRequest({
      grant_type: 'refresh_token',
      client_id: info.clientId,
      refresh_token: String(signIn.body.refresh_token),
      scope: REFERRALS_SCOPE,
    });
    expect(refreshed.status).toBe(200);
    expect((await emu.api('/referrals', { token: String(refreshed.body.access_token) })).status).toBe(200);
  });

  it('R3 a refresh token unused for 90 days is refused (invalid_grant AADSTS700082); each refresh issues a new one', async () => {
    const { info } = emu.pc;
    const signIn = await passwordSignIn();
    const refresh = (token: unknown) =>
      emu.tokenRequest({
        grant_type: 'refresh_token',
        client_id: info.clientId,
        refresh_token: String(token),
        scope: REFERRALS_SCOPE,
      });
    const age = (days: number) => emu.control('/tokens/age', { method: 'POST', body: { days } });
    expect((await age(60)).status).toBe(200);
    const renewed = await refresh(signIn.body.refresh_token);
    expect(renewed.status).toBe(200);
    expect((await age(60)).status).toBe(200);
    expect((await refresh(signIn.body.refresh_token)).body).toMatchObject({
      error: 'invalid_grant',
      error_codes: [700082],
    });
    expect((await refresh(renewed.body.refresh_token)).status).toBe(200);
  });

  it('R3 R28 with MFA enforced, a token without the MFA claim gets 401 900421; device-code tokens carry amr mfa and pass', async () => {
    const { info } = emu.pc;
    expect((await emu.control('/auth/mfa', { method: 'PUT', body: { required: true } })).status).toBe(200);
    try {
      const password = await passwordSignIn();
      expect(claimsOf(String(password.body.access_token)).amr).toEqual(['pwd']);
      const refused = await emu.api('/referrals', { token: String(password.body.access_token) });
      expect(refused.status).toBe(401);
      expect((refused.body as { error: { message: string } }).error.message).toMatch(/^900421: Multi-factor/);

      const started = await emu.tokenRequest(
        { client_id: info.clientId, scope: `${REFERRALS_SCOPE} offline_access` },
        info.deviceCode,
      );
      const code = String(started.body.user_code);
      expect((await emu.control(`/device-codes/${code}/approve`, { method: 'POST', body: {} })).status).toBe(
        200,
      );
      const redeemed = await emu.tokenRequest({
        grant_type: DEVICE_GRANT,
        client_id: info.clientId,
        device_code: String(started.body.device_code),
      });
      expect(claimsOf(String(redeemed.body.access_token)).amr).toEqual(['pwd', 'mfa']);
      expect((await emu.api('/referrals', { token: String(redeemed.body.access_token) })).status).toBe(200);
    } finally {
      await emu.control('/auth/mfa', { method: 'PUT', body: { required: false } });
    }
  });
});
