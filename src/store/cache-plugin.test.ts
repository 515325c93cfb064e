import { randomBytes } from 'node:crypto';
import { PublicClientApplication, TokenCacheContext } from '@azure/msal-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreCachePlugin, TOKEN_CACHE_SECRET } from './cache-plugin.ts';
import type { SqliteStore } from './sqlite.ts';
import { openTestStore, temporaryDirectory } from './test-support.ts';

const HOME = 'uid.utid';
const ENVIRONMENT = 'login.microsoftonline.com';
const TENANT = 'utid';

/** A serialized msal cache holding one signed-in Referrals Admin and a refresh token. */
const CACHE = JSON.stringify({
  Account: {
    [`${HOME}-${ENVIRONMENT}-${TENANT}`]: {
      home_account_id: HOME,
      environment: ENVIRONMENT,
      realm: TENANT,
      local_account_id: 'uid',
      username: 'admin@contoso.onmicrosoft.com',
      authority_type: 'MSSTS',
      name: 'Referrals Admin',
    },
  },
  IdToken: {},
  AccessToken: {},
  RefreshToken: {
    [`${HOME}-${ENVIRONMENT}-refreshtoken-client-id--`]: {
      home_account_id: HOME,
      environment: ENVIRONMENT,
      credential_type: 'RefreshToken',
      client_id: 'client-id',
      secret: 'very-secret-refresh-token',
    },
  },
  AppMetadata: {},
});

describe('StoreCachePlugin: the msal token cache kept encrypted in the store', () => {
  let tmp: ReturnType<typeof temporaryDirectory>;
  let store: SqliteStore;
  const key = randomBytes(32);
  beforeEach(async () => {
    tmp = temporaryDirectory();
    store = await openTestStore(tmp);
  });
  afterEach(async () => {
    await store.close();
    tmp.remove();
  });

  it('R3 writes only ciphertext, and a new process reads the same cache back', async () => {
    await new StoreCachePlugin(store, key).afterCacheAccess(
      new TokenCacheContext({ serialize: () => CACHE, deserialize: () => {} }, true),
    );
    const stored = await store.getSecret(TOKEN_CACHE_SECRET);
    expect(stored).toBeTruthy();
    expect(stored).not.toContain('very-secret-refresh-token');
    expect(stored).not.toContain('admin@contoso');
    await store.close();

    const reopened = await openTestStore(tmp);
    let loaded = '';
    await new StoreCachePlugin(reopened, key).beforeCacheAccess(
      new TokenCacheContext(
        {
          serialize: () => '',
          deserialize: (text: string) => {
            loaded = text;
          },
        },
        false,
      ),
    );
    expect(loaded).toBe(CACHE);
    store = reopened;
  });

  it('msal reads the signed-in account through the plugin', async () => {
    await new StoreCachePlugin(store, key).afterCacheAccess(
      new TokenCacheContext({ serialize: () => CACHE, deserialize: () => {} }, true),
    );
    const app = new PublicClientApplication({
      auth: { clientId: 'client-id', authority: `https://${ENVIRONMENT}/${TENANT}` },
      cache: { cachePlugin: new StoreCachePlugin(store, key) },
    });
    const accounts = await app.getTokenCache().getAllAccounts();
    // msal takes the username from the id token (none here); the account itself came from the store.
    expect(accounts.map((a) => a.homeAccountId)).toEqual([HOME]);
  });

  it('writes nothing when msal says the cache did not change', async () => {
    await new StoreCachePlugin(store, key).afterCacheAccess(
      new TokenCacheContext({ serialize: () => CACHE, deserialize: () => {} }, false),
    );
    expect(await store.getSecret(TOKEN_CACHE_SECRET)).toBeNull();
  });

  it('says to log in again when the cache was written with another key', async () => {
    await new StoreCachePlugin(store, key).afterCacheAccess(
      new TokenCacheContext({ serialize: () => CACHE, deserialize: () => {} }, true),
    );
    const error = await new StoreCachePlugin(store, randomBytes(32))
      .beforeCacheAccess(new TokenCacheContext({ serialize: () => '', deserialize: () => {} }, false))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'tokenCacheUnreadable' });
    expect(String((error as Error).message)).toContain("in the store (secret 'partner-center-token-cache')");
  });
});
