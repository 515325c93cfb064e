// Proof that the token endpoint speaks Entra's wire format: @azure/msal-node itself, with the real
// authority and only its network client pointed at the emulator (reference §1 "Verified on this machine").
import {
  ConfidentialClientApplication,
  type INetworkModule,
  PublicClientApplication,
} from '@azure/msal-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFERRALS_SCOPE, startTestEmulator, type TestEmulator, WEBHOOKS_SCOPE } from './test-support.ts';

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => {
  await emu.close();
});

const ENTRA = 'https://login.microsoftonline.com';

/** msal's network client with the Entra host rewritten to the emulator; records the URLs it called. */
function emulatorNetwork(authorityHost: string, called: string[]): INetworkModule {
  const send = async <T>(
    method: 'GET' | 'POST',
    url: string,
    options?: { headers?: Record<string, string>; body?: string },
  ) => {
    const target = url.startsWith(ENTRA) ? authorityHost + url.slice(ENTRA.length) : url;
    called.push(`${method} ${new URL(target).pathname}`);
    const response = await fetch(target, { method, headers: options?.headers, body: options?.body });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => {
      headers[key] = value;
    });
    return { headers, body: (await response.json()) as T, status: response.status };
  };
  return {
    sendGetRequestAsync: (url, options) => send('GET', url, options),
    sendPostRequestAsync: (url, options) => send('POST', url, options),
  };
}

describe('msal-node against the emulator', () => {
  it('R3 acquireTokenByDeviceCode signs in, the token reads referrals, and acquireTokenSilent gets a Webhooks API token', async () => {
    const { info } = emu.pc;
    const called: string[] = [];
    const app = new PublicClientApplication({
      auth: { clientId: info.clientId, authority: `${ENTRA}/${info.tenantId}` },
      system: { networkClient: emulatorNetwork(info.authorityHost, called) },
    });
    let shownMessage = '';
    const result = await app.acquireTokenByDeviceCode({
      scopes: [REFERRALS_SCOPE],
      deviceCodeCallback: (response) => {
        shownMessage = response.message;
      },
    });
    expect(shownMessage).toContain('enter the code');
    expect(result?.account?.username).toBe(info.username);
    expect(result?.account?.tenantId).toBe(info.tenantId);
    expect(called).toContain(`POST /${info.tenantId}/oauth2/v2.0/devicecode`);
    expect(called).toContain(`POST /${info.tenantId}/oauth2/v2.0/token`);

    const referrals = await emu.api('/referrals', { token: result!.accessToken });
    expect(referrals.status).toBe(200);

    const webhooks = await app.acquireTokenSilent({ account: result!.account!, scopes: [WEBHOOKS_SCOPE] });
    expect(webhooks.accessToken).not.toBe(result!.accessToken);
    const events = await fetch(`${info.webhooks}/registration/events`, {
      headers: { authorization: `Bearer ${webhooks.accessToken}` },
    });
    expect(events.status).toBe(200);
  });

  it('R3 acquireTokenByClientCredential works, and the app-only token is refused by the Referrals API', async () => {
    const { info } = emu.pc;
    const app = new ConfidentialClientApplication({
      auth: {
        clientId: info.clientId,
        authority: `${ENTRA}/${info.tenantId}`,
        clientSecret: 'emulator-secret',
      },
      system: { networkClient: emulatorNetwork(info.authorityHost, []) },
    });
    const result = await app.acquireTokenByClientCredential({ scopes: [REFERRALS_SCOPE] });
    expect(result?.accessToken).toBeTruthy();
    const refused = await emu.api('/referrals', { token: result!.accessToken });
    expect(refused.status).toBe(401);
  });
});
