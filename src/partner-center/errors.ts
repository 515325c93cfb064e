// The error type of the Partner Center boundary: everything an operator needs to act on a failed call,
// never a token or a query string (filters carry customer e-mail addresses).
import { type PartnerCenterApi, REQUIRED_ROLE } from './constants.ts';

export interface PartnerCenterErrorDetails {
  api: PartnerCenterApi;
  method: string;
  /** URL path only; the query string is left out on purpose. */
  path: string;
  /** HTTP status; 0 when no response arrived (network failure, timeout) or the failure is local. */
  status: number;
  /** Partner Center `error.code`, or a stand-in derived from the status when the body has none. */
  code: string;
  /** Partner Center's own message (≤1024 chars), if any. */
  providerMessage?: string | undefined;
  target?: string | undefined;
  requestId?: string | undefined;
  correlationId?: string | undefined;
  attempts?: number | undefined;
  /** Milliseconds Partner Center asked to wait (429/503 `Retry-After`), for the engine to schedule a pause. */
  retryAfterMs?: number | undefined;
  /** Overrides the default fix sentence for the status. */
  fix?: string | undefined;
  cause?: unknown;
}

export class PartnerCenterError extends Error {
  override readonly name = 'PartnerCenterError';
  readonly api: PartnerCenterApi;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly code: string;
  readonly providerMessage: string | undefined;
  readonly target: string | undefined;
  readonly requestId: string | undefined;
  readonly correlationId: string | undefined;
  attempts: number;
  readonly retryAfterMs: number | undefined;
  readonly fix: string;

  constructor(details: PartnerCenterErrorDetails) {
    const attempts = details.attempts ?? 1;
    const fix = details.fix ?? defaultFix(details, attempts);
    const status = details.status === 0 ? 'no response' : String(details.status);
    const provider = details.providerMessage ? `: ${details.providerMessage}` : '';
    const target = details.target ? ` (target ${details.target})` : '';
    super(
      `Partner Center ${details.api} API ${details.method} ${details.path} failed with ${status} ${details.code}${provider}${target}. ${fix}`,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.api = details.api;
    this.method = details.method;
    this.path = details.path;
    this.status = details.status;
    this.code = details.code;
    this.providerMessage = details.providerMessage;
    this.target = details.target;
    this.requestId = details.requestId;
    this.correlationId = details.correlationId;
    this.attempts = attempts;
    this.retryAfterMs = details.retryAfterMs;
    this.fix = fix;
  }
}

/** Token problems found before any API call: not logged in, refresh refused, cache key missing or wrong. */
export class PartnerCenterAuthError extends Error {
  override readonly name = 'PartnerCenterAuthError';
  readonly code:
    | 'notLoggedIn'
    | 'refreshRefused'
    | 'tokenKeyMissing'
    | 'tokenKeyInvalid'
    | 'tokenCacheUnreadable';
  readonly fix: string;

  constructor(code: PartnerCenterAuthError['code'], message: string, fix: string, cause?: unknown) {
    super(`${message} ${fix}`, cause === undefined ? undefined : { cause });
    this.code = code;
    this.fix = fix;
  }
}

export const LOGIN_FIX = `Partner Center refused the credentials (expired or revoked): run \`cosell login\` again as a ${REQUIRED_ROLE} user.`;

/** Partner Center enforces MFA on App+User calls (reference §1): a token without the MFA claim is refused. */
export const MFA_FIX = `Partner Center requires multi-factor authentication for this API (error 900421) and the stored sign-in has no MFA claim: run \`cosell login\` again as a ${REQUIRED_ROLE} user and complete MFA in the browser (the device-code sign-in); the service resumes by itself.`;

/** True when the failure is about credentials (the engine opens its per-API circuit instead of retrying). */
export function isCredentialProblem(error: unknown): boolean {
  if (error instanceof PartnerCenterAuthError) return true;
  return error instanceof PartnerCenterError && (error.status === 401 || error.status === 403);
}

/** Stand-in codes (Partner Center's documented names where one exists) when a body carries no code. */
export function defaultCodeForStatus(status: number): string {
  switch (status) {
    case 0:
      return 'networkError';
    case 400:
      return 'invalidRequest';
    case 401:
      return 'unauthenticated';
    case 403:
      return 'accessDenied';
    case 404:
      return 'itemNotFound';
    case 409:
      return 'conflict';
    case 412:
      return 'preconditionFailed';
    case 429:
      return 'tooManyRequests';
    default:
      return status >= 500 ? 'serviceNotAvailable' : `http${status}`;
  }
}

function defaultFix(details: PartnerCenterErrorDetails, attempts: number): string {
  const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`;
  switch (details.status) {
    case 0:
      return `Partner Center could not be reached after ${tries}: check the network, proxy and DNS of this machine; cosell retries later.`;
    case 400:
      return `Partner Center rejected the request as invalid: correct ${details.target ? `'${details.target}'` : 'the field named in the message'} and save again.`;
    case 401:
      return /\b900421\b/.test(details.providerMessage ?? '') ? MFA_FIX : LOGIN_FIX;
    case 403:
      return `The signed-in user lacks the Partner Center ${REQUIRED_ROLE} role: ask a Partner Center admin to assign ${REQUIRED_ROLE} to that user (Account settings > User management), then run \`cosell login\` again.`;
    case 404:
      return `The ${details.target ?? 'resource'} does not exist in Partner Center or is not visible to this partner tenant: check the id.`;
    case 409:
      return 'Partner Center reports a conflict with existing data: read the current state and update it instead of creating it.';
    case 412:
      return 'The referral changed in Partner Center since it was read (eTag mismatch): re-read it and apply the change again.';
    case 429: {
      const wait =
        details.retryAfterMs === undefined
          ? ''
          : ` (Retry-After ${Math.ceil(details.retryAfterMs / 1000)} s)`;
      return `Partner Center throttled the ${details.api} API and it did not clear after ${tries}${wait}: the API budget is used up for now; the work pauses and resumes later — lower the daily budget or call rate if this repeats.`;
    }
    default:
      if (details.status >= 500)
        return `Partner Center answered ${details.status} after ${tries}: it is having trouble; the work is retried later.`;
      return `Partner Center answered ${details.status}: see the message and the request id when contacting Microsoft support.`;
  }
}
