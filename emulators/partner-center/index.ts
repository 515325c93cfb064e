// The Partner Center emulator: Referrals API, Webhooks API, an Entra-shaped token endpoint and a control
// API, on one real HTTP server. `cosell emulate partner-center` and the tests start it through
// `startPartnerCenterEmulator`; README.md next to this file is the interface users script against.
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { AuthService, type EmulatorUser, makeUser, newUserInputSchema } from './auth.ts';
import { MonotonicClock } from './clock.ts';
import {
  CONTROL_PREFIX,
  DEFAULT_PAGE_SIZE,
  DEMO_CLIENT_ID,
  DEMO_TENANT_ID,
  DEMO_USER,
  MAX_BODY_BYTES,
  REFERRALS_PREFIX,
  WEBHOOKS_AUDIENCE,
  WEBHOOKS_PREFIX,
} from './constants.ts';
import { registerControlRoutes } from './control.ts';
import { FaultsAndCalls } from './faults.ts';
import { installHttpConventions, isRecord, PartnerCenterError } from './http.ts';
import { type PersistedState, readSeedFile, readState, writeState } from './persistence.ts';
import { registerReferralRoutes } from './referrals.ts';
import { ReferralStore } from './store.ts';
import { createWebhookHub, type WebhookHub } from './webhooks/hub.ts';

// A type alias (not an interface) so it is assignable to Record<string, unknown> in the CLI.
export type PartnerCenterEmulatorInfo = {
  emulator: 'partner-center';
  /** Referrals API base, e.g. http://127.0.0.1:PORT/v1.0/engagements (collection at `${referrals}/referrals`). */
  referrals: string;
  /** Webhooks API base, http://127.0.0.1:PORT/webhooks/v1. */
  webhooks: string;
  /** Stands in for https://login.microsoftonline.com. */
  authorityHost: string;
  tenantId: string;
  /** `${authorityHost}/${tenantId}/oauth2/v2.0/token` */
  token: string;
  /** `${authorityHost}/${tenantId}/oauth2/v2.0/devicecode` */
  deviceCode: string;
  /** Control API base, http://127.0.0.1:PORT/_emulator. */
  control: string;
  /** Demo public client app id (any client id is accepted). */
  clientId: string;
  /** Default demo user, role Referrals Admin. */
  username: string;
  password: string;
  /** Where webhook signatures' certificate is served (https), and the CA to trust for it. */
  certificateUrl: string;
  caCertificateUrl: string;
};

export interface RunningPartnerCenterEmulator {
  info: PartnerCenterEmulatorInfo;
  caCertificatePem: string;
  url: string;
  close(): Promise<void>;
}

export interface PartnerCenterEmulatorOptions {
  port?: number;
  host?: string;
  /** JSON state file: loaded on start when it exists, rewritten after every change. */
  dataFile?: string;
  /** `{ "referrals": [...], "users"?: [...] }` loaded on a fresh start and on every reset. */
  seedFile?: string;
  /** 'auto' (default): device codes are approved at once as the demo user. 'manual': approve through the control API. */
  deviceCodeApproval?: 'auto' | 'manual';
  webhookRetryDelaysMs?: number[];
  pageSize?: number;
  logger?: boolean;
}

interface Seed {
  referrals: unknown[];
  users: EmulatorUser[];
}

/** `{referrals, users?}` or a bare list of referrals. */
function parseSeed(body: unknown): Seed {
  const root = Array.isArray(body) ? { referrals: body } : body;
  if (!isRecord(root) || !Array.isArray(root.referrals)) {
    throw new PartnerCenterError(
      400,
      'invalidRequest',
      'A seed is {"referrals": [ ... ], "users": [ ... ]} (users optional).',
      'referrals',
    );
  }
  const users = Array.isArray(root.users) ? root.users : [];
  return {
    referrals: root.referrals,
    users: users.map((user, index) => {
      const parsed = newUserInputSchema.safeParse(user);
      if (!parsed.success) {
        throw new PartnerCenterError(
          400,
          'invalidRequest',
          `Seed user #${index} must be {username, password, roles}: ${parsed.error.message}`,
          `users.${index}`,
        );
      }
      return makeUser(parsed.data);
    }),
  };
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export async function startPartnerCenterEmulator(
  options: PartnerCenterEmulatorOptions = {},
): Promise<RunningPartnerCenterEmulator> {
  const host = options.host ?? '127.0.0.1';
  const dataFile = options.dataFile;
  const saved = dataFile ? readState(dataFile) : undefined;
  const startSeed = options.seedFile
    ? parseSeed(readSeedFile(options.seedFile))
    : { referrals: [], users: [] };
  let baseUrl = '';

  let persistScheduled = false;
  const persistNow = () => {
    if (!dataFile) return;
    const state: PersistedState = {
      version: 1,
      referrals: store.toJSON(),
      auth: auth.toJSON(),
      webhooks: hub.toJSON(),
    };
    writeState(dataFile, state);
  };
  // Webhook deliveries change state outside any request; coalesce those writes.
  const schedulePersist = () => {
    if (!dataFile || persistScheduled) return;
    persistScheduled = true;
    setImmediate(() => {
      persistScheduled = false;
      persistNow();
    });
  };

  const hubOptions: Parameters<typeof createWebhookHub>[0] = {
    host,
    state: saved?.webhooks,
    onChange: schedulePersist,
  };
  if (options.webhookRetryDelaysMs) hubOptions.retryDelaysMs = options.webhookRetryDelaysMs;
  const hub: WebhookHub = await createWebhookHub(hubOptions);
  const store = new ReferralStore({
    clock: new MonotonicClock(),
    emit: (eventName, id, changedAt) => hub.emit(eventName, id, changedAt),
  });
  const auth = new AuthService({
    tenantId: DEMO_TENANT_ID,
    deviceCodeApproval: options.deviceCodeApproval ?? 'auto',
    authorityHost: () => baseUrl,
  });
  const faults = new FaultsAndCalls((id, patch) => store.editAsMicrosoft(id, patch));

  const resetToStart = () => {
    store.clear();
    auth.reset(startSeed.users);
    faults.reset();
    hub.reset();
    store.seed(startSeed.referrals);
  };
  if (saved) {
    store.seed(saved.referrals);
    auth.reset(startSeed.users);
    auth.load(saved.auth);
  } else {
    auth.reset(startSeed.users);
    store.seed(startSeed.referrals);
  }

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: MAX_BODY_BYTES,
    // The connector Swagger spells deal-registration PATCHes `/referrals/{id}/` and `/referrals/{id}//`.
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
  });
  installHttpConventions(app);
  faults.install(app);
  // Every answer to a changing request is sent only after the state file has it.
  app.addHook('onSend', async (request, _reply, payload) => {
    if (dataFile && request.method !== 'GET' && request.method !== 'HEAD') {
      try {
        persistNow();
      } catch (error) {
        request.log.error({ err: error }, 'could not write the emulator data file');
      }
    }
    return payload;
  });

  auth.registerTokenRoutes(app);
  registerReferralRoutes(app, {
    store,
    authorize: (request, reply, audience) => auth.authorize(request, reply, audience),
    pageSize: options.pageSize ?? DEFAULT_PAGE_SIZE,
  });
  hub.registerApiRoutes(app, (request, reply) => auth.authorize(request, reply, WEBHOOKS_AUDIENCE));

  auth.registerControlRoutes(app, CONTROL_PREFIX);
  faults.registerControlRoutes(app, CONTROL_PREFIX);
  registerControlRoutes(app, CONTROL_PREFIX, {
    store,
    reset: resetToStart,
    seed: (body) => {
      const seed = parseSeed(body);
      const ids = store.seed(seed.referrals).map((referral) => String(referral.id));
      for (const user of seed.users) auth.putUser(user);
      return ids;
    },
  });
  hub.registerControlRoutes(app, `${CONTROL_PREFIX}/webhooks`);
  app.get(CONTROL_PREFIX, async () => info);
  app.get('/devicelogin', async (_request, reply) =>
    reply
      .type('text/plain')
      .send(
        `Partner Center emulator sign-in. Device codes are approved automatically unless the emulator runs with manual approval; then list them with GET ${CONTROL_PREFIX}/device-codes and approve with POST ${CONTROL_PREFIX}/device-codes/{user_code}/approve.\n`,
      ),
  );

  await app.listen({ port: options.port ?? 0, host });
  const { port } = app.server.address() as AddressInfo;
  baseUrl = `http://${urlHost(host)}:${port}`;
  hub.publicBaseUrl = baseUrl;

  const info: PartnerCenterEmulatorInfo = {
    emulator: 'partner-center',
    referrals: `${baseUrl}${REFERRALS_PREFIX}`,
    webhooks: `${baseUrl}${WEBHOOKS_PREFIX}`,
    authorityHost: baseUrl,
    tenantId: DEMO_TENANT_ID,
    token: `${baseUrl}/${DEMO_TENANT_ID}/oauth2/v2.0/token`,
    deviceCode: `${baseUrl}/${DEMO_TENANT_ID}/oauth2/v2.0/devicecode`,
    control: `${baseUrl}${CONTROL_PREFIX}`,
    clientId: DEMO_CLIENT_ID,
    username: DEMO_USER.username,
    password: DEMO_USER.password,
    certificateUrl: hub.certificateUrl,
    caCertificateUrl: hub.caCertificateUrl,
  };
  persistNow();

  let closed = false;
  return {
    info,
    caCertificatePem: hub.caCertificatePem,
    url: baseUrl,
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await hub.close();
      persistNow();
    },
  };
}
