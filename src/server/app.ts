// The HTTP face of the service (DESIGN.md §2 server/): the Partner Center webhook endpoint and health checks.
//
// The webhook route is the durability boundary of R2: the signature is verified over the exact body bytes
// before anything is stored, a verified event is handed to the engine, which has it on disk when
// `acceptWebhook` resolves, and only then does Partner Center get its 2xx. Anything that fails before that
// point answers non-2xx, so Partner Center delivers the event again (up to 10 tries).
import Fastify, { type FastifyError, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { ApiHealthReport } from '../engine/api-health.ts';
import type { Engine } from '../engine/engine.ts';
import type { HeaderBag, SignatureResult } from '../partner-center/signature.ts';
import { type AdminOptions, adminRoutes } from './dashboard/routes.ts';
import type { Metrics } from './metrics.ts';
import { RefusalLimiter } from './refusals.ts';

/** Where one partner tenant's Partner Center events arrive: each tenant has its own path (R1: one URL per
 *  Partner Center tenant) and its own engine and signature settings. */
export interface WebhookRoute {
  path: string;
  tenantId: string;
  engine: Pick<Engine, 'acceptWebhook'>;
  /** `verifyWebhookSignature` bound to the tenant's allow-list, trust anchors and certificate cache;
   *  `allowDownload: false` for a caller refused too often lately (only certificates already trusted). */
  verifySignature: (
    event: { rawBody: Buffer; headers: HeaderBag },
    options: { allowDownload: boolean },
  ) => Promise<SignatureResult>;
}

export interface ServerDeps {
  /** One route per tenant; none on a process that takes no webhooks. */
  webhooks: readonly WebhookRoute[];
  /** Who was refused lately; default: 20 refusals a minute per caller address. */
  refusals?: RefusalLimiter;
  /** Resolves when the store answers; throws when it does not (`/healthz`). */
  checkStore: () => Promise<void>;
  /** True once the engine runs (`/readyz`). Default: always ready. */
  isReady?: () => boolean;
  /** APIs whose work is paused now (credentials, budget, throttling), each with its fix (`/readyz`). */
  pausedApis?: () => { api: string; reason: string; until: Date; fix: string; tenant?: string }[];
  /** What each API's recent calls said (`/readyz`): reachable, last success, last failure. */
  apiHealth?: () => (ApiHealthReport & { tenant?: string })[];
  /** `/metrics` (Prometheus text); absent: no such route. */
  metrics?: Metrics;
  /** The dashboard and the admin JSON API; absent: no such routes. */
  admin?: AdminOptions;
  logger: Logger;
  bodyLimit: number;
}

interface ErrorBody {
  error: { code: string; message: string };
}

function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

export type CosellServer = Awaited<ReturnType<typeof buildServer>>;

/**
 * How long from the start of a stop until every connection still open is closed. A delivery cut off by it got
 * no 2xx, so Partner Center delivers it again (R2). Node reaps only
 * the sockets idle at the moment of close; one that was mid-request then (or had sent half its headers) would
 * otherwise hold the stop for Fastify's 72 s keep-alive or Node's 60 s header timeout, past most supervisors'
 * kill deadline.
 */
export const STOP_GRACE_MS = 3_000;

export async function buildServer(deps: ServerDeps) {
  const refusals = deps.refusals ?? new RefusalLimiter();
  const app = Fastify({
    loggerInstance: deps.logger,
    // Per-request lines for health probes would drown the log; webhook outcomes are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimit,
  });
  let forceClose: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    forceClose = setTimeout(() => app.server.closeAllConnections(), STOP_GRACE_MS);
    forceClose.unref();
  });
  app.addHook('onClose', async () => clearTimeout(forceClose));

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status === 413) {
      request.log.warn({ event: 'webhook-refused', reason: 'body-too-large' }, 'webhook body too large');
      return reply
        .code(413)
        .send(errorBody('body-too-large', `The body is larger than ${deps.bodyLimit} bytes.`));
    }
    if (status < 500) return reply.code(status).send(errorBody(error.code ?? 'bad-request', error.message));
    request.log.error({ err: error }, 'request failed');
    return reply
      .code(500)
      .send(
        errorBody('internal', 'cosell could not take the event now; Partner Center will deliver it again.'),
      );
  });

  await app.register(async (scope) => {
    // The signature covers the exact bytes sent, so the body must reach us unparsed, whatever its type.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: deps.bodyLimit },
      (_request, body, done) => done(null, body),
    );
    // Every delivery answered with a 4xx was refused (signature, body): counted once, whichever check said so.
    const tenantOfPath = new Map(deps.webhooks.map((route) => [route.path, route.tenantId]));
    scope.addHook('onResponse', async (request, reply) => {
      const tenant = tenantOfPath.get(request.routeOptions.url ?? '');
      if (tenant !== undefined && reply.statusCode >= 400 && reply.statusCode < 500)
        deps.metrics?.webhookReceived('refused', tenant);
    });
    for (const route of deps.webhooks) {
      scope.post(route.path, async (request, reply) => {
        const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const caller = request.ip;
        const verdict = await route.verifySignature(
          { rawBody, headers: request.headers },
          { allowDownload: !refusals.isLimited(caller) },
        );
        if (!verdict.ok && verdict.code === 'certificate-download-refused') {
          // Not counted again: the caller is already limited, and nothing was fetched for it.
          return reply
            .code(429)
            .header('retry-after', String(refusals.retryAfterSeconds(caller)))
            .send(errorBody(verdict.code, verdict.reason));
        }
        if (!verdict.ok) {
          refusals.recordRefusal(caller);
          request.log.warn(
            {
              event: 'webhook-refused',
              code: verdict.code,
              reason: verdict.reason,
              certificateUrl: request.headers['x-ms-certificate-url'],
              remoteAddress: request.ip,
            },
            'webhook signature refused',
          );
          return reply.code(401).send(errorBody(verdict.code, verdict.reason));
        }
        const text = rawBody.toString('utf8');
        let event: unknown;
        try {
          event = JSON.parse(text);
        } catch (error) {
          request.log.warn(
            { event: 'webhook-refused', reason: 'malformed-json' },
            'webhook body is not JSON',
          );
          return reply
            .code(400)
            .send(errorBody('malformed-json', `The body is not JSON: ${(error as Error).message}`));
        }
        if (typeof event !== 'object' || event === null || Array.isArray(event)) {
          return reply.code(400).send(errorBody('malformed-event', 'The body is not a JSON object.'));
        }
        const { duplicate } = await route.engine.acceptWebhook(text);
        deps.metrics?.webhookReceived(duplicate ? 'duplicate' : 'accepted', route.tenantId);
        request.log.info(
          { event: 'webhook-accepted', tenant: route.tenantId, eventName: eventNameOf(event), duplicate },
          'webhook accepted',
        );
        return reply.code(200).send({ accepted: true, duplicate });
      });
    }
  });

  if (deps.metrics) {
    const { registry } = deps.metrics;
    app.get('/metrics', async (_request, reply) =>
      reply.header('content-type', registry.contentType).send(await registry.metrics()),
    );
  }

  app.get('/healthz', async (_request, reply) => {
    try {
      await deps.checkStore();
      return { status: 'ok', store: 'ok' };
    } catch (error) {
      return reply.code(503).send({ status: 'error', store: (error as Error).message });
    }
  });

  // Ready = syncing. Webhook intake works whatever this says (events are stored while an API is paused), so
  // route traffic on /healthz and alert on /readyz: a paused API needs someone (login) or time (budget, 429).
  app.get('/readyz', async (_request, reply) => {
    if (deps.isReady && !deps.isReady()) return reply.code(503).send({ status: 'starting', paused: [] });
    const store = await deps
      .checkStore()
      .then(() => 'ok')
      .catch((error: Error) => error.message);
    const paused = (deps.pausedApis?.() ?? []).map((p) => ({
      ...(p.tenant !== undefined ? { tenant: p.tenant } : {}),
      api: p.api,
      reason: p.reason,
      until: p.until.toISOString(),
      message: pauseMessage(p.api, p.reason),
      fix: p.fix,
    }));
    const apis = (deps.apiHealth?.() ?? []).map((h) => ({
      ...(h.tenant !== undefined ? { tenant: h.tenant } : {}),
      api: h.api,
      reachable: h.reachable,
      circuit: paused.some((p) => p.api === h.api && p.tenant === h.tenant) ? 'open' : 'closed',
      lastOkAt: h.lastOkAt?.toISOString() ?? null,
      lastFailure: h.lastFailure
        ? { at: h.lastFailure.at.toISOString(), status: h.lastFailure.status, message: h.lastFailure.message }
        : null,
    }));
    const status =
      store !== 'ok'
        ? 'store-down'
        : paused.length > 0
          ? 'paused'
          : apis.some((a) => !a.reachable)
            ? 'unreachable'
            : 'ready';
    return reply.code(status === 'ready' ? 200 : 503).send({ status, store, apis, paused });
  });

  if (deps.admin) await app.register(adminRoutes(deps.admin));

  return app;
}

const PAUSE_REASONS: Record<string, string> = {
  credentials: 'its credentials were refused; work waits for a new sign-in',
  budget: 'its API budget is used up; work resumes when it frees',
  throttled: 'it is throttling us (429); work resumes after its Retry-After',
};

function pauseMessage(api: string, reason: string): string {
  const name = api === 'partner-center' ? 'Partner Center' : 'The CRM';
  return `${name} sync is paused: ${PAUSE_REASONS[reason] ?? reason}.`;
}

/** Partner Center sends PascalCase (`EventName`), its Swagger camelCase; only used for the log line. */
function eventNameOf(event: object): string | undefined {
  const record = event as Record<string, unknown>;
  const name = record['EventName'] ?? record['eventName'];
  return typeof name === 'string' ? name : undefined;
}
