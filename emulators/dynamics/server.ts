/**
 * The Dataverse emulator as a real HTTP server: an Entra-shaped token endpoint (client credentials with a
 * secret or a certificate assertion), the Web API under `/api/data/v9.2/`, and the control API under
 * `/_emulator` (a seller's UI, environment variables, faults, call counters, limits, clock, reset, seed).
 * See README.md for the interface.
 */
import {
  constants,
  verify as cryptoVerify,
  randomBytes,
  randomUUID,
  type X509Certificate,
} from 'node:crypto';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { readSolution, withPrefix } from '../../src/crm/dynamics/package-schema.ts';
import { CallLog } from '../shared/calls.ts';
import { delay, FaultQueue } from '../shared/faults.ts';
import { API_PATH, type ApiContext, type ApiRequest, type ApiResponse, handleApi } from './api.ts';
import { boundaryOf, parseBatch, runBatch } from './batch.ts';
import { registerControlRoutes } from './control.ts';
import { CODES, DataverseError } from './errors.ts';
import { type LimitConfig, ServiceProtection } from './limits.ts';
import { buildSchema } from './schema.ts';
import { seedEnvironment } from './seed.ts';
import { DataverseStore } from './store.ts';

export const DEMO_CLIENT_ID = '6f0c0e0a-5e11-4c0e-9a1e-c05e11d3a0a1';
export const DEMO_CLIENT_SECRET = 'cosell-dataverse-emulator-demo-secret';
export const DEMO_TENANT_ID = '0b1d2c3e-4f50-4a6b-8c7d-9e0f1a2b3c4d';
export const CONTROL_PREFIX = '/_emulator';

export interface DynamicsEmulatorOptions {
  port?: number;
  host?: string;
  /** Standard tables only: an environment where the solution was never imported (doctor's test). */
  bare?: boolean;
  /** Publisher prefix the solution is loaded under (default: the shipped one, `cosell`). */
  prefix?: string;
  /** Several transactioncurrencies (default); false: only `currency`. */
  multiCurrency?: boolean;
  /** Base currency (default USD). */
  currency?: string;
  limits?: Partial<LimitConfig>;
  /** Days a change-tracking token lives (organization.ExpireChangeTrackingInDays; default 7). */
  changeTrackingDays?: number;
  solutionDir?: string;
  logger?: boolean;
}

export type DynamicsEmulatorInfo = {
  emulator: 'dynamics';
  /** Organisation URL; the Web API is `{url}/api/data/v9.2/`. */
  url: string;
  api: string;
  /** Token endpoint (client credentials). msal-node reaches it by rewriting login.microsoftonline.com. */
  token: string;
  authorityHost: string;
  tenantId: string;
  scope: string;
  control: string;
  clientId: string;
  clientSecret: string;
  prefix: string;
};

export interface RunningDynamicsEmulator {
  info: DynamicsEmulatorInfo;
  emulator: DynamicsEmulator;
  close(): Promise<void>;
}

export interface DataverseFault {
  method?: string;
  path?: string;
  count: number;
  status?: number;
  code?: string;
  message?: string;
  retryAfter?: number;
  delayMs?: number;
  /** Close the connection without an answer (after any delay). */
  reset?: boolean;
}

/** The running environment's state: what the control API acts on. */
export class DynamicsEmulator {
  store!: DataverseStore;
  readonly faults = new FaultQueue<DataverseFault>();
  readonly calls = new CallLog('dataverse');
  readonly limits: ServiceProtection;
  readonly tokens = new Map<string, number>();
  appCertificate: X509Certificate | undefined;
  orgUrl = '';
  readonly userId = randomUUID();
  readonly organizationId = randomUUID();
  prefix = 'cosell';

  constructor(
    readonly options: DynamicsEmulatorOptions,
    private readonly solutionLoader: () => Promise<ReturnType<typeof buildSchema>>,
  ) {
    this.limits = new ServiceProtection(options.limits);
  }

  async reset(): Promise<void> {
    const schema = await this.solutionLoader();
    this.prefix = schema.solution?.publisher.prefix ?? this.options.prefix ?? 'cosell';
    this.store = new DataverseStore(schema);
    seedEnvironment(this.store, {
      userId: this.userId,
      organizationId: this.organizationId,
      clientId: DEMO_CLIENT_ID,
      currency: this.options.currency ?? 'USD',
      multiCurrency: this.options.multiCurrency ?? true,
    });
    this.faults.clear();
    this.calls.clear();
    this.limits.reset();
    this.tokens.clear();
  }

  apiContext(): ApiContext {
    return {
      store: this.store,
      orgUrl: this.orgUrl,
      userId: this.userId,
      organizationId: this.organizationId,
      changeTokenExpiryMs: (this.options.changeTrackingDays ?? 7) * 86_400_000,
    };
  }

  issueToken(): { access_token: string; expires_in: number } {
    const token = `dvemu.${randomBytes(24).toString('base64url')}`;
    this.tokens.set(token, this.store.now().getTime() + 3599_000);
    return { access_token: token, expires_in: 3599 };
  }

  tokenValid(token: string): boolean {
    const expires = this.tokens.get(token);
    return expires !== undefined && expires > this.store.now().getTime();
  }
}

/** `GET /opportunities(…)` → `GET /opportunities({id})`: how the call counters read. */
export function endpointOf(method: string, path: string): string {
  const rel = path.startsWith(API_PATH) ? path.slice(API_PATH.length - 1) : path;
  return `${method} ${decodeURIComponent(rel).replace(/\([^)]*\)/g, '({id})')}`;
}

function sendError(reply: FastifyReply, error: DataverseError): FastifyReply {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  return reply
    .code(error.status)
    .header('content-type', 'application/json; odata.metadata=minimal')
    .send(error.body());
}

function sendApi(reply: FastifyReply, response: ApiResponse): FastifyReply {
  reply.header('OData-Version', '4.0');
  for (const [name, value] of Object.entries(response.headers)) reply.header(name, value);
  reply.code(response.status);
  if (response.body === undefined) return reply.send();
  return reply.header('content-type', 'application/json; odata.metadata=minimal').send(response.body);
}

function entraError(reply: FastifyReply, status: number, error: string, code: number, description: string) {
  return reply.code(status).send({
    error,
    error_description: `AADSTS${code}: ${description}`,
    error_codes: [code],
    timestamp: new Date().toISOString().replace('T', ' ').replace('Z', 'Z'),
    trace_id: randomUUID(),
    correlation_id: randomUUID(),
  });
}

/** A certificate client assertion: RS256 JWT signed by the key of the certificate registered on the app. */
function assertionValid(emulator: DynamicsEmulator, assertion: string, tokenUrl: string): string | null {
  const [header, payload, signature] = assertion.split('.');
  if (!header || !payload || !signature) return 'The client assertion is not a JWT.';
  if (!emulator.appCertificate) {
    return 'No certificate is registered on the app registration (PUT {control}/app-certificate with its PEM).';
  }
  let alg: unknown;
  try {
    alg = (JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: unknown }).alg;
  } catch {
    return 'The client assertion header is not JSON.';
  }
  // Entra accepts RS256 and PS256 (msal-node signs PS256 when given a SHA-256 thumbprint).
  if (alg !== 'RS256' && alg !== 'PS256')
    return `Client assertion algorithm ${String(alg)} is not supported (RS256, PS256).`;
  const key =
    alg === 'PS256'
      ? { key: emulator.appCertificate.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
      : emulator.appCertificate.publicKey;
  if (
    !cryptoVerify('sha256', Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url'))
  ) {
    return 'Client assertion contains an invalid signature.';
  }
  let claims: { iss?: string; sub?: string; aud?: string; exp?: number };
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return 'The client assertion payload is not JSON.';
  }
  if (claims.iss !== DEMO_CLIENT_ID || claims.sub !== DEMO_CLIENT_ID)
    return 'The assertion iss and sub must be the client id.';
  if (typeof claims.exp !== 'number' || claims.exp * 1000 < emulator.store.now().getTime())
    return 'The client assertion has expired.';
  if (claims.aud && !claims.aud.endsWith('/oauth2/v2.0/token') && claims.aud !== tokenUrl)
    return 'The assertion audience is not the token endpoint.';
  return null;
}

export async function startDynamicsEmulator(
  options: DynamicsEmulatorOptions = {},
): Promise<RunningDynamicsEmulator> {
  const loader = async () => {
    if (options.bare) return buildSchema(null);
    const solution = await readSolution(options.solutionDir);
    return buildSchema(options.prefix ? withPrefix(solution, options.prefix) : solution);
  };
  const emulator = new DynamicsEmulator(options, loader);
  await emulator.reset();

  const app = Fastify({ logger: options.logger ?? false, bodyLimit: 16 * 1024 * 1024 });
  app.addContentTypeParser(/^multipart\/mixed/i, { parseAs: 'string' }, (_request, body, done) =>
    done(null, body),
  );
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(/^application\/json/i, { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new DataverseError(400, CODES.invalidPayload, 'The request body is not valid JSON.'), undefined);
    }
  });
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof DataverseError) return sendError(reply, error);
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    return sendError(
      reply,
      new DataverseError(
        status,
        status === 413 ? CODES.invalidArgument : CODES.unavailable,
        error instanceof Error ? error.message : String(error),
      ),
    );
  });

  // ---- Entra token endpoint ------------------------------------------------------------------------------
  app.post('/:tenant/oauth2/v2.0/token', async (request, reply) => {
    const tokenPath = request.url.split('?')[0]!;
    emulator.calls.record({
      method: 'POST',
      endpoint: '/{tenant}/oauth2/v2.0/token',
      path: tokenPath,
      status: 0,
      countedAsApiCall: false,
      kind: 'token',
    });
    const form = (request.body ?? {}) as Record<string, string>;
    const fault = emulator.faults.take('POST', request.url.split('?')[0]!, () => false);
    if (fault?.delayMs) await delay(fault.delayMs);
    if (fault?.retryAfter !== undefined) reply.header('Retry-After', String(fault.retryAfter));
    if (fault?.status)
      return entraError(
        reply,
        fault.status,
        'temporarily_unavailable',
        50001,
        fault.message ?? 'Injected fault.',
      );
    if (form.grant_type !== 'client_credentials') {
      return entraError(
        reply,
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${form.grant_type ?? ''}'. The Dataverse emulator supports client_credentials.`,
      );
    }
    if (form.client_id !== DEMO_CLIENT_ID) {
      return entraError(
        reply,
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${form.client_id ?? ''}' was not found in the directory.`,
      );
    }
    const expectedScope = `${emulator.orgUrl}/.default`;
    const scopes = (form.scope ?? '')
      .split(' ')
      .filter((s) => s !== 'openid' && s !== 'profile' && s !== 'offline_access');
    if (scopes.length !== 1 || scopes[0]!.replace(/\/+\.default$/, '/.default') !== expectedScope) {
      return entraError(
        reply,
        400,
        'invalid_scope',
        500011,
        `The resource principal named ${scopes.join(' ') || '(none)'} was not found in the tenant. Request the scope ${expectedScope}.`,
      );
    }
    if (form.client_assertion) {
      const problem = assertionValid(emulator, form.client_assertion, `${emulator.orgUrl}${request.url}`);
      if (problem) return entraError(reply, 401, 'invalid_client', 700027, problem);
    } else if (form.client_secret !== DEMO_CLIENT_SECRET) {
      return entraError(
        reply,
        401,
        'invalid_client',
        7000215,
        'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.',
      );
    }
    const token = emulator.issueToken();
    return {
      token_type: 'Bearer',
      expires_in: token.expires_in,
      ext_expires_in: token.expires_in,
      access_token: token.access_token,
      scope: expectedScope,
    };
  });
  app.get('/:tenant/v2.0/.well-known/openid-configuration', async (request) => {
    const { tenant } = request.params as { tenant: string };
    const base = `https://login.microsoftonline.com/${tenant}`;
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      issuer: `https://login.microsoftonline.com/${tenant}/v2.0`,
      jwks_uri: `${base}/discovery/v2.0/keys`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      response_types_supported: ['code', 'id_token', 'token'],
    };
  });

  // ---- Web API -------------------------------------------------------------------------------------------
  const api = async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0]!;
    emulator.calls.record({
      method: request.method,
      endpoint: endpointOf(request.method, path).slice(request.method.length + 1),
      path,
      status: 0,
      countedAsApiCall: true,
      ...(path === `${API_PATH}$batch`
        ? {
            kind: 'batch' as const,
            writing: typeof request.body === 'string' && /^(POST|PATCH|PUT|DELETE) /m.test(request.body),
          }
        : {}),
    });
    const auth = request.headers.authorization ?? '';
    const token = /^Bearer\s+(.+)$/i.exec(auth)?.[1];
    if (!token || !emulator.tokenValid(token)) {
      reply.header(
        'WWW-Authenticate',
        `Bearer authorization_uri=https://login.microsoftonline.com/${DEMO_TENANT_ID}/oauth2/authorize, resource_id=${emulator.orgUrl}/`,
      );
      return sendError(
        reply,
        new DataverseError(
          401,
          CODES.unauthorized,
          token
            ? 'The access token is expired or not valid for this organization. Request a new token.'
            : 'An access token is required: send Authorization: Bearer <token> for the scope <org url>/.default.',
        ),
      );
    }
    const fault = emulator.faults.take(request.method, path);
    if (fault) {
      if (fault.delayMs) await delay(fault.delayMs);
      if (fault.reset) {
        reply.hijack();
        request.raw.socket.destroy();
        return;
      }
      if (fault.status) {
        const headers: Record<string, string> =
          fault.status === 429 ? { 'Retry-After': String(fault.retryAfter ?? 1) } : {};
        if (fault.retryAfter !== undefined) headers['Retry-After'] = String(fault.retryAfter);
        const code = fault.code ?? (fault.status === 429 ? CODES.requestsLimit : CODES.unavailable);
        const message =
          fault.message ??
          (fault.status === 429
            ? 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.'
            : `The service is temporarily unavailable (fault injected by the emulator, HTTP ${fault.status}).`);
        return sendError(reply, new DataverseError(fault.status, code, message, headers));
      }
    }
    const url = new URL(request.url, emulator.orgUrl);
    const ctx = emulator.apiContext();
    const isBatch = path === `${API_PATH}$batch`;
    let items: ReturnType<typeof parseBatch> | undefined;
    if (isBatch) {
      if (request.method !== 'POST')
        return sendError(reply, new DataverseError(405, CODES.queryNotSupported, '$batch takes POST.'));
      const boundary = boundaryOf(request.headers['content-type']);
      if (!boundary || typeof request.body !== 'string') {
        return sendError(
          reply,
          new DataverseError(
            400,
            CODES.invalidArgument,
            'A $batch request needs Content-Type: multipart/mixed; boundary=batch_<id> (JSON $batch is not supported).',
          ),
        );
      }
      items = parseBatch(request.body, boundary);
    }
    const count = items ? items.reduce((n, i) => n + (i.kind === 'single' ? 1 : i.requests.length), 0) : 1;
    const started = Date.now();
    emulator.limits.admit(started, Math.max(1, count));
    try {
      if (items) {
        const { prefer } = request.headers as { prefer?: string };
        // Each inner request is an operation of its own in the counters (by its method and entity set).
        const counted: typeof handleApi = (innerCtx, inner) => {
          emulator.calls.record({
            method: inner.method,
            endpoint: endpointOf(inner.method, inner.url.pathname).slice(inner.method.length + 1),
            path: inner.url.pathname,
            status: 0,
            countedAsApiCall: true,
            batched: true,
          });
          return handleApi(innerCtx, inner);
        };
        const result = await runBatch(ctx, items, /odata\.continue-on-error/i.test(prefer ?? ''), counted);
        return reply
          .code(result.status)
          .header('OData-Version', '4.0')
          .header('content-type', result.contentType)
          .send(result.body);
      }
      const apiRequest: ApiRequest = {
        method: request.method,
        url,
        headers: request.headers as Record<string, string | undefined>,
        body: request.body,
      };
      return sendApi(reply, await handleApi(ctx, apiRequest));
    } finally {
      emulator.limits.finish(Date.now(), started);
    }
  };
  app.route({ method: ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'], url: `${API_PATH}*`, handler: api });

  registerControlRoutes(app, emulator, CONTROL_PREFIX);

  const address = await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  const origin = address.replace('[::1]', 'localhost');
  emulator.orgUrl = origin;
  const info: DynamicsEmulatorInfo = {
    emulator: 'dynamics',
    url: origin,
    api: `${origin}${API_PATH}`,
    token: `${origin}/${DEMO_TENANT_ID}/oauth2/v2.0/token`,
    authorityHost: origin,
    tenantId: DEMO_TENANT_ID,
    scope: `${origin}/.default`,
    control: `${origin}${CONTROL_PREFIX}`,
    clientId: DEMO_CLIENT_ID,
    clientSecret: DEMO_CLIENT_SECRET,
    prefix: emulator.prefix,
  };
  return { info, emulator, close: () => app.close() };
}
