// What the engine end-to-end suites share: the Partner Center emulator and one CRM emulator (Salesforce or
// Dataverse) on port 0, a real SQLite store file, the real clients (device-code login against Partner Center,
// client credentials against the CRM), the engine, a small webhook receiver that verifies signatures against
// the emulator CA before handing events to the engine (what src/server does in production), and a seller at
// the CRM's UI in CRM-neutral words (crm-desk.ts). Suites run one body per CRM: describe.each(CRMS).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { startDynamicsEmulator } from '../../emulators/dynamics/index.ts';
import { startPartnerCenterEmulator } from '../../emulators/partner-center/index.ts';
import { startSalesforceEmulator } from '../../emulators/salesforce/index.ts';
import { control } from '../../src/cli/demo-story.ts';
import type { Referral } from '../../src/core/referral.ts';
import { DynamicsAdapter } from '../../src/crm/dynamics/adapter.ts';
import { type DynamicsSettingsInput, dynamicsConnectionSchema } from '../../src/crm/dynamics/settings.ts';
import type { CrmAdapter, CrmKind } from '../../src/crm/port.ts';
import { SalesforceAdapter } from '../../src/crm/salesforce/adapter.ts';
import {
  type SalesforceSettingsInput,
  salesforceConnectionSchema,
} from '../../src/crm/salesforce/settings.ts';
import { STAMP_SETTLE_MS } from '../../src/engine/crm-version.ts';
import { createEngine, type Engine, type EngineDeps } from '../../src/engine/engine.ts';
import { type EngineSettingsInput, parseEngineSettings } from '../../src/engine/settings.ts';
import type { RetryPolicy } from '../../src/lib/retry.ts';
import { DelegatedTokenProvider } from '../../src/partner-center/auth.ts';
import { ReferralsClient } from '../../src/partner-center/referrals.ts';
import { createCertificateCache, verifyWebhookSignature } from '../../src/partner-center/signature.ts';
import { WebhooksClient } from '../../src/partner-center/webhooks.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { ManualTime } from '../helpers/manual-time.ts';
import { until } from '../helpers/until.ts';
import { type CrmDesk, dynamicsDesk, salesforceDesk } from './crm-desk.ts';

export type PartnerCenterEmulator = Awaited<ReturnType<typeof startPartnerCenterEmulator>>;

/** The CRMs every engine suite runs on. */
export const CRMS: readonly { crm: CrmKind }[] = [{ crm: 'salesforce' }, { crm: 'dynamics' }];

/** Client-level retries without waiting: the engine's own retries are what the suites look at. */
const CLIENT_RETRY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 60_000 };
const noSleep = async () => {};

/** Fast loops for tests: the defaults are minutes apart. */
export const TEST_ENGINE_SETTINGS: EngineSettingsInput = {
  worker: { concurrency: 4, leaseMs: 10_000, pollIntervalMs: 50 },
  retry: { maxAttempts: 4, baseDelayMs: 20, maxDelayMs: 200, maxRetryAfterMs: 5_000 },
  crmPoll: { minIntervalMs: 100, maxIntervalMs: 400, overlapMs: 2_000 },
  reconcile: { intervalMs: 600_000, overlapMs: 2_000 },
  revalidateFailedEveryMs: 600_000,
};

export type EngineOverrides = Partial<Omit<EngineDeps, 'settings'>> & { settings?: EngineSettingsInput };

export interface Harness {
  pc: PartnerCenterEmulator;
  crmKind: CrmKind;
  /** The CRM emulator's control API (faults, counters, the UI). */
  crmControl: string;
  /** A seller at the CRM's UI. */
  desk: CrmDesk;
  dir: string;
  storeFile: string;
  store: Store;
  tokens: DelegatedTokenProvider;
  referrals: ReferralsClient;
  crm: CrmAdapter;
  engine: Engine;
  receiverUrl: string;
  /** Results of every webhook the receiver handed to the engine. */
  accepted: { duplicate: boolean; body: string }[];
  /** A second engine on the same store file (a restarted process), with its own clients and connection. */
  newEngine(overrides?: EngineOverrides): Promise<{ engine: Engine; store: Store }>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  crm?: CrmKind;
  /** The CRM org: multi-currency (default) or a single-currency org in `currency`. */
  crmOrg?: { multiCurrency: boolean; currency?: string };
  /** Referrals per Partner Center list page (default the emulator's 100): small pages exercise paging. */
  pcPageSize?: number;
  /** The CRM section of the config (R21 field names, the R8 decision field…), per CRM. */
  crmSettings?: { salesforce?: SalesforceSettingsInput; dynamics?: DynamicsSettingsInput };
  /** Every client gives up on a call with no answer after this (engine.requestTimeoutMs in a config). */
  requestTimeoutMs?: number;
}

export async function startHarness(
  settings: EngineSettingsInput = TEST_ENGINE_SETTINGS,
  options: HarnessOptions = {},
): Promise<Harness> {
  const pc = await startPartnerCenterEmulator({
    port: 0,
    host: '127.0.0.1',
    webhookRetryDelaysMs: [20, 50, 100],
    ...(options.pcPageSize ? { pageSize: options.pcPageSize } : {}),
  });
  const org = options.crmOrg ?? { multiCurrency: true };
  const crmKind = options.crm ?? 'salesforce';
  const timeout = options.requestTimeoutMs ? { timeoutMs: options.requestTimeoutMs } : {};
  const crmEmulator = await startCrm(crmKind, org, options.crmSettings ?? {}, timeout);
  const dir = await mkdtemp(join(tmpdir(), 'cosell-engine-e2e-'));
  const storeFile = join(dir, 'cosell.db');
  const tokenKey = randomBytes(32);
  const tokens = new DelegatedTokenProvider({
    clientId: pc.info.clientId,
    tenantId: pc.info.tenantId,
    cacheFile: join(dir, 'tokens.json'),
    tokenKey,
    authorityHostOverride: pc.info.authorityHost,
  });
  await tokens.login({ onDeviceCode: () => {} });
  const referrals = new ReferralsClient({
    baseUrl: pc.info.referrals,
    tokens,
    retry: CLIENT_RETRY,
    sleep: noSleep,
    ...timeout,
  });
  const connectCrm = crmEmulator.connect;
  const crm = await connectCrm();
  const logger = pino({ level: process.env.COSELL_TEST_LOG ?? 'silent' });
  const stores: Store[] = [];
  const engines: Engine[] = [];

  const build = async (overrides: EngineOverrides = {}, shared?: { store: Store; crm: CrmAdapter }) => {
    const store = shared?.store ?? (await openStore({ url: storeFile }));
    if (!shared) stores.push(store);
    const adapter = shared?.crm ?? (await connectCrm());
    const { settings: own, ...rest } = overrides;
    const engine = createEngine({
      store,
      referrals,
      crm: adapter,
      crmKind,
      settings: parseEngineSettings({ ...settings, ...own }),
      logger,
      ...rest,
    });
    engines.push(engine);
    return { engine, store };
  };
  const store = await openStore({ url: storeFile });
  stores.push(store);
  const { engine } = await build({}, { store, crm });

  const accepted: Harness['accepted'] = [];
  // In-flight deliveries at close would otherwise keep their keep-alive sockets (and close) open for 72 s.
  const receiver: FastifyInstance = Fastify({ forceCloseConnections: true });
  receiver.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) =>
    done(null, body),
  );
  const cache = createCertificateCache();
  receiver.post('/webhooks/partner-center', async (request, reply) => {
    const rawBody = request.body as Buffer;
    const verdict = await verifyWebhookSignature(
      { rawBody, headers: request.headers as Record<string, string> },
      {
        allowedCertificateHosts: [new URL(pc.info.certificateUrl).host],
        trustAnchorsPem: [pc.caCertificatePem],
        cache,
      },
    );
    if (!verdict.ok) return reply.code(401).send({ error: verdict.code });
    const body = rawBody.toString('utf8');
    const result = await engine.acceptWebhook(body);
    accepted.push({ ...result, body });
    return reply.code(200).send(result);
  });
  await receiver.listen({ port: 0, host: '127.0.0.1' });
  const address = receiver.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const receiverUrl = `http://127.0.0.1:${port}/webhooks/partner-center`;
  const webhooks = new WebhooksClient({
    baseUrl: pc.info.webhooks,
    tokens,
    retry: CLIENT_RETRY,
    sleep: noSleep,
    ...timeout,
  });
  await webhooks.register({ url: receiverUrl });

  return {
    pc,
    crmKind,
    crmControl: crmEmulator.control,
    desk: crmEmulator.desk,
    dir,
    storeFile,
    store,
    tokens,
    referrals,
    crm,
    engine,
    receiverUrl,
    accepted,
    newEngine: (overrides) => build(overrides),
    async close() {
      for (const e of engines) await e.stop();
      await receiver.close();
      for (const s of stores) await s.close().catch(() => {});
      await crmEmulator.close();
      await pc.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const call = control;

/** The emulators' documented fault control: the next `count` matching requests fail or wait. */
function faultControl(control: string) {
  return {
    fault: async (spec: Record<string, unknown>) => {
      await call(control, 'POST', '/faults', spec);
    },
    clearFaults: async () => {
      await call(control, 'DELETE', '/faults');
    },
  };
}

/** A second engine on the harness's store and clients whose clock and timers move only when the test advances
 *  them (test/helpers/manual-time.ts): days of schedules in milliseconds. Start and stop it in the test. */
export async function skippedTimeEngine(
  h: Harness,
  settings: EngineSettingsInput,
): Promise<{ time: ManualTime; engine: Engine }> {
  const time = new ManualTime(new Date());
  const { engine } = await h.newEngine({ now: time.now, timers: time, random: () => 0, settings });
  return { time, engine };
}

/** Partner Center control API: act as a Microsoft seller, read state, count calls. */
export function pcControl(h: Harness) {
  const c = <T>(method: string, path: string, body?: unknown) =>
    call<T>(h.pc.info.control, method, path, body);
  return {
    ...faultControl(h.pc.info.control),
    sendIncoming: (referral: Record<string, unknown>) => c<Referral>('POST', '/incoming-referrals', referral),
    editAsMicrosoft: (id: string, patch: Record<string, unknown>) =>
      c<Referral>('PATCH', `/referrals/${id}`, patch),
    accept: (id: string) => c<Referral>('POST', `/referrals/${id}/accept`),
    /** Partner Center expires an unanswered incoming referral (14 days, R30). */
    expire: (id: string) => c<Referral>('POST', `/referrals/${id}/expire`),
    referral: (id: string) => c<Referral>('GET', `/referrals/${id}`),
    all: async () => (await c<{ value: Referral[] }>('GET', '/referrals')).value,
    calls: () => c<Record<string, number>>('GET', '/calls'),
    behaviour: (body: Record<string, unknown>) => c('POST', '/webhooks/behaviour', body),
    deliveries: (query = '') =>
      c<{ deliveries: { state: string; eventName: string; referralId: string }[] }>(
        'GET',
        `/webhooks/deliveries${query}`,
      ),
  };
}

/** The CRM emulator's fault control and call counters. */
export function crmControl(h: Harness) {
  return {
    ...faultControl(h.crmControl),
    calls: () =>
      call<{ apiCalls: number; byEndpoint: Record<string, number> }>(h.crmControl, 'GET', '/calls'),
  };
}

interface StartedCrm {
  control: string;
  desk: CrmDesk;
  connect: () => Promise<CrmAdapter>;
  close: () => Promise<void>;
}

async function startCrm(
  kind: CrmKind,
  org: { multiCurrency: boolean; currency?: string },
  crmSettings: NonNullable<HarnessOptions['crmSettings']>,
  timeout: { timeoutMs?: number },
): Promise<StartedCrm> {
  const clientOptions = { sleep: noSleep, random: () => 0, policy: CLIENT_RETRY, ...timeout };
  if (kind === 'dynamics') {
    const dv = await startDynamicsEmulator({
      port: 0,
      host: '127.0.0.1',
      multiCurrency: org.multiCurrency,
      ...(org.currency ? { currency: org.currency } : {}),
    });
    const connection = dynamicsConnectionSchema.parse({
      url: dv.info.url,
      tenantId: dv.info.tenantId,
      authorityHost: dv.info.authorityHost,
      auth: { grant: 'client-secret', clientId: dv.info.clientId, clientSecret: dv.info.clientSecret },
    });
    return {
      control: dv.info.control,
      desk: dynamicsDesk(dv.info.control),
      connect: () => DynamicsAdapter.connect(connection, crmSettings.dynamics ?? {}, clientOptions),
      close: () => dv.close(),
    };
  }
  const sf = await startSalesforceEmulator({
    port: 0,
    host: '127.0.0.1',
    multiCurrency: org.multiCurrency,
    ...(org.currency ? { currency: org.currency } : {}),
  });
  const connection = salesforceConnectionSchema.parse({
    loginUrl: sf.info.loginUrl,
    apiVersion: sf.info.apiVersion,
    auth: { grant: 'client-credentials', clientId: sf.info.clientId, clientSecret: sf.info.clientSecret },
  });
  return {
    control: sf.info.control,
    desk: salesforceDesk(sf.info.control),
    connect: () =>
      SalesforceAdapter.connect(connection, crmSettings.salesforce ?? {}, {
        sleep: noSleep,
        random: () => 0,
        ...timeout,
      }),
    close: () => sf.close(),
  };
}

/** Sum of the Partner Center counters whose key starts with `prefix` ('PATCH /v1.0/engagements/referrals'). */
export function countOf(calls: Record<string, number>, prefix: string): number {
  return Object.entries(calls)
    .filter(([key]) => key.startsWith(prefix))
    .reduce((sum, [, n]) => sum + n, 0);
}

/** No job waiting or running for longer than the change feed's second look at a change listed within its own
 *  second (a Salesforce stamp's second, crm-version.ts) plus a poll: the echoes of the engine's own writes and
 *  that second look have played out, so nothing runs unless the test makes it. */
export async function quiet(store: Store, timeoutMs = 15_000): Promise<void> {
  const idle = async () => (await store.listJobs({ state: ['pending', 'running'] })).length === 0;
  let idleSince: number | null = null;
  await until(
    async () => {
      idleSince = (await idle()) ? (idleSince ?? Date.now()) : null;
      return idleSince !== null && Date.now() - idleSince >= STAMP_SETTLE_MS + 1_000;
    },
    timeoutMs,
    'no pending or running jobs',
  );
}
