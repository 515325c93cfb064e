// `cosell doctor`: checks what cosell needs before it runs and prints one line per problem with its fix
// (R18, R23, R28). For now only the Salesforce part exists, and its connection comes from flags and env;
// the config file (next issue) will feed the same `salesforceConnectionSchema`.
import type { Command } from 'commander';
import { type DoctorResult, runSalesforceDoctor } from '../../crm/salesforce/doctor.ts';
import { type SalesforceConnection, salesforceConnectionSchema } from '../../crm/salesforce/settings.ts';
import { CliError } from '../errors.ts';

export interface DoctorOptions {
  sfLoginUrl?: string;
  sfClientId?: string;
  sfUsername?: string;
  sfPrivateKey?: string;
  sfApiVersion?: string;
  json?: boolean;
}

/** Env names for each connection setting; secrets come from env only (never a flag, so not in shell history). */
export const SALESFORCE_ENV = {
  loginUrl: 'COSELL_SF_LOGIN_URL',
  clientId: 'COSELL_SF_CLIENT_ID',
  clientSecret: 'COSELL_SF_CLIENT_SECRET',
  username: 'COSELL_SF_USERNAME',
  privateKeyPath: 'COSELL_SF_PRIVATE_KEY',
  apiVersion: 'COSELL_SF_API_VERSION',
} as const;

/** Flags win over env. JWT bearer when a private key and username are given, else client credentials. */
export function salesforceConnectionFrom(
  options: DoctorOptions,
  env: NodeJS.ProcessEnv = process.env,
): SalesforceConnection {
  const loginUrl = options.sfLoginUrl ?? env[SALESFORCE_ENV.loginUrl];
  const clientId = options.sfClientId ?? env[SALESFORCE_ENV.clientId];
  const username = options.sfUsername ?? env[SALESFORCE_ENV.username];
  const privateKeyPath = options.sfPrivateKey ?? env[SALESFORCE_ENV.privateKeyPath];
  const clientSecret = env[SALESFORCE_ENV.clientSecret];
  const apiVersion = options.sfApiVersion ?? env[SALESFORCE_ENV.apiVersion];
  const auth =
    privateKeyPath && username
      ? { grant: 'jwt-bearer' as const, clientId, username, privateKeyPath }
      : { grant: 'client-credentials' as const, clientId, clientSecret };
  const parsed = salesforceConnectionSchema.safeParse({
    ...(loginUrl ? { loginUrl } : {}),
    ...(apiVersion ? { apiVersion } : {}),
    auth,
  });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new CliError(
      `The Salesforce connection settings are incomplete or invalid (${problems}).`,
      `Give --sf-login-url and --sf-client-id, then either --sf-username with --sf-private-key <pem file> (JWT bearer) or the env var ${SALESFORCE_ENV.clientSecret} (client credentials).`,
    );
  }
  return parsed.data;
}

export function formatDoctorResult(result: DoctorResult): string {
  const lines = result.lines.map((line) =>
    line.ok
      ? `ok   salesforce ${line.check}: ${line.message}`
      : `FAIL salesforce ${line.check}: ${line.message}${line.fix ? `\n       fix: ${line.fix}` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}

/** The command's action, exported so it can run in-process. Returns the result; throws CliError when not ok. */
export async function runDoctor(
  options: DoctorOptions,
  io: { out?: (text: string) => void; env?: NodeJS.ProcessEnv } = {},
): Promise<DoctorResult> {
  const out = io.out ?? ((text: string) => process.stdout.write(text));
  const connection = salesforceConnectionFrom(options, io.env ?? process.env);
  const result = await runSalesforceDoctor(connection);
  out(options.json ? `${JSON.stringify(result)}\n` : formatDoctorResult(result));
  if (!result.ok) {
    const problems = result.lines.filter((l) => !l.ok).length;
    throw new CliError(
      `doctor found ${problems} problem${problems === 1 ? '' : 's'} with Salesforce.`,
      'Apply the fixes above and run cosell doctor again.',
    );
  }
  return result;
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(
      'Check the CRM connection, API version, shipped schema and field-level security; print each problem with its fix.',
    )
    .option('--sf-login-url <url>', `Salesforce login or My Domain URL (env ${SALESFORCE_ENV.loginUrl})`)
    .option('--sf-client-id <id>', `External Client App consumer key (env ${SALESFORCE_ENV.clientId})`)
    .option(
      '--sf-username <user>',
      `integration user for the JWT bearer grant (env ${SALESFORCE_ENV.username})`,
    )
    .option(
      '--sf-private-key <file>',
      `PEM private key for the JWT bearer grant (env ${SALESFORCE_ENV.privateKeyPath})`,
    )
    .option(
      '--sf-api-version <version>',
      `Salesforce API version, e.g. 66.0 (env ${SALESFORCE_ENV.apiVersion})`,
    )
    .option('--json', 'print the result as one JSON object')
    .addHelpText('after', `\nClient credentials: set ${SALESFORCE_ENV.clientSecret} in the environment.`)
    .action(async (options: DoctorOptions) => {
      await runDoctor(options);
    });
}
