// `cosell login`: the one interactive step. Partner Center's Referrals API is App+User only and MFA is
// mandatory, so cosell signs in once with the device-code flow and keeps the (encrypted) refresh token.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import {
  addPartnerCenterOptions,
  type PartnerCenterFlags,
  resolvePartnerCenterConnection,
  tokenProviderFor,
} from '../partner-center-options.ts';

export function registerLoginCommand(program: Command): void {
  addPartnerCenterOptions(
    program
      .command('login')
      .description(
        'Sign in to Partner Center once as a Referrals Admin user (device code + MFA); the refresh token is kept encrypted with COSELL_TOKEN_KEY.',
      ),
  ).action(async (flags: PartnerCenterFlags) => {
    const connection = resolvePartnerCenterConnection(flags);
    await mkdir(dirname(connection.tokenCache), { recursive: true });
    const tokens = tokenProviderFor(connection);
    const { username } = await tokens.login({
      onDeviceCode: (prompt) => process.stderr.write(`${prompt.message}\n`),
    });
    // Both APIs are separate audiences: fetch one token each now so a missing consent shows up at login.
    await tokens.getToken('referrals');
    await tokens.getToken('webhooks');
    process.stdout.write(
      `Logged in to Partner Center as ${username}. Token cache: ${connection.tokenCache}\n`,
    );
  });
}
