// Dataverse failures as CrmErrors an operator can act on: the envelope's code and message, the record, and
// the fix for the codes an integration meets (throttling, privileges, missing columns, duplicate keys).

import { CallTimeout } from '../../lib/deadline.ts';
import { parseRetryAfter } from '../../lib/retry.ts';
import { CrmError } from '../port.ts';
import { EXPIRED_VERSION_STAMP } from './fields.ts';

/** What dynamics-web-api throws for an HTTP error (its RequestError), or a network error from fetch. */
interface LibraryError {
  message?: unknown;
  code?: unknown;
  status?: unknown;
  headers?: unknown;
  cause?: unknown;
}

export interface ErrorContext {
  operation: string;
  record?: string;
}

const FIXES: Record<string, string> = {
  '0x80040220':
    'Give the application user a security role that can read and write opportunities, leads, accounts and contacts (System Administrator or System Customizer, R28).',
  '0x80048d19':
    'A column cosell writes does not exist: import the cosell solution (packaging/dynamics) or fix the column names in the config, then run `cosell doctor`.',
  '0x80060888':
    'A table or column cosell reads does not exist: import the cosell solution (packaging/dynamics) and run `cosell doctor`.',
  '0x80040237':
    'Another record already has this Referral Identifier: keep one of them (clear the identifier on the other).',
  '0x80072322':
    'Dataverse throttled the application user (6,000 requests per 5 minutes); cosell waits and retries.',
  '0x80072321': 'Dataverse throttled the application user (execution time); cosell waits and retries.',
  '0x80072326': 'Too many concurrent requests: lower crm.connection.maxConcurrency.',
};

const NETWORK = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EAI_AGAIN|UND_ERR|fetch failed|socket hang up/i;

/**
 * dynamics-web-api rejects a failed `$batch` with an array of errors (one per failed part), each carrying the
 * part's envelope under `error`; a single request rejects with one error. Both read as one LibraryError here.
 */
export function unwrap(error: unknown): LibraryError | null {
  const first = Array.isArray(error) ? error.find((e) => e && typeof e === 'object') : error;
  if (!first || typeof first !== 'object') return null;
  const e = first as LibraryError & { error?: { code?: unknown; message?: unknown } };
  if (!e.error) return e;
  return {
    ...e,
    status: e.status,
    headers: e.headers,
    code: e.code ?? e.error.code,
    message: (typeof e.message === 'string' && e.message !== '' ? e.message : undefined) ?? e.error.message,
  };
}

export function statusOf(error: unknown): number | undefined {
  const status = unwrap(error)?.status;
  return typeof status === 'number' ? status : undefined;
}

export function headerOf(error: unknown, name: string): string | undefined {
  const headers = unwrap(error)?.headers;
  if (!headers || typeof headers !== 'object') return undefined;
  for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
    if (key.toLowerCase() === name.toLowerCase())
      return Array.isArray(value) ? String(value[0]) : String(value);
  }
  return undefined;
}

/** Dataverse's Retry-After (seconds) on a 429, as milliseconds. */
function retryAfterOf(error: unknown): { retryAfterMs?: number } {
  const ms = parseRetryAfter(headerOf(error, 'retry-after'));
  return ms === undefined ? {} : { retryAfterMs: ms };
}

export function codeOf(error: unknown): string | undefined {
  const code = unwrap(error)?.code;
  return typeof code === 'string' && code !== '' ? code : undefined;
}

export function isNetworkError(error: unknown): boolean {
  if (statusOf(error) !== undefined) return false;
  const e = unwrap(error);
  const text = `${String(e?.message ?? '')} ${String((e?.cause as LibraryError | undefined)?.code ?? '')} ${String(e?.code ?? '')}`;
  return NETWORK.test(text);
}

export function isExpiredChangeToken(error: unknown): boolean {
  return (
    statusOf(error) === 400 &&
    (codeOf(error) === EXPIRED_VERSION_STAMP ||
      /version stamp.*expired|full sync/i.test(String(unwrap(error)?.message)))
  );
}

/** Maps anything a Dataverse call threw to a CrmError. Tokens never reach it: library errors carry bodies only. */
export function toCrmError(error: unknown, context: ErrorContext): CrmError {
  if (error instanceof CrmError) return error;
  const on = context.record ? ` on ${context.record}` : '';
  if (error instanceof CallTimeout) {
    return new CrmError({
      crm: 'dynamics',
      operation: context.operation,
      record: context.record,
      code: error.code,
      message: `Dataverse ${context.operation}: ${error.message}, so cosell gave up waiting.`,
      fix: 'cosell retries. If it keeps happening, check the environment in the Power Platform admin center and the network path to it, or raise engine.requestTimeoutMs.',
      retryable: true,
    });
  }
  if (isNetworkError(error)) {
    return new CrmError({
      crm: 'dynamics',
      operation: context.operation,
      record: context.record,
      code: 'NETWORK',
      message: `Dataverse ${context.operation}: cannot reach the environment (${String(unwrap(error)?.message)}).`,
      fix: 'Check crm.connection.url and the network; cosell retries.',
      retryable: true,
    });
  }
  const status = statusOf(error);
  const code = codeOf(error);
  const message = String(unwrap(error)?.message ?? error);
  const fix =
    (code ? FIXES[code] : undefined) ??
    (status === 401
      ? 'The app registration was refused: check crm.connection.auth (client id, secret or certificate) and that the application user exists in the environment.'
      : status === 403
        ? FIXES['0x80040220']
        : undefined);
  return new CrmError({
    crm: 'dynamics',
    operation: context.operation,
    record: context.record,
    ...(status !== undefined ? { status } : {}),
    ...(code ? { code } : {}),
    message: `Dataverse ${context.operation}${on} failed${status ? ` (HTTP ${status}${code ? ` ${code}` : ''})` : ''}: ${message}`,
    ...(fix ? { fix } : {}),
    retryable: status === 429 || (status !== undefined && status >= 500),
    ...(status === 429 ? retryAfterOf(error) : {}),
    authFailed: status === 401,
    // The deal was deleted between the read and the write: the engine reads it again and unlinks it (R31).
    stale: status === 404 && context.operation === 'update deal',
  });
}
