// `cosell login`: the one interactive step. Partner Center's Referrals API is App+User only and MFA is
// mandatory, so cosell signs in once with the device-code flow and keeps the (encrypted) refresh token.
// With a config file the token cache goes into the store, where `cosell start` reads it; with flags only it
// goes to an encrypted file (the setup before a config exists).

import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { withoutPassword } from '../../config/redact.ts';
import { TOKEN_RENEWED_CURSOR } from '../../engine/token-renewal.ts';
import { readTokenKey } from '../../partner-center/auth.ts';
import { TOKEN_CACHE_SECRET } from '../../store/cache-plugin.ts';
import { openStore } from '../../store/open.ts';
import { CONFIG_OPTION_HELP, loadConfigFromFlags, usesConfigFile } from '../config-file.ts';
import {
  addPartnerCenterOptions,
  type PartnerCenterFlags,
  resolvePartnerCenterConnection,
  tokenProviderFor,
} from '../partner-center-options.ts';
import { storeTokenProvider } from '../store-tokens.ts';

type LoginFlags = PartnerCenterFlags & { config?: string };

const onDeviceCode = (prompt: { message: string }) => process.stderr.write(`${prompt.message}\n`);

export function registerLoginCommand(program: Command): void {
  addPartnerCenterOptions(
    program
      .command('login')
      .description(
        'Sign in to Partner Center once as a Referrals Admin user (device code + MFA); the refresh token is kept encrypted with COSELL_TOKEN_KEY.',
      )
      .option('--config <file>', `${CONFIG_OPTION_HELP}; the token cache is kept in its store`),
  ).action(async (flags: LoginFlags) => {
    if (usesConfigFile(flags)) {
      await loginWithConfig(flags.config);
      return;
    }
    const connection = resolvePartnerCenterConnection(flags);
    await mkdir(dirname(connection.tokenCache), { recursive: true });
    const tokens = tokenProviderFor(connection);
    const { username } = await tokens.login({ onDeviceCode });
    // Both APIs are separate audiences: fetch one token each now so a missing consent shows up at login.
    await tokens.getToken('referrals');
    await tokens.getToken('webhooks');
    process.stdout.write(
      `Logged in to Partner Center as ${username}. Token cache: ${connection.tokenCache}\n`,
    );
  });
}

async function loginWithConfig(file: string | undefined): Promise<void> {
  // Signing in to Partner Center needs no CRM secret.
  const config = await loadConfigFromFlags(file, process.env, { crmSecrets: false });
  const tokenKey = readTokenKey();
  const store = await openStore({ url: config.store.url, tenantId: config.tenantId });
  try {
    // A fresh login replaces whatever was cached, including a cache encrypted with another key.
    await store.deleteSecret(TOKEN_CACHE_SECRET);
    const tokens = storeTokenProvider(config, store, tokenKey);
    const { username } = await tokens.login({ onDeviceCode });
    await tokens.getToken('referrals');
    await tokens.getToken('webhooks');
    // The refresh token is as new as it gets: the service renews it from here on (R3).
    await store.setCursor(TOKEN_RENEWED_CURSOR, new Date().toISOString());
    process.stdout.write(
      `Logged in to Partner Center as ${username}. Token cache: encrypted in the store ${withoutPassword(config.store.url)}\n`,
    );
  } finally {
    await store.close();
  }
}
