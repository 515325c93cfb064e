// One HTTP layer for both Partner Center APIs (reference §1 "Common headers", §2 "Status codes & errors").
//
// Per logical call: a fresh MS-CorrelationId and one MS-RequestId that every retry of that call reuses
// (Partner Center treats MS-RequestId as the idempotency key). Retries follow src/lib/retry.ts on 429
// (Retry-After), 503, 504 and network failures; a 401 gets exactly one fresh token before it counts.
import { randomUUID } from 'node:crypto';
import { DEFAULT_REQUEST_TIMEOUT_MS, formatSeconds } from '../lib/deadline.ts';
import {
  type ApiRetry,
  DEFAULT_RETRY_POLICY,
  parseRetryAfter,
  type RetryPolicy,
  withRetry,
} from '../lib/retry.ts';
import type { TokenProvider } from './auth.ts';
import type { PartnerCenterApi } from './constants.ts';
import { defaultCodeForStatus, LOGIN_FIX, PartnerCenterAuthError, PartnerCenterError } from './errors.ts';

export interface PartnerCenterHttpOptions {
  api: PartnerCenterApi;
  baseUrl: string;
  tokens: TokenProvider;
  retry?: RetryPolicy;
  /** Injectable so tests skip backoff time instead of sleeping. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Per-attempt timeout. */
  timeoutMs?: number;
  /** Called once per HTTP attempt (for call counters and budgets); never receives headers. */
  onAttempt?: (event: {
    api: PartnerCenterApi;
    method: string;
    path: string;
    status: number;
    attempt: number;
  }) => void;
  /** Called for every retried call, with its cause (the service logs it). */
  onRetry?: (event: ApiRetry) => void;
}

/** What a Partner Center API client takes: the HTTP options with the base URL defaulting to Microsoft's. */
export type PartnerCenterClientOptions = Omit<PartnerCenterHttpOptions, 'api' | 'baseUrl'> & {
  baseUrl?: string;
};

export interface PartnerCenterRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path below the base URL (e.g. `/referrals/abc`), or an absolute URL from the API (`@odata.nextLink`). */
  path: string;
  /** Raw query string without '?', already encoded (see filter.ts `buildListQuery`). */
  query?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Statuses returned to the caller instead of thrown (e.g. 404 for "no registration"). */
  accept?: number[];
  /** False for calls that must not be replayed when the outcome is unknown (a POST that may have
   *  reached the server before the connection broke): such failures are thrown, not retried. */
  replayable?: boolean;
}

export interface PartnerCenterResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, the raw text when not JSON, or undefined when empty. */
  body: unknown;
  requestId: string;
  correlationId: string;
  attempts: number;
}

const RETRYABLE_STATUSES = new Set([429, 503, 504]);
/** Connection errors that prove the request never reached the server, so replaying is always safe. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

export class PartnerCenterHttp {
  readonly api: PartnerCenterApi;
  readonly baseUrl: URL;
  private readonly options: PartnerCenterHttpOptions;

  constructor(options: PartnerCenterHttpOptions) {
    this.options = options;
    this.api = options.api;
    // A trailing slash makes `new URL('referrals', base)` keep the base path.
    this.baseUrl = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  }

  private get timeoutMs(): number {
    return this.options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  async request(request: PartnerCenterRequest): Promise<PartnerCenterResponse> {
    const url = this.resolve(request);
    const correlationId = randomUUID();
    const requestId = randomUUID();
    const policy = this.options.retry ?? DEFAULT_RETRY_POLICY;
    let refreshedToken = false;

    return withRetry(
      async (attempt) => {
        let response = await this.send(request, url, { correlationId, requestId, attempt }, false);
        if (response.status === 401 && !refreshedToken) {
          // An access token can be revoked or expire early; one forced refresh separates that from
          // credentials that are really gone (then the refresh itself fails or the retry is 401 again).
          refreshedToken = true;
          await response.body?.cancel();
          response = await this.send(request, url, { correlationId, requestId, attempt }, true);
        }
        if (response.ok || request.accept?.includes(response.status)) {
          return {
            status: response.status,
            headers: response.headers,
            body: await readBody(response),
            requestId,
            correlationId,
            attempts: attempt,
          };
        }
        throw await this.toError(request.method, url, response, { correlationId, requestId, attempt });
      },
      {
        policy,
        sleep: this.options.sleep,
        random: this.options.random,
        onRetry: ({ attempt, delayMs, error }) =>
          this.options.onRetry?.({
            api: `partner-center ${this.api}`,
            operation: `${request.method} ${url.pathname}`,
            attempt,
            delayMs,
            cause:
              error instanceof PartnerCenterError
                ? error.status === 0
                  ? (error.providerMessage ?? error.code)
                  : `HTTP ${error.status} ${error.code}`
                : String(error),
          }),
        classify: (error) => {
          if (!(error instanceof PartnerCenterError)) return 'fail';
          if (error.status === 0) {
            const notSent = error.code === 'connectionRefused';
            return notSent || request.replayable !== false ? 'retry' : 'fail';
          }
          if (!RETRYABLE_STATUSES.has(error.status)) return 'fail';
          // A gateway timeout leaves the outcome unknown, like a dropped connection.
          if (error.status === 504 && request.replayable === false) return 'fail';
          return error.retryAfterMs === undefined
            ? 'retry'
            : { retryAfter: String(error.retryAfterMs / 1000) };
        },
      },
    );
  }

  /** Absolute URLs (nextLink) are followed verbatim, but only on the API's own host: the bearer token
   *  must never travel to another host, nor in clear text when the API is https. */
  private resolve(request: PartnerCenterRequest): URL {
    const isAbsolute = /^https?:\/\//i.test(request.path);
    const url = isAbsolute ? new URL(request.path) : new URL(request.path.replace(/^\//, ''), this.baseUrl);
    if (url.host !== this.baseUrl.host) {
      throw new PartnerCenterError({
        api: this.api,
        method: request.method,
        path: url.pathname,
        status: 0,
        code: 'foreignHost',
        fix: `Partner Center pointed to ${url.host}, which is not the ${this.api} API host ${this.baseUrl.host}; the call was not sent so the token stays safe. Report this with the request that produced the link.`,
      });
    }
    // The docs' nextLink example is http:// on the https API host (reference §2 paging).
    if (url.protocol !== this.baseUrl.protocol) url.protocol = this.baseUrl.protocol;
    if (request.query) url.search = url.search ? `${url.search}&${request.query}` : `?${request.query}`;
    return url;
  }

  private async send(
    request: PartnerCenterRequest,
    url: URL,
    ids: { correlationId: string; requestId: string; attempt: number },
    forceRefresh: boolean,
  ): Promise<Response> {
    const token = await this.token(request.method, url, ids, forceRefresh);
    const headers: Record<string, string> = {
      Accept: 'application/json',
      Authorization: `Bearer ${token}`,
      'MS-CorrelationId': ids.correlationId,
      'MS-RequestId': ids.requestId,
      ...request.headers,
    };
    let body: string | undefined;
    if (request.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(request.body);
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method: request.method,
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (cause) {
      this.options.onAttempt?.({
        api: this.api,
        method: request.method,
        path: url.pathname,
        status: 0,
        attempt: ids.attempt,
      });
      throw new PartnerCenterError({
        api: this.api,
        method: request.method,
        path: url.pathname,
        status: 0,
        code: isConnectionRefused(cause) ? 'connectionRefused' : 'networkError',
        providerMessage: describeNetworkError(cause, this.timeoutMs),
        correlationId: ids.correlationId,
        requestId: ids.requestId,
        attempts: ids.attempt,
        cause,
      });
    }
    this.options.onAttempt?.({
      api: this.api,
      method: request.method,
      path: url.pathname,
      status: response.status,
      attempt: ids.attempt,
    });
    return response;
  }

  private async token(
    method: string,
    url: URL,
    ids: { correlationId: string; requestId: string; attempt: number },
    forceRefresh: boolean,
  ): Promise<string> {
    try {
      return await this.options.tokens.getToken(this.api, forceRefresh ? { forceRefresh } : undefined);
    } catch (cause) {
      if (!(cause instanceof PartnerCenterAuthError)) throw cause;
      // Surface as the 401 it stands for, so callers handle one error type at this boundary.
      throw new PartnerCenterError({
        api: this.api,
        method,
        path: url.pathname,
        status: 401,
        code: cause.code,
        providerMessage: cause.message,
        correlationId: ids.correlationId,
        requestId: ids.requestId,
        attempts: ids.attempt,
        fix: cause.code === 'refreshRefused' || cause.code === 'notLoggedIn' ? LOGIN_FIX : cause.fix,
        cause,
      });
    }
  }

  private async toError(
    method: string,
    url: URL,
    response: Response,
    ids: { correlationId: string; requestId: string; attempt: number },
  ): Promise<PartnerCenterError> {
    const parsed = parseErrorBody(await readBody(response));
    return new PartnerCenterError({
      api: this.api,
      method,
      path: url.pathname,
      status: response.status,
      code: parsed.code ?? defaultCodeForStatus(response.status),
      providerMessage: parsed.message,
      target: parsed.target,
      // Partner Center echoes the ids; fall back to ours when it does not.
      requestId: response.headers.get('ms-requestid') ?? response.headers.get('request-id') ?? ids.requestId,
      correlationId: response.headers.get('ms-correlationid') ?? ids.correlationId,
      attempts: ids.attempt,
      retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
    });
  }
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Reads `{error:{code,message,target}}` (Partner Center), `{statusCode,message}` (throttling, reference §2)
 *  and flat `{code,message}`, in either key case. */
export function parseErrorBody(body: unknown): { code?: string; message?: string; target?: string } {
  const record = lowerFirstKeys(body);
  if (!record) return typeof body === 'string' && body ? { message: truncate(body) } : {};
  const inner = lowerFirstKeys(record.error);
  const source = inner ?? record;
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? truncate(v) : undefined);
  const out: { code?: string; message?: string; target?: string } = {};
  const code = text(source.code);
  const message = text(source.message) ?? text(source.description);
  const target = text(source.target);
  if (code) out.code = code;
  if (message) out.message = message;
  if (target) out.target = target;
  return out;
}

function lowerFirstKeys(value: unknown): Record<string, unknown> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k[0]!.toLowerCase() + k.slice(1)] = v;
  return out;
}

function truncate(text: string): string {
  return text.length > 1024 ? `${text.slice(0, 1021)}...` : text;
}

function isConnectionRefused(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === 'string' && NOT_SENT_CODES.has(cause.code);
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError')
      return `no answer within ${formatSeconds(timeoutMs)}, so cosell gave up waiting`;
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    if (typeof cause?.code === 'string') return `${error.message} (${cause.code})`;
    return error.message;
  }
  return String(error);
}
