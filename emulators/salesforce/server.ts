/**
 * The Salesforce emulator as a real HTTP server: OAuth token endpoint, REST API under `/services/data/vNN.N`,
 * and the control API under `/_emulator`. See README.md for the interface.
 */

import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { ConnectedApp } from './auth.ts';
import { type CallFacts, callFacts } from './counting.ts';
import { ensureJwtKeyFiles } from './keys.ts';
import { SalesforceOrg } from './org.ts';
import { type ApiRoute, dispatch } from './router.ts';
import { compositeRoutes } from './routes/composite.ts';
import { CONTROL_PREFIX, registerControlRoutes } from './routes/control.ts';
import { LATEST_API_VERSION, limitRoutes, listVersions } from './routes/limits.ts';
import { registerOAuthRoutes } from './routes/oauth.ts';
import { queryRoutes } from './routes/query.ts';
import { sobjectRoutes } from './routes/sobjects.ts';
import type { StoreState } from './store.ts';

export interface SalesforceEmulatorOptions {
  port?: number;
  host?: string;
  /** Standard objects only, as an org where packaging/salesforce was never deployed. */
  bare?: boolean;
  /** Adds CurrencyIsoCode to the objects, as in a multi-currency org. */
  multiCurrency?: boolean;
  /** Corporate currency of a single-currency org (default USD). */
  currency?: string;
  dailyApiLimit?: number;
  /** Records per query batch (Salesforce: up to 2000). */
  queryBatchSize?: number;
  /** Persists records here (JSON) and keeps the JWT key pair next to it, so restarts keep state. */
  dataFile?: string;
  logger?: boolean;
  packageDir?: string;
}

/** A type alias (not an interface) so it is assignable to the CLI's `Record<string, unknown>` info. */
export type SalesforceEmulatorInfo = {
  emulator: 'salesforce';
  /** Base of `/services/oauth2/token` (the JWT `aud` may be this, https://login.salesforce.com or test.). */
  loginUrl: string;
  instanceUrl: string;
  control: string;
  apiVersion: string;
  clientId: string;
  clientSecret: string;
  username: string;
  jwtPrivateKeyPath: string;
  jwtPublicCertificatePath: string;
};

export interface RunningSalesforceEmulator {
  info: SalesforceEmulatorInfo;
  url: string;
  close(): Promise<void>;
}

/** Demo connected app credentials: fixed so scripts and docs can use them; only valid against the emulator. */
export const DEMO_CLIENT_ID = '3MVG9cosellEmulatorDemoConsumerKey';
export const DEMO_CLIENT_SECRET = 'cosell-emulator-demo-secret';
export const DEMO_USERNAME = 'cosell-integration@cosell-emulator.example';
export const DEFAULT_DAILY_API_LIMIT = 100_000;

const API_PATH = /^\/services\/data\/v(\d+\.\d)(\/[^?]*)?(?:\?(.*))?$/;

function parseBody(contentType: string | undefined, raw: string): unknown {
  if (raw.trim() === '') return undefined;
  if (contentType?.includes('application/x-www-form-urlencoded'))
    return Object.fromEntries(new URLSearchParams(raw));
  return JSON.parse(raw);
}

function loadState(dataFile: string | undefined): StoreState | undefined {
  if (!dataFile || !existsSync(dataFile)) return undefined;
  return (JSON.parse(readFileSync(dataFile, 'utf8')) as { store: StoreState }).store;
}

export async function startSalesforceEmulator(
  options: SalesforceEmulatorOptions = {},
): Promise<RunningSalesforceEmulator> {
  const keys = ensureJwtKeyFiles(
    options.dataFile ? join(dirname(options.dataFile), `${basename(options.dataFile)}.jwt`) : undefined,
  );
  const org = new SalesforceOrg({
    bare: options.bare ?? false,
    multiCurrency: options.multiCurrency ?? false,
    currency: options.currency ?? 'USD',
    dailyApiLimit: options.dailyApiLimit ?? DEFAULT_DAILY_API_LIMIT,
    queryBatchSize: options.queryBatchSize ?? 2000,
    integrationUsername: DEMO_USERNAME,
    packageDir: options.packageDir,
    now: () => new Date(),
  });
  const saved = loadState(options.dataFile);
  if (saved) org.importState(saved);
  const persist = () => {
    if (options.dataFile) writeFileSync(options.dataFile, JSON.stringify({ store: org.exportState() }));
  };
  const connectedApp: ConnectedApp = {
    clientId: DEMO_CLIENT_ID,
    clientSecret: DEMO_CLIENT_SECRET,
    username: DEMO_USERNAME,
    certificatePem: keys.certificatePem,
  };

  const app = Fastify({ logger: options.logger ?? false, bodyLimit: 50 * 1024 * 1024 });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    try {
      done(null, parseBody(request.headers['content-type'], String(body)));
    } catch (error) {
      done(
        Object.assign(error as Error, { statusCode: 400, salesforceCode: 'JSON_PARSER_ERROR' }),
        undefined,
      );
    }
  });
  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    const status = error.statusCode && error.statusCode < 500 ? error.statusCode : 500;
    const errorCode = status === 400 ? 'JSON_PARSER_ERROR' : 'UNKNOWN_EXCEPTION';
    reply
      .code(status)
      .send([{ message: status === 500 ? 'An unexpected error occurred.' : error.message, errorCode }]);
  });

  let base = '';
  const urls = () => ({ loginUrl: base, instanceUrl: base });
  registerOAuthRoutes(app, org, connectedApp, urls);
  registerControlRoutes(app, org, persist);

  const routes: ApiRoute[] = [];
  routes.push(...limitRoutes, ...sobjectRoutes, ...queryRoutes, ...compositeRoutes(() => routes));

  // The versions list is free (no auth, not counted), as in a real org.
  for (const url of ['/services/data', '/services/data/']) app.get(url, async () => listVersions());

  const handleApi = async (request: FastifyRequest, reply: FastifyReply) => {
    const rawUrl = request.raw.url ?? request.url;
    const match = API_PATH.exec(rawUrl);
    const pathOnly = rawUrl.split('?')[0] ?? rawUrl;
    if (!match?.[1]) {
      return reply
        .code(404)
        .send([{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
    }
    const record = (endpoint: string, status: number, counted: boolean, facts: CallFacts = {}) =>
      org.calls.record({
        method: request.method,
        endpoint,
        path: pathOnly,
        status,
        countedAsApiCall: counted,
        ...facts,
      });
    const token = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const session = token ? org.sessions.find(token, Date.now()) : undefined;
    if (!session) {
      record('(unauthenticated)', 401, false);
      return reply
        .code(401)
        .header('www-authenticate', 'Token')
        .send([{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
    }
    if (org.apiUsed >= org.dailyApiLimit) {
      record('(limit exceeded)', 403, false);
      return reply
        .code(403)
        .header('sforce-limit-info', org.limitHeader())
        .send([{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
    }
    org.apiUsed += 1;
    reply.header('sforce-limit-info', org.limitHeader());
    const fault = org.faults.take(request.method, pathOnly);
    if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    if (fault?.reset) {
      record('(connection reset)', 0, true);
      reply.hijack();
      request.raw.socket.destroy();
      return;
    }
    if (fault?.error) {
      record('(injected fault)', fault.error.status, true);
      return reply.code(fault.error.status).send(fault.error.body);
    }
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(request.headers))
      headers[name] = Array.isArray(value) ? value.join(',') : value;
    const query = new URLSearchParams(match[3] ?? '');
    const { response, endpoint } = dispatch(routes, {
      method: request.method,
      path: match[2] ?? '/',
      query,
      body: request.body,
      headers,
      apiVersion: match[1],
      org,
      ctx: org.apiContext(session.userId),
    });
    record(endpoint, response.status, true, callFacts(request.method, endpoint, query, request.body));
    if (request.method !== 'GET' && response.status < 300) persist();
    for (const [name, value] of Object.entries(response.headers ?? {})) reply.header(name, value);
    reply.code(response.status);
    return response.body === undefined ? reply.send() : reply.send(response.body);
  };
  const methods = ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'] as const;
  app.route({ method: [...methods], url: '/services/data/:version', handler: handleApi });
  app.route({ method: [...methods], url: '/services/data/:version/*', handler: handleApi });

  const address = await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  base = address.replace('[::1]', '127.0.0.1');
  const info: SalesforceEmulatorInfo = {
    emulator: 'salesforce',
    loginUrl: base,
    instanceUrl: base,
    control: `${base}${CONTROL_PREFIX}`,
    apiVersion: LATEST_API_VERSION,
    clientId: DEMO_CLIENT_ID,
    clientSecret: DEMO_CLIENT_SECRET,
    username: DEMO_USERNAME,
    jwtPrivateKeyPath: keys.privateKeyPath,
    jwtPublicCertificatePath: keys.certificatePath,
  };
  return {
    info,
    url: base,
    close: async () => {
      persist();
      await app.close();
      if (keys.temporary) rmSync(keys.dir, { recursive: true, force: true });
    },
  };
}
