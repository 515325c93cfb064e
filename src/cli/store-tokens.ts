// The Partner Center token provider of a configured deployment: msal's cache kept encrypted in the store
// (DESIGN.md §3 "The token cache lives in the store, encrypted"), shared by login, webhooks and start.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/schema.ts';
import { DelegatedTokenProvider } from '../partner-center/auth.ts';
import { StoreCachePlugin, TOKEN_CACHE_SECRET } from '../store/cache-plugin.ts';
import type { Store } from '../store/store.ts';

export function storeTokenProvider(config: Config, store: Store, tokenKey: Buffer): DelegatedTokenProvider {
  const { partnerCenter } = config;
  return new DelegatedTokenProvider({
    clientId: partnerCenter.clientId,
    tenantId: partnerCenter.tenantId,
    // Required by the provider but never written: the plugin keeps the cache in the store. `login()` deletes
    // this path, so it must name no real file (and, for a database URL, not carry its password).
    cacheFile: /^[a-z][a-z0-9+.-]*:\/\//i.test(config.store.url)
      ? join(tmpdir(), 'cosell.no-token-cache-file')
      : `${config.store.url}.no-token-cache-file`,
    cachePlugin: new StoreCachePlugin(store, tokenKey, TOKEN_CACHE_SECRET),
    ...(partnerCenter.authorityHost ? { authorityHostOverride: partnerCenter.authorityHost } : {}),
  });
}
