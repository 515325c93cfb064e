// The Salesforce REST client: a thin wrapper around jsforce 3.10.16 (the Node 20 line, reference/crm.md §C)
// that adds what jsforce leaves to callers: minting tokens for the JWT bearer and client-credentials grants,
// one re-mint on 401, retries of transient errors through src/lib/retry.ts, the REQUEST_LIMIT_EXCEEDED stop,
// and one error type. Composite and collections go through the connection's `request` (jsforce has no
// /composite helper); there is no second HTTP stack.
//
// Why our own re-mint and not jsforce's refresh delegate: jsforce installs a refresh-token delegate whenever
// the OAuth2 client has a client id, and on a 401 it refreshes and retries without bound. Neither grant we use
// returns a refresh token, so the connection is built without a client id and we re-mint exactly once.
import { createSign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Connection, type HttpRequest } from 'jsforce';
import { CallTimeout, DEFAULT_REQUEST_TIMEOUT_MS, withDeadline } from '../../lib/deadline.ts';
import {
  type ApiRetry,
  DEFAULT_RETRY_POLICY,
  type RetryPolicy,
  realSleep,
  withRetry,
} from '../../lib/retry.ts';
import { CrmError } from '../port.ts';
import {
  codeOf,
  type ErrorContext,
  fromItem,
  isRollbackItem,
  type SalesforceErrorItem,
  toCrmError,
} from './errors.ts';
import { COLLECTION_MAX_RECORDS } from './fields.ts';
import type { SalesforceConnection } from './settings.ts';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Salesforce accepts assertions that expire at most 3 minutes ahead (reference/crm.md §B.1). */
const ASSERTION_LIFETIME_S = 170;

export type SObjectRecord = Record<string, unknown> & {
  Id?: string;
  attributes?: { type: string; url?: string };
};

export interface QueryPage<T> {
  totalSize: number;
  done: boolean;
  nextRecordsUrl?: string;
  records: T[];
}

export interface CompositeSubrequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Relative to the versioned base (`/sobjects/Account`); the client prefixes `/services/data/vNN.N`. */
  url: string;
  referenceId: string;
  body?: Record<string, unknown>;
}

export interface CompositeSubresponse {
  referenceId: string;
  httpStatusCode: number;
  body: unknown;
}

export interface SaveResult {
  id?: string;
  success: boolean;
  created?: boolean;
  errors: SalesforceErrorItem[];
}

export interface SalesforceClientOptions {
  retryPolicy?: RetryPolicy;
  /** A call that has not answered within this is abandoned (and retried by the policy): a hung connection must
   *  not hold a worker. Token requests included. */
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Called for every retried call, with its cause (the service logs it). */
  onRetry?: (event: ApiRetry & { code: string | undefined }) => void;
}

/** Builds the RS256 JWT bearer assertion: iss = consumer key, sub = username, aud = login URL. */
export function buildJwtAssertion(input: {
  clientId: string;
  username: string;
  audience: string;
  privateKeyPem: string;
  now?: Date;
}): string {
  const now = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const header = { alg: 'RS256', typ: 'JWT' };
  const claims = {
    iss: input.clientId,
    sub: input.username,
    aud: input.audience,
    exp: now + ASSERTION_LIFETIME_S,
  };
  const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
  const unsigned = `${encode(header)}.${encode(claims)}`;
  const signature = createSign('RSA-SHA256').update(unsigned).sign(input.privateKeyPem).toString('base64url');
  return `${unsigned}.${signature}`;
}

/** Token endpoint audiences drop any trailing slash (Salesforce compares the string). */
function audienceOf(loginUrl: string): string {
  return loginUrl.replace(/\/+$/, '');
}

export class SalesforceClient {
  readonly apiVersion: string;
  /** Counts API calls made by this client (token requests excluded), for run history and budgets. */
  apiCalls = 0;
  private readonly connection: Connection;
  private readonly settings: SalesforceConnection;
  private readonly options: SalesforceClientOptions;
  private privateKeyPem: string | undefined;
  private minting: Promise<void> | undefined;

  private constructor(settings: SalesforceConnection, options: SalesforceClientOptions) {
    this.settings = settings;
    this.options = options;
    this.apiVersion = settings.apiVersion;
    this.connection = new Connection({
      loginUrl: audienceOf(settings.loginUrl),
      version: settings.apiVersion,
      // No clientId here on purpose: see the header comment.
      oauth2: { loginUrl: audienceOf(settings.loginUrl) },
    });
  }

  /**
   * Mints a token and returns a ready client. A refusal of the credentials fails at once. An unavailable token
   * endpoint is retried with the boundary's backoff, and if it stays unavailable the client is returned without a
   * token: a restart during a Salesforce outage must not stop the service (the first call mints the token, and
   * fails retryably, pausing the sync, until Salesforce answers).
   */
  static async connect(
    settings: SalesforceConnection,
    options: SalesforceClientOptions = {},
  ): Promise<SalesforceClient> {
    const client = new SalesforceClient(settings, options);
    try {
      await withRetry(() => client.mintToken(), {
        policy: options.retryPolicy ?? DEFAULT_RETRY_POLICY,
        classify: (error) => (error instanceof CrmError && error.retryable ? 'retry' : 'fail'),
        sleep: options.sleep ?? realSleep,
        random: options.random ?? Math.random,
        onRetry: (event) => client.reportRetry({ operation: 'token' }, event),
      });
    } catch (error) {
      if (!(error instanceof CrmError && error.retryable)) throw error;
    }
    return client;
  }

  get instanceUrl(): string {
    return this.connection.instanceUrl;
  }

  /** The integration user's id, from the token answer's identity URL. */
  get userId(): string | undefined {
    return this.connection.userInfo?.id;
  }

  /** Calls used / allocated, from the last `Sforce-Limit-Info` header. */
  get apiUsage(): { used: number; limit: number } | undefined {
    return this.connection.limitInfo.apiUsage;
  }

  /** Gets a new access token with the configured grant (no refresh tokens exist for these grants). Calls that
   *  hit a 401 together share one token request. */
  async mintToken(): Promise<void> {
    this.minting ??= this.requestToken().finally(() => {
      this.minting = undefined;
    });
    return this.minting;
  }

  private async requestToken(): Promise<void> {
    const auth = this.settings.auth;
    try {
      if (auth.grant === 'jwt-bearer') {
        const privateKeyPem = await this.loadPrivateKey();
        const assertion = buildJwtAssertion({
          clientId: auth.clientId,
          username: auth.username,
          audience: audienceOf(this.settings.loginUrl),
          privateKeyPem,
        });
        // jsforce's OAuth2 takes no timeout: only the wait is bounded here.
        await withDeadline(
          this.connection.authorize({ grant_type: JWT_BEARER_GRANT, assertion }),
          this.timeoutMs,
        );
      } else {
        await withDeadline(
          this.connection.authorize({
            grant_type: 'client_credentials',
            client_id: auth.clientId,
            client_secret: auth.clientSecret,
          }),
          this.timeoutMs,
        );
      }
    } catch (error) {
      throw tokenError(error, auth.grant);
    }
  }

  private async loadPrivateKey(): Promise<string> {
    if (this.privateKeyPem) return this.privateKeyPem;
    const auth = this.settings.auth;
    if (auth.grant !== 'jwt-bearer') throw new Error('no private key for this grant');
    if (auth.privateKey) this.privateKeyPem = auth.privateKey;
    else if (auth.privateKeyPath) {
      try {
        this.privateKeyPem = await readFile(auth.privateKeyPath, 'utf8');
      } catch (error) {
        throw new CrmError({
          crm: 'salesforce',
          operation: 'token',
          message: `Cannot read the JWT private key file ${auth.privateKeyPath}: ${(error as Error).message}`,
          fix: 'Point privateKeyPath (or --sf-private-key) at the PEM key whose certificate is on the External Client App.',
          authFailed: true,
        });
      }
    }
    return this.privateKeyPem!;
  }

  /**
   * Runs one API call with the boundary's policy: a 401 re-mints the token once and repeats the call; transient
   * errors (UNABLE_TO_LOCK_ROW, 5xx, network) are retried with backoff; REQUEST_LIMIT_EXCEEDED stops at once.
   */
  async call<T>(context: ErrorContext, run: () => Promise<T>): Promise<T> {
    const policy = this.options.retryPolicy ?? DEFAULT_RETRY_POLICY;
    return withRetry(
      async () => {
        // No token yet: Salesforce was unavailable when the client was created.
        if (!this.connection.accessToken) await this.mintToken();
        try {
          return await this.counted(run);
        } catch (error) {
          if (codeOf(error) !== 'INVALID_SESSION_ID') throw this.mapError(error, context);
        }
        await this.mintToken();
        try {
          return await this.counted(run);
        } catch (error) {
          const mapped = this.mapError(error, context);
          if (mapped.code !== 'INVALID_SESSION_ID') throw mapped;
          throw new CrmError({
            crm: 'salesforce',
            operation: context.operation,
            record: context.record,
            status: 401,
            code: 'INVALID_SESSION_ID',
            message: `Salesforce ${context.operation}: the session was refused again right after a new token was minted.`,
            fix: mapped.fix,
            authFailed: true,
          });
        }
      },
      {
        policy,
        classify: (error) => (error instanceof CrmError && error.retryable ? 'retry' : 'fail'),
        sleep: this.options.sleep ?? realSleep,
        random: this.options.random ?? Math.random,
        onRetry: (event) => this.reportRetry(context, event),
      },
    );
  }

  private reportRetry(
    context: { operation: string },
    event: { attempt: number; delayMs: number; error: unknown },
  ): void {
    this.options.onRetry?.({
      api: 'salesforce',
      operation: context.operation,
      attempt: event.attempt,
      delayMs: event.delayMs,
      code: codeOf(event.error),
      cause: retryCause(event.error),
    });
  }

  /**
   * Every REST call goes out here, with the timeout and without jsforce's own retries: it repeats 5xx, 429 and
   * resets of GET/PUT/DELETE up to five times, ignoring Retry-After and unseen by the call counter and budgets.
   * The boundary's policy in `call` is the one retry policy.
   */
  private async send<T>(
    request: string | HttpRequest,
    options: { noContentResponse?: unknown } = {},
  ): Promise<T> {
    const timeoutMs = this.timeoutMs;
    try {
      return await this.connection.request<T>(request, {
        ...options,
        timeout: timeoutMs,
        retry: { maxRetries: 0 },
      });
    } catch (error) {
      // jsforce aborts the request at the timeout; its message would say "10 minutes" whatever the timeout was.
      if ((error as Error | undefined)?.name === 'AbortError') throw new CallTimeout(timeoutMs);
      throw error;
    }
  }

  private get timeoutMs(): number {
    return this.options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  private async counted<T>(run: () => Promise<T>): Promise<T> {
    this.apiCalls++;
    return run();
  }

  private mapError(error: unknown, context: ErrorContext): CrmError {
    const usage = this.apiUsage;
    return toCrmError(error, usage ? { ...context, apiUsage: usage } : context);
  }

  /** Absolute path of a versioned resource, for composite subrequest URLs. */
  path(resource: string): string {
    return `/services/data/v${this.apiVersion}${resource}`;
  }

  /** Runs a SOQL query and follows `nextRecordsUrl` until done; each page is one call (with the call policy). */
  async query<T extends SObjectRecord = SObjectRecord>(soql: string, operation = 'query'): Promise<T[]> {
    return this.queryPaged<T>(soql, operation, false);
  }

  /** Like `query`, including deleted and archived rows (`/queryAll`); rows carry `IsDeleted`. */
  async queryAll<T extends SObjectRecord = SObjectRecord>(
    soql: string,
    operation = 'queryAll',
  ): Promise<T[]> {
    return this.queryPaged<T>(soql, operation, true);
  }

  private async queryPaged<T>(soql: string, operation: string, includeDeleted: boolean): Promise<T[]> {
    for (let restart = 0; ; restart++) {
      try {
        const first = await this.call({ operation }, async () => {
          return this.send<QueryPage<T>>(
            `/${includeDeleted ? 'queryAll' : 'query'}?q=${encodeURIComponent(soql)}`,
          );
        });
        return [...first.records, ...(await this.nextPages(first, operation))];
      } catch (error) {
        if (restart < LOST_LOCATOR_RESTARTS && lostLocator(error)) continue;
        throw error;
      }
    }
  }

  /**
   * Every record of a query whose first page was got elsewhere (a composite query subresponse): the rest of the
   * pages, or, when Salesforce no longer knows the locator, the whole query again.
   */
  async allPages<T>(
    first: QueryPage<T>,
    query: { soql: string; includeDeleted: boolean },
    operation = 'query',
  ): Promise<T[]> {
    try {
      return [...first.records, ...(await this.nextPages(first, operation))];
    } catch (error) {
      if (!lostLocator(error)) throw error;
      return this.queryPaged<T>(query.soql, operation, query.includeDeleted);
    }
  }

  /** Follows `nextRecordsUrl`. A page whose answer was lost (a reset, a timeout) and asked again may find its
   *  locator gone (Salesforce drops a cursor once read to the end, and after 15 idle minutes): INVALID_QUERY_LOCATOR,
   *  which the callers answer by running the query again. */
  private async nextPages<T>(page: QueryPage<T>, operation: string): Promise<T[]> {
    const records: T[] = [];
    let current = page;
    while (!current.done && current.nextRecordsUrl) {
      const locator = current.nextRecordsUrl;
      current = await this.call({ operation }, () => this.send<QueryPage<T>>(locator));
      records.push(...current.records);
    }
    return records;
  }

  async retrieve(type: string, id: string, fields: string[]): Promise<SObjectRecord> {
    const url = `/sobjects/${type}/${encodeURIComponent(id)}?fields=${fields.map(encodeURIComponent).join(',')}`;
    return this.call({ operation: `read ${type}`, record: id }, () => this.send<SObjectRecord>(url));
  }

  async create(type: string, record: Record<string, unknown>): Promise<string> {
    return this.call({ operation: `create ${type}` }, async () => {
      const result = await this.send<SaveResult>({
        method: 'POST',
        url: `/sobjects/${type}`,
        body: JSON.stringify(record),
        headers: { 'content-type': 'application/json' },
      });
      if (!result.success || !result.id) throw this.saveFailure(result, `create ${type}`);
      return result.id;
    });
  }

  async update(type: string, id: string, record: Record<string, unknown>): Promise<void> {
    // 204 No Content on success; a refusal is an error answer.
    await this.call({ operation: `update ${type}`, record: id }, () =>
      this.send({
        method: 'PATCH',
        url: `/sobjects/${type}/${encodeURIComponent(id)}`,
        body: JSON.stringify(record),
        headers: { 'content-type': 'application/json' },
      }),
    );
  }

  async destroy(type: string, id: string): Promise<void> {
    await this.call({ operation: `delete ${type}`, record: id }, () =>
      this.send({ method: 'DELETE', url: `/sobjects/${type}/${encodeURIComponent(id)}` }),
    );
  }

  /**
   * Upsert by external id. The value is URL-encoded here: jsforce's own `upsert` joins it into the path raw,
   * so a value with `/`, `?` or `#` would address the wrong resource.
   */
  async upsert(
    type: string,
    externalIdField: string,
    externalId: string,
    record: Record<string, unknown>,
  ): Promise<{ id: string; created: boolean }> {
    const url = `/sobjects/${type}/${externalIdField}/${encodeURIComponent(externalId)}`;
    return this.call(
      { operation: `upsert ${type}`, record: `${externalIdField}=${externalId}` },
      async () => {
        const result = await this.send<SaveResult | undefined>(
          {
            method: 'PATCH',
            url,
            body: JSON.stringify(record),
            headers: { 'content-type': 'application/json' },
          },
          // Versions before 46.0 answer an update with 204 and no body.
          { noContentResponse: { success: true, errors: [], created: false } },
        );
        const id = result?.id;
        if (!id) {
          // 204 carries no id; read it back by the key.
          const found = await this.send<SObjectRecord>(`${url}?fields=Id`);
          return { id: String(found.Id), created: false };
        }
        return { id, created: result.created === true };
      },
    );
  }

  async describe(type: string): Promise<DescribeResult> {
    return this.call({ operation: `describe ${type}` }, () =>
      this.send<DescribeResult>(`/sobjects/${type}/describe`),
    );
  }

  /** `GET /services/data/`: the versions the org serves (free of the API allocation). */
  async versions(): Promise<{ version: string; label: string; url: string }[]> {
    return this.call({ operation: 'versions' }, () =>
      this.send<{ version: string; label: string; url: string }[]>(`${this.instanceUrl}/services/data/`),
    );
  }

  async limits(): Promise<Record<string, { Max: number; Remaining: number }>> {
    return this.call({ operation: 'limits' }, () =>
      this.send<Record<string, { Max: number; Remaining: number }>>('/limits'),
    );
  }

  /**
   * One `/composite` request (≤25 subrequests, `@{ref.id}` references). With allOrNone the first real error
   * (not the rolled-back siblings) becomes the thrown CrmError, so UNABLE_TO_LOCK_ROW is retried whole.
   */
  async composite(
    operation: string,
    subrequests: CompositeSubrequest[],
    options: { allOrNone: boolean; record?: string },
  ): Promise<Map<string, CompositeSubresponse>> {
    const context: ErrorContext = { operation, ...(options.record ? { record: options.record } : {}) };
    return this.call(context, async () => {
      const response = await this.send<{ compositeResponse: CompositeSubresponse[] }>({
        method: 'POST',
        url: '/composite',
        body: JSON.stringify({
          allOrNone: options.allOrNone,
          // Our subrequests depend on each other in order; collation could reorder them.
          collateSubrequests: false,
          compositeRequest: subrequests.map((s) => ({
            method: s.method,
            url: this.path(s.url),
            referenceId: s.referenceId,
            ...(s.body ? { body: s.body } : {}),
          })),
        }),
        headers: { 'content-type': 'application/json' },
      });
      const byReference = new Map<string, CompositeSubresponse>();
      let failure: { item: SalesforceErrorItem; status: number; referenceId: string } | undefined;
      for (const sub of response.compositeResponse) {
        byReference.set(sub.referenceId, sub);
        if (sub.httpStatusCode < 400 || failure) continue;
        const items = Array.isArray(sub.body) ? (sub.body as SalesforceErrorItem[]) : [];
        const item = items.find((i) => !isRollbackItem(i));
        if (item) failure = { item, status: sub.httpStatusCode, referenceId: sub.referenceId };
      }
      // Without allOrNone the caller reads each subresponse; a query failing is still an error of the call.
      if (failure) {
        throw fromItem(
          failure.item,
          { ...context, record: options.record ?? failure.referenceId },
          failure.status,
        );
      }
      return byReference;
    });
  }

  /**
   * One `/composite/graph` call: each graph is all-or-none on its own (one record's writes), so a graph that
   * fails leaves the others written. Returns, per graph id, its subresponses by reference id or the error it
   * failed with. The caller keeps within the limits (GRAPH_MAX_GRAPHS graphs, GRAPH_MAX_NODES nodes in all).
   */
  async graph(
    operation: string,
    graphs: { graphId: string; record: string; subrequests: CompositeSubrequest[] }[],
  ): Promise<Map<string, Map<string, CompositeSubresponse> | CrmError>> {
    return this.call({ operation }, async () => {
      const response = await this.send<{
        graphs: {
          graphId: string;
          isSuccessful: boolean;
          graphResponse: { compositeResponse: CompositeSubresponse[] };
        }[];
      }>({
        method: 'POST',
        url: '/composite/graph',
        body: JSON.stringify({
          graphs: graphs.map((g) => ({
            graphId: g.graphId,
            compositeRequest: g.subrequests.map((s) => ({
              method: s.method,
              url: this.path(s.url),
              referenceId: s.referenceId,
              ...(s.body ? { body: s.body } : {}),
            })),
          })),
        }),
        headers: { 'content-type': 'application/json' },
      });
      const out = new Map<string, Map<string, CompositeSubresponse> | CrmError>();
      const records = new Map(graphs.map((g) => [g.graphId, g.record]));
      for (const graph of response.graphs) {
        const record = records.get(graph.graphId) ?? graph.graphId;
        const subs = graph.graphResponse.compositeResponse;
        if (graph.isSuccessful) {
          out.set(graph.graphId, new Map(subs.map((sub) => [sub.referenceId, sub])));
          continue;
        }
        // The node that failed names the problem; the others only say they were rolled back or halted.
        const failed = subs
          .filter((sub) => sub.httpStatusCode >= 400 && Array.isArray(sub.body))
          .map((sub) => ({ sub, item: (sub.body as SalesforceErrorItem[]).find((i) => !isRollbackItem(i)) }))
          .find((f) => f.item);
        out.set(
          graph.graphId,
          failed?.item
            ? fromItem(failed.item, { operation, record }, failed.sub.httpStatusCode)
            : new CrmError({
                crm: 'salesforce',
                operation,
                record,
                message:
                  'Salesforce did not process this record (the request stopped after too many failures).',
                retryable: true,
              }),
        );
      }
      return out;
    });
  }

  /** sObject Collections create (≤200 per call; larger lists go in several calls). */
  async createMany(type: string, records: Record<string, unknown>[], allOrNone = true): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < records.length; i += COLLECTION_MAX_RECORDS) {
      const slice = records.slice(i, i + COLLECTION_MAX_RECORDS);
      const results = await this.call({ operation: `create ${type} (collection)` }, async () => {
        const body = { allOrNone, records: slice.map((r) => ({ attributes: { type }, ...r })) };
        const res = await this.send<SaveResult[]>({
          method: 'POST',
          url: '/composite/sobjects',
          body: JSON.stringify(body),
          headers: { 'content-type': 'application/json' },
        });
        const failed = res.find((r) => !r.success && r.errors.some((e) => !isRollbackItem(e)));
        if (failed) throw this.saveFailure(failed, `create ${type} (collection)`);
        return res;
      });
      ids.push(...results.map((r) => r.id ?? ''));
    }
    return ids;
  }

  /** sObject Collections delete (≤200 ids per call). */
  async destroyMany(ids: string[], allOrNone = true): Promise<void> {
    for (let i = 0; i < ids.length; i += COLLECTION_MAX_RECORDS) {
      const slice = ids.slice(i, i + COLLECTION_MAX_RECORDS);
      await this.call({ operation: 'delete (collection)' }, async () => {
        const res = await this.send<SaveResult[]>({
          method: 'DELETE',
          url: `/composite/sobjects?ids=${slice.map(encodeURIComponent).join(',')}&allOrNone=${allOrNone}`,
        });
        const failed = res.find((r) => !r.success && r.errors.some((e) => !isRollbackItem(e)));
        if (failed) throw this.saveFailure(failed, 'delete (collection)', failed.id);
      });
    }
  }

  private saveFailure(result: SaveResult, operation: string, record?: string): CrmError {
    const item = result.errors.find((e) => !isRollbackItem(e)) ?? { message: 'unknown failure' };
    return fromItem(item, { operation, ...(record ? { record } : {}) });
  }
}

export interface DescribeField {
  name: string;
  label?: string;
  type: string;
  length: number;
  externalId?: boolean;
  unique?: boolean;
  nillable?: boolean;
  createable?: boolean;
  updateable?: boolean;
  picklistValues?: { value: string; label?: string; active?: boolean }[];
  restrictedPicklist?: boolean;
  referenceTo?: string[];
  relationshipName?: string | null;
}

export interface DescribeResult {
  name: string;
  keyPrefix?: string | null;
  fields: DescribeField[];
  childRelationships?: { childSObject: string; field: string; relationshipName: string | null }[];
}

function tokenError(error: unknown, grant: string): CrmError {
  if (error instanceof CrmError) return error;
  const e = (error ?? {}) as { name?: unknown; message?: unknown; code?: unknown };
  // The token endpoint answers `{error, error_description}`; jsforce puts them in name and message.
  const code =
    typeof e.name === 'string' && e.name !== 'Error'
      ? e.name
      : typeof e.code === 'string'
        ? e.code
        : undefined;
  const description = typeof e.message === 'string' ? e.message : String(error);
  // An OAuth refusal names its error (invalid_client, invalid_grant). No name, a 5xx or 429 page, or a network
  // failure is the endpoint being unavailable (maintenance, an outage, a proxy): worth retrying, and not a reason
  // to doubt the credentials.
  if (code === undefined || /^ERROR_HTTP_(5\d\d|429)$/.test(code) || TRANSIENT_NETWORK_CODES.includes(code)) {
    return new CrmError({
      crm: 'salesforce',
      operation: 'token',
      status: 503,
      ...(code ? { code } : {}),
      message: `Salesforce's token endpoint gave no token (${code ?? 'no OAuth error in its answer'}${description ? `: ${description.slice(0, 200)}` : ''}); it looks unavailable, so cosell retries.`,
      fix: 'Nothing to change if this passes within minutes. Otherwise check status.salesforce.com and that the login URL (crm.salesforce.connection.loginUrl) answers from this machine.',
      retryable: true,
    });
  }
  const fix =
    grant === 'jwt-bearer'
      ? 'Check the consumer key, that the certificate on the External Client App matches the private key, that the integration user is pre-authorised (permission set or profile), and that the login URL is the right one (login / test / My Domain).'
      : 'Check the consumer key and secret, that the client-credentials flow is enabled with a run-as user on the External Client App, and that the login URL is the My Domain URL.';
  return new CrmError({
    crm: 'salesforce',
    operation: 'token',
    status: 400,
    code,
    message: `Salesforce refused the ${grant} token request${code ? ` (${code})` : ''}: ${description}`,
    fix,
    authFailed: true,
  });
}

/** How many times a query starts over after its locator was lost, before the error stands. */
const LOST_LOCATOR_RESTARTS = 2;

const lostLocator = (error: unknown) => error instanceof CrmError && error.code === 'INVALID_QUERY_LOCATOR';

const TRANSIENT_NETWORK_CODES = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'TIMEOUT'];

/** A retried call's cause as an operator searches for it: `HTTP 503 SERVER_UNAVAILABLE`, `no answer within 3 s`. */
function retryCause(error: unknown): string {
  const code = codeOf(error);
  const status = error instanceof CrmError ? error.status : undefined;
  if (status !== undefined) return `HTTP ${status}${code ? ` ${code}` : ''}`;
  if (error instanceof CrmError && code === 'TIMEOUT') return error.message.slice(0, 160);
  return code ?? (error instanceof Error ? error.message.slice(0, 160) : String(error));
}
