import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TokenCacheContext } from '@azure/msal-node';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AuthorityRewritingNetworkClient,
  DelegatedTokenProvider,
  decryptCache,
  EncryptedFileCachePlugin,
  encryptCache,
  readTokenKey,
  TOKEN_KEY_ENV,
} from './auth.ts';
import { PartnerCenterAuthError } from './errors.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cosell-auth-'));
  dirs.push(dir);
  return dir;
};

describe('readTokenKey', () => {
  const key = randomBytes(32);
  it.each([
    ['base64', key.toString('base64')],
    ['hex', key.toString('hex')],
    ['base64url', key.toString('base64url')],
  ])('R3 accepts a 32-byte key as %s', (_kind, value) => {
    expect(readTokenKey({ [TOKEN_KEY_ENV]: value }).equals(key)).toBe(true);
  });

  it.each([
    [undefined, 'tokenKeyMissing'],
    ['', 'tokenKeyMissing'],
    [randomBytes(16).toString('base64'), 'tokenKeyInvalid'],
    ['not a key!', 'tokenKeyInvalid'],
  ])('R3 refuses %j naming the variable', (value, code) => {
    const error = (() => {
      try {
        readTokenKey(value === undefined ? {} : { [TOKEN_KEY_ENV]: value });
      } catch (e) {
        return e;
      }
    })() as PartnerCenterAuthError;
    expect(error).toBeInstanceOf(PartnerCenterAuthError);
    expect(error.code).toBe(code);
    expect(error.message).toContain(TOKEN_KEY_ENV);
  });
});

describe('encrypted token cache', () => {
  it('R3 round-trips with the key and refuses another key', () => {
    const key = randomBytes(32);
    const sealed = encryptCache('{"RefreshToken":{"secret":"rt-123"}}', key);
    expect(sealed).not.toContain('rt-123');
    expect(decryptCache(sealed, key, 'f')).toBe('{"RefreshToken":{"secret":"rt-123"}}');
    expect(() => decryptCache(sealed, randomBytes(32), 'f')).toThrow(
      /cannot be decrypted with COSELL_TOKEN_KEY/,
    );
    const tampered = JSON.parse(sealed) as { data: string };
    tampered.data = Buffer.from('x').toString('base64') + tampered.data.slice(4);
    expect(() => decryptCache(JSON.stringify(tampered), key, 'f')).toThrow(PartnerCenterAuthError);
  });

  it('R3 the msal cache plugin writes an encrypted file with mode 0600 and reads it back', async () => {
    const file = join(await tempDir(), 'nested', 'tokens.json');
    const key = randomBytes(32);
    const plugin = new EncryptedFileCachePlugin(file, key);
    let stored = '{"Account":{},"RefreshToken":{"k":{"secret":"very-secret-refresh-token"}}}';
    const context = (changed: boolean) =>
      ({
        cacheHasChanged: changed,
        tokenCache: {
          serialize: () => stored,
          deserialize: (text: string) => {
            stored = text;
          },
        },
      }) as unknown as TokenCacheContext;

    await plugin.beforeCacheAccess(context(false)); // no file yet: nothing to load
    await plugin.afterCacheAccess(context(true));
    const onDisk = await readFile(file, 'utf8');
    expect(onDisk).not.toContain('very-secret-refresh-token');
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    const written = stored;
    stored = '';
    await plugin.beforeCacheAccess(context(false));
    expect(stored).toBe(written);

    await expect(
      new EncryptedFileCachePlugin(file, randomBytes(32)).beforeCacheAccess(context(false)),
    ).rejects.toThrow(/run `cosell login` again/);
  });

  it('R3 getToken before any login says to run cosell login', async () => {
    const provider = new DelegatedTokenProvider({
      clientId: '00000000-0000-0000-0000-000000000001',
      tenantId: 'organizations',
      cacheFile: join(await tempDir(), 'tokens.json'),
      tokenKey: randomBytes(32),
    });
    const error = await provider.getToken('referrals').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerCenterAuthError);
    expect((error as PartnerCenterAuthError).code).toBe('notLoggedIn');
    expect((error as PartnerCenterAuthError).fix).toContain('cosell login');
  });
});

describe('AuthorityRewritingNetworkClient', () => {
  it('R3 rewrites only the Entra authority host, keeping path and query', () => {
    const client = new AuthorityRewritingNetworkClient('http://127.0.0.1:4321');
    expect(client.rewrite('https://login.microsoftonline.com/tenant/oauth2/v2.0/token?x=1')).toBe(
      'http://127.0.0.1:4321/tenant/oauth2/v2.0/token?x=1',
    );
    expect(client.rewrite('https://example.com/tenant')).toBe('https://example.com/tenant');
  });
});
