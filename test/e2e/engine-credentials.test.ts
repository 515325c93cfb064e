// Keeping the Partner Center sign-in alive (R3, R28), on Salesforce and on Dynamics 365: Entra drops a refresh
// token left unused for 90 days (AADSTS700082), and only an interactive MFA `cosell login` replaces it. The
// engine renews the token on a schedule, so a quiet season does not end the sign-in; a token that did lapse
// pauses the work (no dead letters, no ✖) and says to run `cosell login`. The emulator ages tokens instead of
// anyone waiting 90 days. With Partner Center's MFA enforcement on, a token without the MFA claim is refused
// (900421) and handled the same way, until a device-code sign-in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_RENEWED_CURSOR } from '../../src/engine/token-renewal.ts';
import { ReferralsClient } from '../../src/partner-center/referrals.ts';
import { until } from '../helpers/until.ts';
import { CRMS, type Harness, pcControl, startHarness, TEST_ENGINE_SETTINGS } from './engine-harness.ts';

describe.each(CRMS)('Partner Center sign-in kept alive with $crm (engine over HTTP)', ({ crm }) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(undefined, { crm });
  });
  afterAll(async () => {
    await h?.close();
  });

  const age = async (days: number) => {
    const response = await fetch(`${h.pc.info.control}/tokens/age`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ days }),
    });
    expect(response.status).toBe(200);
  };

  it('R3 R28 renewing the refresh token on a schedule outlives 90 idle days; a token left unused for 90 days pauses the work and names `cosell login`', async () => {
    const { engine, store } = await h.newEngine({
      renewCredentials: async () => {
        await h.tokens.getToken('referrals', { forceRefresh: true });
      },
    });
    expect(await engine.renewCredentialsOnce()).toBe(true);
    const first = await store.getCursor(TOKEN_RENEWED_CURSOR);
    expect(first).not.toBeNull();

    // 60 idle days, a renewal, 60 more: 120 days since the sign-in, never 90 without a renewal.
    await age(60);
    expect(await engine.renewCredentialsOnce()).toBe(true);
    await age(60);
    expect(await engine.renewCredentialsOnce()).toBe(true);
    expect(engine.pausedApis()).toEqual([]);

    // Nothing renewed it for 91 days (the service was stopped): Entra refuses it.
    await age(91);
    expect(await engine.renewCredentialsOnce()).toBe(false);
    const [pause] = engine.pausedApis();
    expect(pause).toMatchObject({ api: 'partner-center', reason: 'credentials' });
    expect(pause!.fix).toMatch(/cosell login/);
    expect((await store.listJobs({})).filter((j) => j.state === 'dead')).toEqual([]);

    // An admin signs in again: the next renewal works.
    await h.tokens.login({ onDeviceCode: () => {} });
    expect(await engine.renewCredentialsOnce()).toBe(true);
    expect(Date.parse((await store.getCursor(TOKEN_RENEWED_CURSOR))!)).toBeGreaterThanOrEqual(
      Date.parse(first!),
    );
  });

  it('R3 R28 with MFA enforced, a sign-in without MFA is refused (900421): the work pauses without dead letters and names `cosell login` with MFA; after a device-code sign-in it resumes and the referral arrives', async () => {
    const control = (method: string, path: string, body: unknown) =>
      fetch(`${h.pc.info.control}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    // A token from the password grant: no MFA claim (what a script, or a sign-in that skipped MFA, holds).
    const answer = await fetch(h.pc.info.token, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'password',
        client_id: h.pc.info.clientId,
        username: h.pc.info.username,
        password: h.pc.info.password,
        scope: 'https://api.partner.microsoft.com/.default offline_access',
      }),
    });
    const withoutMfa = String(((await answer.json()) as { access_token: string }).access_token);
    let signedInWithMfa = false;
    const tokens = {
      getToken: async (api: 'referrals' | 'webhooks', options?: { forceRefresh?: boolean }) =>
        signedInWithMfa ? h.tokens.getToken(api, options) : withoutMfa,
    };
    const referrals = new ReferralsClient({ baseUrl: h.pc.info.referrals, tokens, sleep: async () => {} });
    expect((await control('PUT', '/auth/mfa', { required: true })).status).toBe(200);
    const { engine, store } = await h.newEngine({
      referrals,
      settings: { ...TEST_ENGINE_SETTINGS, credentialPauseMs: 100 },
    });
    await engine.start();
    try {
      const referral = await pcControl(h).sendIncoming({ name: 'Needs MFA' });
      const pause = await until(
        async () => engine.pausedApis().find((p) => p.api === 'partner-center' && p.reason === 'credentials'),
        10_000,
        'the credentials pause',
      );
      expect(pause!.fix).toMatch(/900421/);
      expect(pause!.fix).toMatch(/cosell login.*complete MFA/);
      expect(await h.desk.withReferral(String(referral.id))).toEqual([]);
      expect((await store.listJobs({})).filter((j) => j.state === 'dead')).toEqual([]);

      // The admin runs `cosell login` (device code, MFA done in the browser): the work resumes by itself.
      signedInWithMfa = true;
      await until(
        async () => (await h.desk.withReferral(String(referral.id))).length === 1,
        15_000,
        'the referral in the CRM after the MFA sign-in',
      );
      expect(engine.pausedApis()).toEqual([]);
    } finally {
      await engine.stop();
      await control('PUT', '/auth/mfa', { required: false });
    }
  });
});
