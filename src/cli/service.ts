// The composition root of the running service: from a loaded config to store, Partner Center clients, CRM
// adapter, engine and HTTP server, started in that order and stopped in reverse. `cosell start` and the
// demo both run through here, so the demo exercises exactly what a deployment runs.

import type { Logger } from 'pino';
import { ConfigError } from '../config/errors.ts';
import { readinessProblems } from '../config/readiness.ts';
import { redactedConfig, withoutPassword } from '../config/redact.ts';
import { type Config, SECRET_ENV } from '../config/schema.ts';
import { syncMappingWith } from '../core/deal-values.ts';
import { DynamicsAdapter } from '../crm/dynamics/adapter.ts';
import type { CrmAdapter } from '../crm/port.ts';
import { SalesforceAdapter } from '../crm/salesforce/adapter.ts';
import { createEngine, DEFAULT_REFERRAL_LINK, type Engine } from '../engine/engine.ts';
import { formatSeconds } from '../lib/deadline.ts';
import type { ApiRetry } from '../lib/retry.ts';
import { type DelegatedTokenProvider, readTokenKey } from '../partner-center/auth.ts';
import { ReferralsClient } from '../partner-center/referrals.ts';
import { createCertificateCache, verifyWebhookSignature } from '../partner-center/signature.ts';
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

export interface ServiceOptions {
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  /** The token cache key; default COSELL_TOKEN_KEY from `env` (the demo generates one). */
  tokenKey?: Buffer;
  /** `--dry-run` on the command line wins over the file. */
  dryRun?: boolean;
}

export interface RunningService {
  /** Base URL the server listens on, e.g. http://127.0.0.1:3000. */
  url: string;
  webhookUrl: string;
  engine: Engine;
  store: Store;
  crm: CrmAdapter;
  tokens: DelegatedTokenProvider;
  referrals: ReferralsClient;
  webhooks: WebhooksClient;
  server: CosellServer;
  /** Where the dashboard is (the server's root). */
  dashboardUrl: string;
  /** Reads Partner Center's webhook registration again (the dashboard shows the last reading). */
  checkWebhook(): Promise<void>;
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

export async function startService(config: Config, options: ServiceOptions): Promise<RunningService> {
  const logger = options.logger;
  const problems = readinessProblems(config);
  // One pass (§4): the file's problems and the org's, unless the CRM section itself is not filled in yet.
  if (!problems.some((p) => p.path.startsWith('crm.'))) {
    const preflight = await crmPreflight(config);
    problems.push(...preflight.problems);
    if (preflight.unchecked) {
      logger.warn(
        { event: 'crm-unchecked', crm: config.crm.kind, reason: preflight.unchecked },
        'could not check the CRM against the config; starting anyway (the sync pauses while the CRM is unreachable)',
      );
    }
  }
  const env = options.env ?? process.env;
  const adminToken = env[SECRET_ENV.adminToken]?.trim() || undefined;
  const exposed = adminTokenProblem(config.server.host, adminToken);
  if (exposed) problems.push({ path: 'server.host', message: exposed });
  if (problems.length > 0) {
    throw new ConfigError(
      config.file,
      problems,
      `Fix the settings and the CRM above, then start again (\`cosell doctor --config ${config.file}\` checks them without starting). Nothing was started.`,
    );
  }
  const tokenKey = options.tokenKey ?? readTokenKey(options.env ?? process.env);
  const unlock = lockStore(config.store.url);
  let store: Store;
  try {
    store = await openStore({ url: config.store.url, tenantId: config.tenantId });
  } catch (error) {
    unlock();
    throw error;
  }
  const cleanup: (() => Promise<void>)[] = [async () => unlock(), () => store.close()];
  const unwind = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  };
  try {
    const tokens = storeTokenProvider(config, store, tokenKey);
    const { engine, referrals, crm } = await openEngine(config, store, tokens, {
      logger: logger.child({ component: 'engine' }),
      dryRun: options.dryRun ?? false,
      renewCredentials: true,
      again: 'start again',
    });
    const webhooks = new WebhooksClient({
      tokens,
      baseUrl: config.partnerCenter.webhooksUrl,
      timeoutMs: config.engine.requestTimeoutMs,
    });

    let ready = false;
    const { webhook } = config.partnerCenter;
    let webhookState: WebhookState = {
      state: 'unchecked',
      url: webhook.publicUrl ?? '',
      message: 'Not checked yet.',
      checkedAt: null,
    };
    const admin = new AdminData({
      tenantId: config.tenantId,
      crmKind: config.crm.kind,
      dryRun: options.dryRun || config.engine.dryRun,
      store,
      engine,
      mapping: syncMappingWith(config.engine.mapping.fields),
      redactedConfig: redactedConfig(config),
      webhook: () => webhookState,
      referralUrl: (id) => DEFAULT_REFERRAL_LINK(id),
      crmUrl: (id, kind) => crm.recordUrl({ kind: kind === 'lead' ? 'lead' : 'opportunity', id }),
    });
    const certificates = createCertificateCache();
    const server = await buildServer({
      engine,
      verifySignature: (event, { allowDownload }) =>
        verifyWebhookSignature(event, {
          allowedCertificateHosts: webhook.allowedCertificateHosts,
          trustAnchorsPem: webhook.trustAnchorsPem,
          cache: certificates,
          allowDownload,
        }),
      checkStore: async () => {
        await store.getCursor('healthz');
      },
      isReady: () => ready,
      pausedApis: () => engine.pausedApis(),
      apiHealth: () => engine.apiHealth(),
      metrics: createMetrics({ engine, store }),
      admin: {
        access: { token: adminToken ?? null, tenantId: config.tenantId },
        dataFor: (tenantId) => {
          // One tenant per deployment today: a request for any other tenant sees nothing (auth.ts tenantOf).
          if (tenantId !== config.tenantId) throw new CliError(`Unknown tenant ${tenantId}.`);
          return admin;
        },
        version: VERSION,
      },
      logger: logger.child({ component: 'server' }),
      webhookPath: config.server.webhookPath,
      bodyLimit: config.server.bodyLimit,
    });

    await engine.start();
    cleanup.push(() => engine.stop());
    const url = await server.listen({ host: config.server.host, port: config.server.port }).catch((error) => {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      throw new CliError(
        `Port ${config.server.port} on ${config.server.host} is already in use (another cosell, or another service).`,
        'Stop what listens there, or set server.port in the config to a free port (0 picks one).',
      );
    });
    cleanup.push(() => server.close());
    ready = true;
    const registrationUrl = () => webhook.publicUrl ?? `${url}${config.server.webhookPath}`;
    const checkWebhook = async () => {
      webhookState = await readRegistration(webhooks, registrationUrl(), !!webhook.publicUrl, logger);
    };
    const service: RunningService = {
      url,
      webhookUrl: `${url}${config.server.webhookPath}`,
      engine,
      store,
      crm,
      tokens,
      referrals,
      webhooks,
      server,
      dashboardUrl: `${url}/`,
      checkWebhook,
      stop: async () => {
        ready = false;
        await unwind();
      },
    };
    // Registration drift is checked at start and then on a schedule (R1): the tenant has one URL. Without a
    // public URL the service's own address is compared, for the dashboard only (nothing is logged).
    void checkWebhook();
    const timer = setInterval(() => void checkWebhook(), webhook.checkEveryMs);
    timer.unref();
    cleanup.push(async () => clearInterval(timer));
    logger.info(
      {
        event: 'started',
        url,
        webhookUrl: service.webhookUrl,
        crm: config.crm.kind,
        dryRun: options.dryRun || config.engine.dryRun,
      },
      'cosell started',
    );
    return service;
  } catch (error) {
    await unwind();
    throw error;
  }
}

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
