// App+User (delegated) tokens for the two Partner Center APIs (reference §1, R3).
//
// MFA is mandatory for App+User calls, so product code never uses the password grant: `cosell login` runs
// the device-code flow once; afterwards msal renews access tokens from the cached refresh token. The
// Referrals API and the Webhooks API are different audiences, so each gets its own token.
// The msal cache is persisted encrypted (AES-256-GCM) with a key from the environment.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  type AccountInfo,
  type ICachePlugin,
  type INetworkModule,
  InteractionRequiredAuthError,
  type NetworkRequestOptions,
  type NetworkResponse,
  PublicClientApplication,
  type TokenCacheContext,
} from '@azure/msal-node';
import { API_SCOPES, ENTRA_AUTHORITY_HOST, type PartnerCenterApi } from './constants.ts';
import { PartnerCenterAuthError } from './errors.ts';

export interface TokenProvider {
  getToken(api: PartnerCenterApi, options?: { forceRefresh?: boolean }): Promise<string>;
}

export const TOKEN_KEY_ENV = 'COSELL_TOKEN_KEY';
const LOGIN = 'run `cosell login`';

/** Reads the 32-byte cache key (base64 or hex) from the environment, with an error that names the variable. */
export function readTokenKey(env: NodeJS.ProcessEnv = process.env): Buffer {
  const raw = env[TOKEN_KEY_ENV]?.trim();
  const howTo = `Generate one with \`openssl rand -base64 32\` and set ${TOKEN_KEY_ENV} to it (keep it with your other secrets).`;
  if (!raw) {
    throw new PartnerCenterAuthError(
      'tokenKeyMissing',
      `${TOKEN_KEY_ENV} is not set: it encrypts the Partner Center token cache at rest.`,
      howTo,
    );
  }
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(raw)) key = Buffer.from(raw, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(raw)) key = Buffer.from(raw, 'base64');
  if (key?.length !== 32) {
    throw new PartnerCenterAuthError(
      'tokenKeyInvalid',
      `${TOKEN_KEY_ENV} must be 32 bytes written as base64 (44 characters) or hex (64 characters).`,
      howTo,
    );
  }
  return key;
}

const FILE_FORMAT = 'cosell-token-cache-v1';

export function encryptCache(plaintext: string, key: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(FILE_FORMAT));
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return JSON.stringify({
    format: FILE_FORMAT,
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: data.toString('base64'),
  });
}

export function decryptCache(fileText: string, key: Buffer, file: string): string {
  try {
    const parsed = JSON.parse(fileText) as { format?: unknown; iv?: unknown; tag?: unknown; data?: unknown };
    if (parsed.format !== FILE_FORMAT || typeof parsed.iv !== 'string' || typeof parsed.tag !== 'string')
      throw new Error('not a cosell token cache');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(parsed.iv, 'base64'));
    decipher.setAAD(Buffer.from(FILE_FORMAT));
    decipher.setAuthTag(Buffer.from(parsed.tag, 'base64'));
    return Buffer.concat([decipher.update(String(parsed.data), 'base64'), decipher.final()]).toString('utf8');
  } catch (cause) {
    throw new PartnerCenterAuthError(
      'tokenCacheUnreadable',
      `The token cache ${file} cannot be decrypted with ${TOKEN_KEY_ENV} (a different key, or a damaged file).`,
      `Set ${TOKEN_KEY_ENV} to the key used at login, or ${LOGIN} again to start a new cache.`,
      cause,
    );
  }
}

/** msal cache plugin storing the serialized cache in one AES-256-GCM encrypted file (mode 0600). */
export class EncryptedFileCachePlugin implements ICachePlugin {
  constructor(
    readonly file: string,
    private readonly key: Buffer,
  ) {}

  async beforeCacheAccess(context: TokenCacheContext): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    context.tokenCache.deserialize(decryptCache(text, this.key, this.file));
  }

  async afterCacheAccess(context: TokenCacheContext): Promise<void> {
    if (!context.cacheHasChanged) return;
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    // Write-then-rename so a crash never leaves half a cache; the mode is set before any byte lands.
    const temporary = `${this.file}.${process.pid}.tmp`;
    await writeFile(temporary, encryptCache(context.tokenCache.serialize(), this.key), { mode: 0o600 });
    await chmod(temporary, 0o600);
    await rename(temporary, this.file);
  }
}

/**
 * msal network client that sends requests for the Entra authority host to another origin (the emulator),
 * keeping the path. The authority configured in msal stays the real one, so the token code is identical
 * in production and against the emulator (reference §1 "Verified on this machine").
 */
export class AuthorityRewritingNetworkClient implements INetworkModule {
  private readonly from: URL;
  private readonly to: URL;

  constructor(authorityHostOverride: string, authorityHost: string = ENTRA_AUTHORITY_HOST) {
    this.from = new URL(authorityHost);
    this.to = new URL(authorityHostOverride);
  }

  rewrite(url: string): string {
    const parsed = new URL(url);
    if (parsed.origin !== this.from.origin) return url;
    parsed.protocol = this.to.protocol;
    parsed.host = this.to.host;
    return parsed.toString();
  }

  sendGetRequestAsync<T>(
    url: string,
    options?: NetworkRequestOptions,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }

  private async send<T>(
    method: 'GET' | 'POST',
    url: string,
    options?: NetworkRequestOptions,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    const response = await fetch(this.rewrite(url), {
      method,
      headers: options?.headers,
      body: method === 'POST' ? options?.body : undefined,
      signal: timeout ? AbortSignal.timeout(timeout) : undefined,
    });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const text = await response.text();
    let body: unknown = {};
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = { error: 'invalid_response', error_description: text.slice(0, 200) };
      }
    }
    return { headers, body: body as T, status: response.status };
  }
}

export interface DelegatedTokenProviderOptions {
  /** The Entra app (public client) registered with delegated permission on the Partner Center APIs. */
  clientId: string;
  /** Partner's Entra tenant id (or 'organizations'). */
  tenantId: string;
  /** Where the encrypted msal cache lives. */
  cacheFile: string;
  /** Replaces the encrypted file (e.g. a plugin that keeps the cache encrypted in the store). */
  cachePlugin?: ICachePlugin;
  /** Defaults to reading COSELL_TOKEN_KEY from `env`. */
  tokenKey?: Buffer;
  env?: NodeJS.ProcessEnv;
  /** Emulator mode: e.g. `http://127.0.0.1:PORT`; the authority stays `https://login.microsoftonline.com/<tenant>`. */
  authorityHostOverride?: string;
}

export interface DeviceCodePrompt {
  userCode: string;
  verificationUri: string;
  message: string;
  expiresIn: number;
}

export class DelegatedTokenProvider implements TokenProvider {
  private readonly app: PublicClientApplication;
  private readonly cacheFile: string;

  constructor(options: DelegatedTokenProviderOptions) {
    this.cacheFile = options.cacheFile;
    const cachePlugin =
      options.cachePlugin ??
      new EncryptedFileCachePlugin(options.cacheFile, options.tokenKey ?? readTokenKey(options.env));
    this.app = new PublicClientApplication({
      auth: {
        clientId: options.clientId,
        authority: `${ENTRA_AUTHORITY_HOST}/${options.tenantId}`,
      },
      cache: { cachePlugin },
      system: options.authorityHostOverride
        ? { networkClient: new AuthorityRewritingNetworkClient(options.authorityHostOverride) }
        : {},
    });
  }

  /** `cosell login`: device-code flow once; the refresh token lands in the encrypted cache. */
  async login(options: {
    onDeviceCode: (prompt: DeviceCodePrompt) => void;
    timeoutSeconds?: number;
  }): Promise<{ username: string }> {
    // A fresh login replaces whatever was cached, including a cache written with another key.
    await rm(this.cacheFile, { force: true });
    const result = await this.app.acquireTokenByDeviceCode({
      scopes: [API_SCOPES.referrals],
      deviceCodeCallback: (response) =>
        options.onDeviceCode({
          userCode: response.userCode,
          verificationUri: response.verificationUri,
          message: response.message,
          expiresIn: response.expiresIn,
        }),
      ...(options.timeoutSeconds ? { timeout: options.timeoutSeconds } : {}),
    });
    if (!result?.account) {
      throw new PartnerCenterAuthError(
        'notLoggedIn',
        'The device-code login returned no account.',
        `${LOGIN} again.`,
      );
    }
    return { username: result.account.username };
  }

  async getToken(api: PartnerCenterApi, options?: { forceRefresh?: boolean }): Promise<string> {
    const account = await this.account();
    try {
      const result = await this.app.acquireTokenSilent({
        account,
        scopes: [API_SCOPES[api]],
        forceRefresh: options?.forceRefresh ?? false,
      });
      if (!result?.accessToken) throw new Error('empty token response');
      return result.accessToken;
    } catch (cause) {
      if (cause instanceof PartnerCenterAuthError) throw cause;
      const refused =
        cause instanceof InteractionRequiredAuthError ||
        /invalid_grant|interaction_required|no_tokens_found|refresh_token/i.test(
          String((cause as Error)?.message),
        );
      throw new PartnerCenterAuthError(
        refused ? 'refreshRefused' : 'notLoggedIn',
        refused
          ? `Entra ID refused to renew the ${api} API token for ${account.username} (session expired, revoked or password changed).`
          : `Could not get a ${api} API token for ${account.username}: ${(cause as Error)?.message ?? cause}.`,
        `${LOGIN} again as a Referrals Admin user.`,
        cause,
      );
    }
  }

  /** The signed-in user, or null when `cosell login` has not run. */
  async currentUser(): Promise<string | null> {
    const accounts = await this.app.getTokenCache().getAllAccounts();
    return accounts[0]?.username ?? null;
  }

  async logout(): Promise<void> {
    const cache = this.app.getTokenCache();
    try {
      for (const account of await cache.getAllAccounts()) await cache.removeAccount(account);
    } catch (error) {
      // An undecryptable cache is deleted all the same: logging out must always work.
      if (!(error instanceof PartnerCenterAuthError)) throw error;
    }
    await rm(this.cacheFile, { force: true });
  }

  private async account(): Promise<AccountInfo> {
    const accounts = await this.app.getTokenCache().getAllAccounts();
    const account = accounts[0];
    if (!account) {
      throw new PartnerCenterAuthError(
        'notLoggedIn',
        'No Partner Center user is logged in.',
        `${LOGIN} once as a Referrals Admin user (device-code sign-in with MFA).`,
      );
    }
    return account;
  }
}
