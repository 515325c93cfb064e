// Partner Center connection settings shared by `login` and `webhooks`: flags first, then environment
// variables. One zod schema so the config file (next milestone) can reuse it.
import type { Command } from 'commander';
import { z } from 'zod';
import { DelegatedTokenProvider } from '../partner-center/auth.ts';
import { REFERRALS_BASE_URL, WEBHOOKS_BASE_URL } from '../partner-center/constants.ts';
import { CliError } from './errors.ts';

export const partnerCenterConnectionSchema = z.object({
  tenantId: z.string().min(1, 'is required: your Entra tenant id (or "organizations")'),
  clientId: z.string().min(1, 'is required: the Entra app (public client) id registered for cosell'),
  tokenCache: z.string().min(1),
  authorityHost: z.url().optional(),
  referralsUrl: z.url(),
  webhooksUrl: z.url(),
});
export type PartnerCenterConnection = z.infer<typeof partnerCenterConnectionSchema>;

export interface PartnerCenterFlags {
  tenant?: string;
  clientId?: string;
  tokenCache?: string;
  emulator?: string;
}

export function addPartnerCenterOptions(command: Command): Command {
  return command
    .option('--tenant <id>', 'Entra tenant id of your partner organisation [env COSELL_PC_TENANT_ID]')
    .option('--client-id <id>', 'Entra app (public client) id [env COSELL_PC_CLIENT_ID]')
    .option('--token-cache <file>', 'encrypted token cache file [env COSELL_TOKEN_CACHE]')
    .option(
      '--emulator <url>',
      'talk to a Partner Center emulator at this base URL instead of Microsoft (e.g. http://127.0.0.1:4010)',
    );
}

export function resolvePartnerCenterConnection(
  flags: PartnerCenterFlags,
  env: NodeJS.ProcessEnv = process.env,
): PartnerCenterConnection {
  const emulator = flags.emulator?.replace(/\/+$/, '');
  const candidate = {
    tenantId: flags.tenant ?? env['COSELL_PC_TENANT_ID'] ?? (emulator ? 'organizations' : ''),
    clientId: flags.clientId ?? env['COSELL_PC_CLIENT_ID'] ?? (emulator ? 'cosell-emulator-client' : ''),
    tokenCache: flags.tokenCache ?? env['COSELL_TOKEN_CACHE'] ?? '.cosell/token-cache.json',
    ...(emulator ? { authorityHost: emulator } : {}),
    referralsUrl: emulator ? `${emulator}/v1.0/engagements` : REFERRALS_BASE_URL,
    webhooksUrl: emulator ? `${emulator}/webhooks/v1` : WEBHOOKS_BASE_URL,
  };
  const parsed = partnerCenterConnectionSchema.safeParse(candidate);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ');
    throw new CliError(
      `Partner Center connection settings are incomplete: ${problems}.`,
      'Pass --tenant and --client-id (or set COSELL_PC_TENANT_ID and COSELL_PC_CLIENT_ID), or --emulator <url> to use an emulator.',
    );
  }
  return parsed.data;
}

export function tokenProviderFor(connection: PartnerCenterConnection): DelegatedTokenProvider {
  return new DelegatedTokenProvider({
    clientId: connection.clientId,
    tenantId: connection.tenantId,
    cacheFile: connection.tokenCache,
    ...(connection.authorityHost ? { authorityHostOverride: connection.authorityHost } : {}),
  });
}
