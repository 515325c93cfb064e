// `cosell doctor`: checks what cosell needs before it runs and prints one line per problem with its fix
// (R18, R23, R28). With flags and env it checks a Salesforce org; with a config file (`--config`) it checks the
// whole deployment: Partner Center sign-in and access, the CRM, and the running service's paused APIs (R3, R27).
import type { Command } from 'commander';
import type { Config } from '../../config/schema.ts';
import { runDynamicsDoctor } from '../../crm/dynamics/doctor.ts';
import { type DoctorLine, type DoctorResult, runSalesforceDoctor } from '../../crm/salesforce/doctor.ts';
import { type SalesforceConnection, salesforceConnectionSchema } from '../../crm/salesforce/settings.ts';
import { TOKEN_RENEWED_CURSOR, tokenAgeCheck } from '../../engine/token-renewal.ts';
import type { TokenProvider } from '../../partner-center/auth.ts';
import { readTokenKey } from '../../partner-center/auth.ts';
import { PartnerCenterAuthError, PartnerCenterError } from '../../partner-center/errors.ts';
import { ReferralsClient } from '../../partner-center/referrals.ts';
import { WebhooksClient } from '../../partner-center/webhooks.ts';
import { openStore } from '../../store/open.ts';
import { CONFIG_OPTION_HELP, loadConfigFromFlags } from '../config-file.ts';
import { CliError } from '../errors.ts';
import { storeTokenProvider } from '../store-tokens.ts';

export interface DoctorOptions {
  sfLoginUrl?: string;
  sfClientId?: string;
  sfUsername?: string;
  sfPrivateKey?: string;
  sfApiVersion?: string;
  config?: string;
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

export function formatDoctorResult(result: DoctorResult, system = 'salesforce'): string {
  const lines = result.lines.map((line) => {
    const where = `${line.system ?? system} ${line.check}`;
    return line.ok
      ? `ok   ${where}: ${line.message}`
      : `FAIL ${where}: ${line.message}${line.fix ? `\n       fix: ${line.fix}` : ''}`;
  });
  return `${lines.join('\n')}\n`;
}

/** The command's action, exported so it can run in-process. Returns the result; throws CliError when not ok. */
export async function runDoctor(
  options: DoctorOptions,
  io: { out?: (text: string) => void; env?: NodeJS.ProcessEnv } = {},
): Promise<DoctorResult> {
  const out = io.out ?? ((text: string) => process.stdout.write(text));
  const env = io.env ?? process.env;
  const result = options.config
    ? await runDeploymentDoctor(await loadConfigFromFlags(options.config, env), env)
    : await runSalesforceDoctor(salesforceConnectionFrom(options, env));
  out(options.json ? `${JSON.stringify(result)}\n` : formatDoctorResult(result));
  if (!result.ok) {
    const problems = result.lines.filter((l) => !l.ok).length;
    throw new CliError(
      `doctor found ${problems} problem${problems === 1 ? '' : 's'}${options.config ? '' : ' with Salesforce'}.`,
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
    .option(
      '--config <file>',
      `${CONFIG_OPTION_HELP}: check the whole deployment (Partner Center, CRM, service)`,
    )
    .option('--json', 'print the result as one JSON object')
    .addHelpText('after', `\nClient credentials: set ${SALESFORCE_ENV.clientSecret} in the environment.`)
    .action(async (options: DoctorOptions) => {
      await runDoctor(options);
    });
}

// ---- a configured deployment ----------------------------------------------------------------------------

/** Partner Center, the CRM and the running service, as `cosell start --config` would meet them. */
export async function runDeploymentDoctor(config: Config, env: NodeJS.ProcessEnv): Promise<DoctorResult> {
  const lines: DoctorLine[] = [...(await checkPartnerCenter(config, env))];
  if (config.crm.kind === 'salesforce' && config.crm.salesforce) {
    const crm = await runSalesforceDoctor(config.crm.salesforce.connection, {
      createDefaults: config.engine.mapping.createDefaults,
      settings: config.crm.salesforce.settings,
      clientOptions: { timeoutMs: config.engine.requestTimeoutMs },
    });
    lines.push(...crm.lines.map((line) => ({ ...line, system: 'salesforce' })));
  }
  if (config.crm.kind === 'dynamics' && config.crm.dynamics) {
    const crm = await runDynamicsDoctor(config.crm.dynamics.connection, config.crm.dynamics.settings, {
      createDefaults: config.engine.mapping.createDefaults,
      clientOptions: { timeoutMs: config.engine.requestTimeoutMs },
    });
    lines.push(...crm.lines.map((line) => ({ ...line, system: 'dynamics' })));
  }
  lines.push(...(await checkService(config)));
  return { ok: lines.every((l) => l.ok), lines };
}

const LOGIN_FIX = (config: Config) =>
  `Run \`cosell login --config ${config.file}\` as a user with the Referrals Admin role (MFA); the running service resumes by itself.`;

async function checkPartnerCenter(config: Config, env: NodeJS.ProcessEnv): Promise<DoctorLine[]> {
  const line = (ok: boolean, check: string, message: string, fix?: string): DoctorLine => ({
    ok,
    system: 'partner-center',
    check,
    message,
    ...(fix ? { fix } : {}),
  });
  let tokenKey: Buffer;
  try {
    tokenKey = readTokenKey(env);
  } catch (error) {
    return [line(false, 'token key', (error as Error).message, (error as { fix?: string }).fix)];
  }
  const store = await openStore({ url: config.store.url, tenantId: config.tenantId });
  try {
    const tokens = storeTokenProvider(config, store, tokenKey);
    const user = await tokens.currentUser();
    if (!user)
      return [
        line(
          false,
          'sign-in',
          'Nobody is signed in to Partner Center for this deployment.',
          LOGIN_FIX(config),
        ),
      ];
    const referrals = new ReferralsClient({
      tokens,
      baseUrl: config.partnerCenter.referralsUrl,
      retry: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0, maxRetryAfterMs: 0 },
      timeoutMs: config.engine.requestTimeoutMs,
    });
    try {
      for await (const _page of referrals.listPages({ top: 1 })) break;
      const renewed = await store.getCursor(TOKEN_RENEWED_CURSOR);
      const age = tokenAgeCheck(
        renewed ? new Date(renewed) : null,
        new Date(),
        config.engine.tokenRenewEveryMs,
      );
      return [
        line(true, 'referrals api', `Signed in as ${user}; the Referrals API answers.`),
        line(age.ok, 'token age', age.message, age.fix),
        await webhookLine(config, tokens, line),
        await clockLine(config, line),
      ];
    } catch (error) {
      if (
        error instanceof PartnerCenterAuthError ||
        (error instanceof PartnerCenterError && [401, 403].includes(error.status))
      ) {
        return [
          line(
            false,
            'referrals api',
            `Partner Center refused the credentials of ${user}: ${(error as Error).message}`,
            LOGIN_FIX(config),
          ),
        ];
      }
      if (error instanceof PartnerCenterError && error.status === 429) {
        const wait = error.retryAfterMs === undefined ? '' : ` for ${Math.ceil(error.retryAfterMs / 1000)} s`;
        return [
          line(
            false,
            'referrals api',
            `Partner Center is throttling this tenant (429)${wait}.`,
            'Nothing to do: work resumes after the Retry-After; if it persists, lower engine.worker.concurrency.',
          ),
        ];
      }
      return [
        line(
          false,
          'referrals api',
          `Partner Center did not answer: ${(error as Error).message}`,
          (error as { fix?: string }).fix ?? 'Check partnerCenter.referralsUrl and the network path to it.',
        ),
      ];
    }
  } finally {
    await store.close();
  }
}

type LineOf = (ok: boolean, check: string, message: string, fix?: string) => DoctorLine;

/** R1: the tenant's one webhook registration points at this deployment, or says whose it is. */
async function webhookLine(config: Config, tokens: TokenProvider, line: LineOf): Promise<DoctorLine> {
  const publicUrl = config.partnerCenter.webhook.publicUrl;
  const register = `cosell webhooks register --config ${config.file}`;
  if (!publicUrl) {
    return line(
      true,
      'webhook',
      'partnerCenter.webhook.publicUrl is not set: events arrive through the reconcile sweep only (every engine.reconcile.intervalMs).',
    );
  }
  try {
    const webhooks = new WebhooksClient({
      baseUrl: config.partnerCenter.webhooksUrl,
      tokens,
      retry: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0, maxRetryAfterMs: 0 },
      timeoutMs: config.engine.requestTimeoutMs,
    });
    const state = await webhooks.checkRegistration(publicUrl);
    if (state.state === 'missing')
      return line(
        false,
        'webhook',
        'No Partner Center webhook is registered for this tenant.',
        `Run \`${register}\`.`,
      );
    if (state.state === 'drift')
      return line(
        false,
        'webhook',
        state.message,
        `If this deployment replaces it (e.g. the old Power Automate flow), take it over: \`${register} --force\`.`,
      );
    const events = state.missingEvents.length
      ? `; events missing: ${state.missingEvents.join(', ')} (run \`${register}\`)`
      : '';
    return line(state.missingEvents.length === 0, 'webhook', `Registered to ${publicUrl}${events}.`);
  } catch (error) {
    return line(
      false,
      'webhook',
      `Could not read the webhook registration: ${(error as Error).message}`,
      (error as { fix?: string }).fix,
    );
  }
}

/** Tokens and webhook signatures carry times: a clock more than 5 minutes off breaks both. */
async function clockLine(config: Config, line: LineOf): Promise<DoctorLine> {
  const before = Date.now();
  try {
    const response = await fetch(config.partnerCenter.referralsUrl, { method: 'HEAD' });
    const serverDate = Date.parse(response.headers.get('date') ?? '');
    if (Number.isNaN(serverDate))
      return line(true, 'clock', 'Partner Center sent no Date header to compare with.');
    const local = (before + Date.now()) / 2;
    const skewS = Math.round((local - serverDate) / 1000);
    const ok = Math.abs(skewS) <= 300;
    return line(
      ok,
      'clock',
      `This machine's clock is ${Math.abs(skewS)} s ${skewS >= 0 ? 'ahead of' : 'behind'} Partner Center's.`,
      ok
        ? undefined
        : 'Synchronise the clock (NTP, e.g. `timedatectl set-ntp true`): sign-ins and webhook signatures allow 5 minutes.',
    );
  } catch (error) {
    return line(false, 'clock', `Could not reach Partner Center: ${(error as Error).message}`);
  }
}

/** The running service's own view: which APIs it has paused and why (GET /readyz). */
async function checkService(config: Config): Promise<DoctorLine[]> {
  const host = config.server.host === '0.0.0.0' ? '127.0.0.1' : config.server.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${config.server.port}/readyz`;
  let body: { status?: string; paused?: { api: string; reason: string; message: string; fix: string }[] };
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    body = (await response.json()) as typeof body;
  } catch {
    return [
      {
        ok: true,
        system: 'service',
        check: 'running',
        message: `No cosell service answers at ${url} (not running here).`,
      },
    ];
  }
  const paused = body.paused ?? [];
  if (paused.length === 0) {
    return [
      {
        ok: body.status === 'ready',
        system: 'service',
        check: 'running',
        message: `The service at ${url} is ${body.status ?? 'unknown'}.`,
      },
    ];
  }
  return paused.map((p) => ({
    ok: false,
    system: 'service',
    check: `${p.api} paused`,
    message: p.message,
    fix: p.fix,
  }));
}
