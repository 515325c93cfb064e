// The msal token cache kept in the store, encrypted (DESIGN.md §3 "Credentials are a circuit": the token
// cache lives in the store). Encryption is the same AES-256-GCM format as the file cache in
// partner-center/auth.ts, so the store only ever holds ciphertext and a stolen database holds no token.
import type { ICachePlugin, TokenCacheContext } from '@azure/msal-node';
import { decryptCache, encryptCache } from '../partner-center/auth.ts';
import type { Store } from './store.ts';

export const TOKEN_CACHE_SECRET = 'partner-center-token-cache';

/** Pass as `cachePlugin` to DelegatedTokenProvider. `key` is the 32-byte COSELL_TOKEN_KEY (readTokenKey). */
export class StoreCachePlugin implements ICachePlugin {
  constructor(
    private readonly store: Pick<Store, 'getSecret' | 'setSecret'>,
    private readonly key: Buffer,
    readonly secretName: string = TOKEN_CACHE_SECRET,
  ) {}

  async beforeCacheAccess(context: TokenCacheContext): Promise<void> {
    const ciphertext = await this.store.getSecret(this.secretName);
    if (ciphertext === null) return;
    context.tokenCache.deserialize(
      decryptCache(ciphertext, this.key, `in the store (secret '${this.secretName}')`),
    );
  }

  async afterCacheAccess(context: TokenCacheContext): Promise<void> {
    if (!context.cacheHasChanged) return;
    await this.store.setSecret(this.secretName, encryptCache(context.tokenCache.serialize(), this.key));
  }
}
