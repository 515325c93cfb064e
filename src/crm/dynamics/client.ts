// dynamics-web-api with tokens from msal-node (client credentials with a secret or a certificate), behind the
// one retry policy (src/lib/retry.ts, honouring Retry-After: the library has no 429 handling) and a
// concurrency cap well under Dataverse's 52. Every HTTP request the library sends counts as one API call.
// Batches use a fresh library instance each: its startBatch/executeBatch state is per instance.
import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfidentialClientApplication, type Configuration } from '@azure/msal-node';
import { DynamicsWebApi } from 'dynamics-web-api';
import { CallTimeout, DEFAULT_REQUEST_TIMEOUT_MS, isCallTimeout, withDeadline } from '../../lib/deadline.ts';
import {
  type ApiRetry,
  DEFAULT_RETRY_POLICY,
  type RetryPolicy,
  realSleep,
  withRetry,
} from '../../lib/retry.ts';
import { AuthorityRewritingNetworkClient } from '../../partner-center/auth.ts';
import { CrmError } from '../port.ts';
import { codeOf, headerOf, isNetworkError, statusOf, toCrmError, unwrap } from './errors.ts';
import { API_VERSION, DEFAULT_AUTHORITY_HOST } from './fields.ts';
import type { DynamicsConnection } from './settings.ts';

export interface DataverseClientOptions {
  policy?: RetryPolicy;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** A request that has not answered within this is abandoned (and retried by the policy): a hung connection
   *  must not hold a worker. Token requests included. */
  timeoutMs?: number;
  /** Called for every retried request, with its cause (the service logs it). */
  onRetry?: (event: ApiRetry) => void;
}

/** A small FIFO semaphore: at most `limit` requests in flight. */
class Gate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await work();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

async function pemOf(inline: string | undefined, path: string | undefined, what: string): Promise<string> {
  if (inline) return inline;
  try {
    return await readFile(path!, 'utf8');
  } catch (error) {
    throw new CrmError({
      crm: 'dynamics',
      operation: 'token',
      message: `Cannot read the ${what} file ${path}: ${(error as Error).message}`,
      fix: `Point crm.connection.auth.${what === 'private key' ? 'privateKeyPath' : 'certificatePath'} at the PEM file.`,
      authFailed: true,
    });
  }
}

export class DataverseClient {
  /** HTTP requests sent to the Web API (token requests excluded), for run history and budgets. */
  apiCalls = 0;
  readonly url: string;
  private readonly gate: Gate;
  private readonly policy: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly timeoutMs: number;
  private readonly onRetry: ((event: ApiRetry) => void) | undefined;
  private forceRefresh = false;

  private constructor(
    private readonly connection: DynamicsConnection,
    private readonly msal: ConfidentialClientApplication,
    options: DataverseClientOptions,
  ) {
    this.url = connection.url;
    this.gate = new Gate(connection.maxConcurrency);
    this.policy = options.policy ?? DEFAULT_RETRY_POLICY;
    this.sleep = options.sleep ?? realSleep;
    this.random = options.random ?? Math.random;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.onRetry = options.onRetry;
  }

  /** Builds the msal app and gets a first token, so bad credentials fail here with a clear error. */
  static async connect(
    connection: DynamicsConnection,
    options: DataverseClientOptions = {},
  ): Promise<DataverseClient> {
    const auth = connection.auth;
    let credentials: Configuration['auth'];
    if (auth.grant === 'client-secret') {
      credentials = { clientId: auth.clientId, clientSecret: auth.clientSecret };
    } else {
      const privateKey = await pemOf(auth.privateKey, auth.privateKeyPath, 'private key');
      const certificate = await pemOf(auth.certificate, auth.certificatePath, 'certificate');
      const thumbprintSha256 = createHash('sha256')
        .update(new X509Certificate(certificate).raw)
        .digest('hex');
      credentials = {
        clientId: auth.clientId,
        clientCertificate: { thumbprintSha256, privateKey, x5c: certificate },
      };
    }
    const rewrite = new URL(connection.authorityHost).origin !== new URL(DEFAULT_AUTHORITY_HOST).origin;
    const msal = new ConfidentialClientApplication({
      auth: { ...credentials, authority: `${DEFAULT_AUTHORITY_HOST}/${connection.tenantId}` },
      system: rewrite ? { networkClient: new AuthorityRewritingNetworkClient(connection.authorityHost) } : {},
    });
    const client = new DataverseClient(connection, msal, options);
    try {
      await withRetry(() => client.token(), {
        policy: client.policy,
        sleep: client.sleep,
        random: client.random,
        classify: (error) => (error instanceof CrmError && error.retryable ? 'retry' : 'fail'),
        onRetry: ({ attempt, delayMs, error }) =>
          client.onRetry?.({
            api: 'dynamics',
            operation: 'token',
            attempt,
            delayMs,
            cause: retryCause(error),
          }),
      });
    } catch (error) {
      // Entra still unavailable after the retries: a restart during an outage must not stop the service. Each call
      // asks for the token again, and fails retryably, pausing the sync, until Entra answers. A refusal of the
      // credentials fails at once.
      if (!(error instanceof CrmError && error.retryable)) throw error;
    }
    return client;
  }

  private async token(): Promise<string> {
    const force = this.forceRefresh;
    this.forceRefresh = false;
    try {
      // msal-node takes no timeout for the token request: only the wait is bounded here.
      const result = await withDeadline(
        this.msal.acquireTokenByClientCredential({
          scopes: [`${this.connection.url}/.default`],
          skipCache: force,
        }),
        this.timeoutMs,
      );
      if (!result?.accessToken) throw new Error('Entra returned no access token');
      return result.accessToken;
    } catch (error) {
      if (error instanceof CrmError) throw error;
      if (isCallTimeout(error)) {
        throw new CrmError({
          crm: 'dynamics',
          operation: 'token',
          code: error.code,
          message: `Entra gave no token for ${this.connection.url}: ${error.message}, so cosell gave up waiting.`,
          fix: 'cosell retries. If it keeps happening, check that login.microsoftonline.com answers from this machine (proxy, firewall).',
          retryable: true,
        });
      }
      const description = String(
        (error as { errorMessage?: string }).errorMessage ?? (error as Error).message,
      )
        .split('\n')[0]!
        .slice(0, 300);
      // Entra answering 429 or 5xx is Entra unavailable, not a refusal of the credentials. msal's ServerError
      // carries the HTTP status; after such an answer msal itself turns requests away for a while (its throttling
      // cache, Retry-After or 60 s), with a ServerError without a status.
      const raw = error as { name?: unknown; status?: unknown };
      const status = typeof raw.status === 'number' ? raw.status : undefined;
      const throttledByMsal = raw.name === 'ServerError' && status === undefined;
      if (throttledByMsal || (status !== undefined && (status === 429 || status >= 500))) {
        throw new CrmError({
          crm: 'dynamics',
          operation: 'token',
          ...(status !== undefined ? { status } : {}),
          message: `Entra gave no token for ${this.connection.url} (${status !== undefined ? `HTTP ${status}` : 'held back after an unavailable answer'}: ${description}); it looks unavailable, so cosell retries.`,
          fix: 'Nothing to change if this passes within minutes. Otherwise check the Azure status page and that login.microsoftonline.com answers from this machine (proxy, firewall).',
          retryable: true,
        });
      }
      throw new CrmError({
        crm: 'dynamics',
        operation: 'token',
        message: `Entra refused a token for ${this.connection.url} (tenant ${this.connection.tenantId}, client ${this.connection.auth.clientId}): ${description}`,
        fix: 'Check crm.connection.tenantId, the app registration client id and its secret or certificate; the scope requested is <environment url>/.default.',
        authFailed: true,
        retryable: isNetworkError(error),
      });
    }
  }

  /** A library instance bound to this client's tokens and counter. */
  private library(): DynamicsWebApi {
    return new DynamicsWebApi({
      serverUrl: this.connection.url,
      dataApi: { version: API_VERSION },
      onTokenRefresh: () => this.token(),
      propagateErrors: true,
      // The library destroys a request idle this long; `attempt` tells that from a reset by the time it took.
      timeout: this.timeoutMs,
    });
  }

  /** One HTTP request; a connection the library destroyed at the timeout surfaces as CallTimeout, not a reset. */
  private async attempt<T>(call: (api: DynamicsWebApi) => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await call(this.library());
    } catch (error) {
      if (isNetworkError(error) && Date.now() - started >= this.timeoutMs)
        throw new CallTimeout(this.timeoutMs);
      throw error;
    }
  }

  /**
   * Runs one library call (one HTTP request) with the retry policy and the concurrency cap. A 401 gets one
   * fresh token before it counts as a credential failure.
   */
  async run<T>(operation: string, call: (api: DynamicsWebApi) => Promise<T>, record?: string): Promise<T> {
    let refreshed = false;
    try {
      return await withRetry(
        () =>
          this.gate.run(() => {
            this.apiCalls++;
            return this.attempt(call);
          }),
        {
          policy: this.policy,
          sleep: this.sleep,
          random: this.random,
          onRetry: ({ attempt, delayMs, error }) =>
            this.onRetry?.({ api: 'dynamics', operation, attempt, delayMs, cause: retryCause(error) }),
          classify: (error) => {
            const status = statusOf(error);
            if (status === 401 && !refreshed) {
              refreshed = true;
              this.forceRefresh = true;
              return 'retry';
            }
            if (status === 429) return { retryAfter: headerOf(error, 'retry-after') };
            if (error instanceof CrmError && error.retryable) return 'retry';
            if (isCallTimeout(error)) return 'retry';
            if ((status !== undefined && status >= 500) || isNetworkError(error)) return 'retry';
            return 'fail';
          },
        },
      );
    } catch (error) {
      throw toCrmError(error, { operation, ...(record ? { record } : {}) });
    }
  }

  /** One `$batch`: `build` queues requests (change sets for writes, GETs outside), results come in order. */
  async batch(operation: string, build: (api: DynamicsWebApi) => void, record?: string): Promise<unknown[]> {
    return this.run(
      operation,
      async (api) => {
        api.startBatch();
        build(api);
        return (await api.executeBatch()) as unknown[];
      },
      record,
    );
  }
}

/** A retried request's cause as an operator searches for it: `HTTP 429 0x80072322`, `no answer within 3 s`. */
function retryCause(error: unknown): string {
  if (isCallTimeout(error)) return error.message;
  const status = statusOf(error);
  const code = codeOf(error);
  if (status !== undefined) return `HTTP ${status}${code ? ` ${code}` : ''}`;
  const cause = unwrap(error)?.cause as { code?: unknown } | undefined;
  const detail = typeof cause?.code === 'string' ? ` (${cause.code})` : '';
  return `${String(unwrap(error)?.message ?? error).slice(0, 160)}${detail}`;
}
