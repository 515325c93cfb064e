// The composition root of the running service: from a loaded config to store, Partner Center clients, CRM
// adapter, engine and HTTP server, started in that order and stopped in reverse. `cosell start` and the
// demo both run through here, so the demo exercises exactly what a deployment runs.

import type { Logger } from 'pino';
import { ConfigError, type ConfigProblem } from '../config/errors.ts';
import { readinessProblems } from '../config/readiness.ts';
import { redactedConfig, withoutPassword } from '../config/redact.ts';
import { type Config, DEFAULT_WEBHOOK_PATH, SECRET_ENV } from '../config/schema.ts';
import { tenantEnv, tenantVariable } from '../config/tenant-env.ts';
import { syncMappingWith } from '../core/deal-values.ts';
import { DynamicsAdapter } from '../crm/dynamics/adapter.ts';
import type { CrmAdapter } from '../crm/port.ts';
import { SalesforceAdapter } from '../crm/salesforce/adapter.ts';
import { createEngine, DEFAULT_REFERRAL_LINK, type Engine } from '../engine/engine.ts';
import { formatSeconds } from '../lib/deadline.ts';
import type { ApiRetry } from '../lib/retry.ts';
import { type DelegatedTokenProvider, readTokenKey } from '../partner-center/auth.ts';
import { ReferralsClient } from '../partner-center/referrals.ts';
import {
  createCertificateCache,
  type HeaderBag,
  verifyWebhookSignature,
} from '../partner-center/signature.ts';
import { WebhooksClient } from '../partner-center/webhooks.ts';
import { adminTokenProblem } from '../server/admin/auth.ts';
import { AdminData, type WebhookState } from '../server/admin/data.ts';
import { buildServer, type CosellServer } from '../server/app.ts';
import { createMetrics } from '../server/metrics.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { crmPreflight } from './crm-preflight.ts';
import { CliError } from './errors.ts';
import { lockStore } from './service-lock.ts';
import { storeTokenProvider } from './store-tokens.ts';
import { VERSION } from './version.ts';

/** What one process of a deployment does: `web` takes webhooks and serves the dashboard, `worker` syncs (jobs,
 *  CRM polls, sweeps), `all` both. Any number of each share one store (PostgreSQL across machines). */
export const SERVICE_ROLES = ['all', 'web', 'worker'] as const;
export type ServiceRole = (typeof SERVICE_ROLES)[number];

export interface ServiceOptions {
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  /** The token cache key; default COSELL_TOKEN_KEY from `env` (the demo generates one). */
  tokenKey?: Buffer;
  /** `--dry-run` on the command line wins over the file. */
  dryRun?: boolean;
  /** Default `all`. */
  role?: ServiceRole;
  /** A worker's port for /healthz, /readyz and /metrics (0 picks one); absent: a worker serves no HTTP. */
  healthPort?: number;
}

/** One partner tenant of the deployment: its config, its engine on its view of the store, its clients. */
export interface TenantService {
  tenantId: string;
  config: Config;
  engine: Engine;
  store: Store;
  crm: CrmAdapter;
  tokens: DelegatedTokenProvider;
  referrals: ReferralsClient;
  webhooks: WebhooksClient;
  /** Where this process takes the tenant's webhooks (null: a worker takes none). */
  webhookUrl: string | null;
  /** Reads Partner Center's webhook registration again (the dashboard shows the last reading). */
  checkWebhook(): Promise<void>;
}

export interface RunningService {
  role: ServiceRole;
  /** Base URL the server listens on, e.g. http://127.0.0.1:3000 (a worker: its health port's, or null). */
  url: string | null;
  /** Where the dashboard is (the server's root), null for a worker. */
  dashboardUrl: string | null;
  tenants: TenantService[];
  server: CosellServer | null;
  stop(): Promise<void>;
}

export async function connectCrm(
  config: Config,
  options: { onRetry?: (event: ApiRetry) => void } = {},
): Promise<CrmAdapter> {
  const clientOptions = {
    timeoutMs: config.engine.requestTimeoutMs,
    ...(options.onRetry ? { onRetry: options.onRetry } : {}),
  };
  if (config.crm.kind === 'salesforce' && config.crm.salesforce) {
    return SalesforceAdapter.connect(
      config.crm.salesforce.connection,
      config.crm.salesforce.settings,
      clientOptions,
    );
  }
  if (config.crm.kind === 'dynamics' && config.crm.dynamics) {
    return DynamicsAdapter.connect(
      config.crm.dynamics.connection,
      config.crm.dynamics.settings,
      clientOptions,
    );
  }
  throw new CliError(
    `crm.kind is ${config.crm.kind} but the crm.${config.crm.kind} section is missing.`,
    `Add crm.${config.crm.kind} with its connection (\`cosell init --crm ${config.crm.kind}\` writes an example).`,
  );
}

/** Every retried call leaves one line naming the API, the call and the cause: a sync that is slow or late says
 *  why in the log, not only in /metrics. */
function logRetries(logger: Logger): (event: ApiRetry) => void {
  return (event) =>
    logger.warn(
      { event: 'api-retry', ...event },
      `${event.api} ${event.operation}: ${event.cause}; retrying in ${formatSeconds(event.delayMs)} (attempt ${event.attempt} failed)`,
    );
}

/**
 * The engine of a deployment on its open store, as the service and the one-off commands (backfill, reconcile)
 * run it: a signed-in Partner Center user, the Referrals client, the CRM adapter.
 */
export async function openEngine(
  config: Config,
  store: Store,
  tokens: DelegatedTokenProvider,
  options: {
    logger: Logger;
    dryRun: boolean;
    renewCredentials: boolean;
    again: string;
    /** A bulk run (backfill): more workers, and CRM creates waiting for company to share batched calls. */
    bulk?: { concurrency: number; lingerMs: number };
  },
): Promise<{ engine: Engine; referrals: ReferralsClient; crm: CrmAdapter }> {
  if (!(await tokens.currentUser())) {
    throw new CliError(
      `No Partner Center user is signed in for this configuration (store ${withoutPassword(config.store.url)}).`,
      `Run \`cosell login --config ${config.file}\` once as a Referrals Admin user, then ${options.again}.`,
    );
  }
  const onRetry = logRetries(options.logger);
  const referrals = new ReferralsClient({
    tokens,
    baseUrl: config.partnerCenter.referralsUrl,
    timeoutMs: config.engine.requestTimeoutMs,
    onRetry,
  });
  const crm = await connectCrm(config, { onRetry });
  // Creates go through the batcher in the service too, with no wait: creates that arrive together share a
  // call, and two creates of one new customer never race each other into two accounts.
  crm.batchCreates?.({ lingerMs: options.bulk?.lingerMs ?? 0 });
  const worker = options.bulk
    ? {
        ...config.engine.worker,
        concurrency: Math.max(config.engine.worker.concurrency, options.bulk.concurrency),
      }
    : config.engine.worker;
  const engine = createEngine({
    tenantId: config.tenantId,
    store,
    referrals,
    crm,
    crmKind: config.crm.kind,
    settings: { ...config.engine, worker, dryRun: options.dryRun || config.engine.dryRun },
    logger: options.logger,
    ...(options.renewCredentials
      ? {
          renewCredentials: async () => {
            await tokens.getToken('referrals', { forceRefresh: true });
          },
        }
      : {}),
  });
  return { engine, referrals, crm };
}

/** Refusals of the deployment as a whole (several config files, one per tenant): one store, one listener,
 *  distinct tenant ids and webhook paths, and a token per tenant (the token decides the tenant a request sees). */
function deploymentProblems(
  configs: readonly Config[],
  env: NodeJS.ProcessEnv,
  role: ServiceRole,
): ConfigProblem[] {
  const [first, ...others] = configs;
  if (!first) return [{ path: '', message: 'no config file was given' }];
  const problems: ConfigProblem[] = [];
  const seen = new Map<string, string>();
  const paths = new Map<string, string>();
  for (const config of others) {
    const where = `in ${config.file}`;
    if (config.store.url !== first.store.url)
      problems.push({
        path: 'store.url',
        message: `${where} differs from ${first.file}: the tenants of a deployment share one store`,
      });
    if (config.server.host !== first.server.host || config.server.port !== first.server.port)
      problems.push({
        path: 'server',
        message: `${where} differs from ${first.file}: the deployment listens once (host and port of the first file)`,
      });
  }
  for (const config of configs) {
    const owner = seen.get(config.tenantId);
    if (owner)
      problems.push({
        path: 'tenantId',
        message: `${config.tenantId} is the tenant of both ${owner} and ${config.file}: give each file its own tenantId`,
      });
    seen.set(config.tenantId, config.file);
    const path = config.server.webhookPath;
    const other = paths.get(path);
    if (other)
      problems.push({
        path: 'server.webhookPath',
        message: `${path} is the webhook path of both ${other} and ${config.file}: Partner Center posts each tenant's events to its own path (e.g. ${DEFAULT_WEBHOOK_PATH}/${config.tenantId})`,
      });
    paths.set(path, config.file);
  }
  if (configs.length > 1 && role !== 'worker') {
    const tokens = new Map<string, string>();
    for (const config of configs) {
      const token = tenantEnv(env, config.tenantId)[SECRET_ENV.adminToken]?.trim();
      const variable = tenantVariable(SECRET_ENV.adminToken, config.tenantId);
      if (!token) {
        problems.push({
          path: 'tenantId',
          message: `${config.tenantId} (${config.file}) has no admin token: with several tenants each needs its own, set ${variable} (openssl rand -base64 32)`,
        });
        continue;
      }
      const sharedWith = tokens.get(token);
      if (sharedWith)
        problems.push({
          path: 'tenantId',
          message: `${config.tenantId} and ${sharedWith} have the same admin token: each tenant's token must be its own, or one would see the other's records (set ${variable})`,
        });
      tokens.set(token, config.tenantId);
    }
  }
  return problems;
}

export async function startService(
  configs: Config | readonly Config[],
  options: ServiceOptions,
): Promise<RunningService> {
  const list: readonly Config[] = Array.isArray(configs) ? configs : [configs as Config];
  const first = list[0];
  if (!first) throw new CliError('No config file was given.', 'Pass --config <file> once per tenant.');
  const role = options.role ?? 'all';
  const logger = options.logger;
  const env = options.env ?? process.env;
  const deployment = deploymentProblems(list, env, role);
  if (deployment.length > 0) {
    throw new ConfigError(
      first.file,
      deployment,
      'Fix the files above so they make one deployment, then start again. Nothing was started.',
    );
  }
  for (const config of list) {
    const problems = readinessProblems(config);
    // One pass (§4): the file's problems and the org's, unless the CRM section itself is not filled in yet.
    if (!problems.some((p) => p.path.startsWith('crm.'))) {
      const preflight = await crmPreflight(config);
      problems.push(...preflight.problems);
      if (preflight.unchecked) {
        logger.warn(
          {
            event: 'crm-unchecked',
            tenant: config.tenantId,
            crm: config.crm.kind,
            reason: preflight.unchecked,
          },
          'could not check the CRM against the config; starting anyway (the sync pauses while the CRM is unreachable)',
        );
      }
    }
    const adminToken = tenantEnv(env, config.tenantId)[SECRET_ENV.adminToken]?.trim() || undefined;
    const exposed = role === 'worker' ? null : adminTokenProblem(first.server.host, adminToken);
    if (exposed) problems.push({ path: 'server.host', message: exposed });
    if (problems.length > 0) {
      throw new ConfigError(
        config.file,
        problems,
        `Fix the settings and the CRM above, then start again (\`cosell doctor --config ${config.file}\` checks them without starting). Nothing was started.`,
      );
    }
  }
  const tokenKey = options.tokenKey ?? readTokenKey(env);
  // A second `cosell start` on the one-file store by mistake is refused; processes started with a role are a
  // deliberate scale-out (the schedules' lease keeps their recurring work to one of them).
  const unlock = role === 'all' ? lockStore(first.store.url) : () => {};
  let root: Store;
  try {
    root = await openStore({ url: first.store.url, tenantId: first.tenantId });
  } catch (error) {
    unlock();
    throw error;
  }
  const cleanup: (() => Promise<void>)[] = [async () => unlock(), () => root.close()];
  const unwind = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  };
  try {
    const dryRun = (config: Config) => options.dryRun || config.engine.dryRun;
    const parts = [];
    for (const config of list) {
      const store = config.tenantId === root.tenantId ? root : root.forTenant(config.tenantId);
      const tokens = storeTokenProvider(config, store, tokenKey);
      const tenantLogger = list.length > 1 ? logger.child({ tenant: config.tenantId }) : logger;
      const opened = await openEngine(config, store, tokens, {
        logger: tenantLogger.child({ component: 'engine' }),
        dryRun: options.dryRun ?? false,
        renewCredentials: true,
        again: 'start again',
      });
      const webhooks = new WebhooksClient({
        tokens,
        baseUrl: config.partnerCenter.webhooksUrl,
        timeoutMs: config.engine.requestTimeoutMs,
      });
      parts.push({ config, store, tokens, webhooks, logger: tenantLogger, ...opened });
    }

    let ready = false;
    let url: string | null = null;
    let server: CosellServer | null = null;
    const webhookStates = new Map<string, WebhookState>();
    const tenants: TenantService[] = parts.map((part) => {
      const { webhook } = part.config.partnerCenter;
      const registrationUrl = () => webhook.publicUrl ?? `${url}${part.config.server.webhookPath}`;
      return {
        tenantId: part.config.tenantId,
        config: part.config,
        engine: part.engine,
        store: part.store,
        crm: part.crm,
        tokens: part.tokens,
        referrals: part.referrals,
        webhooks: part.webhooks,
        webhookUrl: null,
        checkWebhook: async () => {
          webhookStates.set(
            part.config.tenantId,
            await readRegistration(part.webhooks, registrationUrl(), !!webhook.publicUrl, part.logger),
          );
        },
      };
    });

    // What /healthz, /readyz and /metrics read, in every process that serves them.
    const health = () => {
      const labelled = list.length > 1;
      return {
        checkStore: async () => {
          await root.getCursor('healthz');
        },
        isReady: () => ready,
        pausedApis: () =>
          tenants.flatMap((t) =>
            t.engine.pausedApis().map((p) => (labelled ? { ...p, tenant: t.tenantId } : p)),
          ),
        apiHealth: () =>
          tenants.flatMap((t) =>
            t.engine.apiHealth().map((h) => (labelled ? { ...h, tenant: t.tenantId } : h)),
          ),
        metrics: createMetrics({ tenants }),
      };
    };
    if (role === 'worker' && options.healthPort !== undefined) {
      // A worker's probes and Prometheus scrape: no webhooks, no dashboard, no admin API.
      server = await buildServer({
        webhooks: [],
        ...health(),
        logger: logger.child({ component: 'server' }),
        bodyLimit: first.server.bodyLimit,
      });
    }
    if (role !== 'worker') {
      const admins = new Map<string, AdminData>();
      for (const tenant of tenants) {
        const { config } = tenant;
        admins.set(
          tenant.tenantId,
          new AdminData({
            tenantId: config.tenantId,
            crmKind: config.crm.kind,
            dryRun: dryRun(config),
            store: tenant.store,
            engine: tenant.engine,
            mapping: syncMappingWith(config.engine.mapping.fields),
            redactedConfig: redactedConfig(config),
            webhook: () =>
              webhookStates.get(tenant.tenantId) ?? {
                state: 'unchecked',
                url: config.partnerCenter.webhook.publicUrl ?? '',
                message: 'Not checked yet.',
                checkedAt: null,
              },
            referralUrl: (id) => DEFAULT_REFERRAL_LINK(id),
            crmUrl: (id, kind) =>
              tenant.crm.recordUrl({ kind: kind === 'lead' ? 'lead' : 'opportunity', id }),
          }),
        );
      }
      server = await buildServer({
        webhooks: tenants.map((tenant) => {
          const { webhook } = tenant.config.partnerCenter;
          const certificates = createCertificateCache();
          return {
            path: tenant.config.server.webhookPath,
            tenantId: tenant.tenantId,
            engine: tenant.engine,
            verifySignature: (
              event: { rawBody: Buffer; headers: HeaderBag },
              { allowDownload }: { allowDownload: boolean },
            ) =>
              verifyWebhookSignature(event, {
                allowedCertificateHosts: webhook.allowedCertificateHosts,
                trustAnchorsPem: webhook.trustAnchorsPem,
                cache: certificates,
                allowDownload,
              }),
          };
        }),
        ...health(),
        admin: {
          access: {
            tenants: tenants.map((t) => ({
              tenantId: t.tenantId,
              token: tenantEnv(env, t.tenantId)[SECRET_ENV.adminToken]?.trim() || null,
            })),
          },
          dataFor: (tenantId) => {
            const data = admins.get(tenantId);
            // auth.ts lets through only requests carrying one of these tenants' tokens.
            if (!data) throw new CliError(`Unknown tenant ${tenantId}.`);
            return data;
          },
          version: VERSION,
        },
        logger: logger.child({ component: 'server' }),
        bodyLimit: first.server.bodyLimit,
      });
    }

    if (role !== 'web') {
      for (const tenant of tenants) {
        await tenant.engine.start();
        cleanup.push(() => tenant.engine.stop());
      }
    } else {
      // A web process runs no worker: it reads what the workers share (pauses, the day's calls) for /readyz,
      // /metrics and the dashboard.
      const share = () => {
        for (const tenant of tenants) void tenant.engine.shareCircuits(true).catch(() => {});
      };
      share();
      const timer = setInterval(share, WEB_SHARE_EVERY_MS);
      timer.unref();
      cleanup.push(async () => clearInterval(timer));
    }

    if (server) {
      const listening = server;
      const port = role === 'worker' ? (options.healthPort ?? 0) : first.server.port;
      url = await listening.listen({ host: first.server.host, port }).catch((error) => {
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
        throw new CliError(
          `Port ${port} on ${first.server.host} is already in use (another cosell, or another service).`,
          role === 'worker'
            ? 'Give each worker on this machine its own --health-port (0 picks a free one).'
            : 'Stop what listens there, or set server.port in the config to a free port (0 picks one).',
        );
      });
      cleanup.push(() => listening.close());
    }
    if (server && role !== 'worker') {
      for (const tenant of tenants) tenant.webhookUrl = `${url}${tenant.config.server.webhookPath}`;
      // Registration drift is checked at start and then on a schedule (R1): the tenant has one URL. Without a
      // public URL the service's own address is compared, for the dashboard only (nothing is logged).
      const checkAll = () => {
        for (const tenant of tenants) void tenant.checkWebhook();
      };
      checkAll();
      const timer = setInterval(checkAll, Math.min(...list.map((c) => c.partnerCenter.webhook.checkEveryMs)));
      timer.unref();
      cleanup.push(async () => clearInterval(timer));
    }
    ready = true;
    const service: RunningService = {
      role,
      url,
      dashboardUrl: url && role !== 'worker' ? `${url}/` : null,
      tenants,
      server,
      stop: async () => {
        ready = false;
        await unwind();
      },
    };
    logger.info(
      {
        event: 'started',
        role,
        url,
        tenants: tenants.map((t) => ({
          tenant: t.tenantId,
          crm: t.config.crm.kind,
          webhookUrl: t.webhookUrl,
          dryRun: dryRun(t.config),
        })),
      },
      'cosell started',
    );
    return service;
  } catch (error) {
    await unwind();
    throw error;
  }
}

/** How often a web process reads the circuits the workers share. */
const WEB_SHARE_EVERY_MS = 2_000;

/** Partner Center keeps one URL per tenant and the latest co-sell configuration wins (R1): say when it is
 *  not ours, never take it over silently. `warn`: log what is wrong (a public URL is configured). */
async function readRegistration(
  webhooks: WebhooksClient,
  url: string,
  warn: boolean,
  logger: Logger,
): Promise<WebhookState> {
  const checkedAt = new Date().toISOString();
  try {
    const state = await webhooks.checkRegistration(url);
    if (state.state === 'missing') {
      const message =
        'No Partner Center webhook is registered: run `cosell webhooks register --config <file>` (events arrive only through the reconcile sweep until then).';
      if (warn) logger.warn({ event: 'webhook-not-registered', publicUrl: url }, message);
      return { state: 'missing', url, message, checkedAt };
    }
    if (state.state === 'drift') {
      if (warn) logger.warn({ event: 'webhook-drift', publicUrl: url }, state.message);
      return { state: 'drift', url, message: state.message, checkedAt };
    }
    const missing = state.missingEvents.length
      ? ` It lacks ${state.missingEvents.join(', ')}: run \`cosell webhooks register\` again.`
      : '';
    return {
      state: 'ours',
      url,
      message: `Partner Center posts events to this service.${missing}`,
      checkedAt,
    };
  } catch (error) {
    logger.warn({ event: 'webhook-check-failed', err: error }, 'Could not read the webhook registration');
    return {
      state: 'error',
      url,
      message: `Could not read the webhook registration: ${(error as Error).message}`,
      checkedAt,
    };
  }
}
