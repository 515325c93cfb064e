// Salesforce error bodies -> CrmError, in one place (reference/crm.md §B.7). jsforce turns the error array
// into an Error whose `name`/`errorCode` is the Salesforce code and whose `data` is the first item; it does not
// keep the HTTP status, so the status comes from the code (the codes below each come with one status).
import { CallTimeout } from '../../lib/deadline.ts';
import { CrmError } from '../port.ts';
import { assignPermissionSetCommand, deployCommand } from './fields.ts';

export interface SalesforceErrorItem {
  message: string;
  errorCode?: string;
  /** sObject Collections name it `statusCode`. */
  statusCode?: string;
  fields?: string[];
}

/** Status a code is returned with, where Salesforce documents a single one. */
const STATUS_OF_CODE: Readonly<Record<string, number>> = {
  INVALID_SESSION_ID: 401,
  REQUEST_LIMIT_EXCEEDED: 403,
  INSUFFICIENT_ACCESS: 403,
  INSUFFICIENT_ACCESS_OR_READONLY: 403,
  INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY: 400,
  API_DISABLED_FOR_ORG: 403,
  NOT_FOUND: 404,
  ENTITY_IS_DELETED: 404,
  MULTIPLE_CHOICES: 300,
  MALFORMED_QUERY: 400,
  INVALID_FIELD: 400,
  INVALID_TYPE: 400,
  MALFORMED_ID: 400,
  REQUIRED_FIELD_MISSING: 400,
  STRING_TOO_LONG: 400,
  INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: 400,
  DUPLICATE_VALUE: 400,
  DUPLICATES_DETECTED: 400,
  FIELD_CUSTOM_VALIDATION_EXCEPTION: 400,
  INVALID_FIELD_FOR_INSERT_UPDATE: 400,
  UNABLE_TO_LOCK_ROW: 400,
  SERVER_UNAVAILABLE: 503,
};

/** Transient by nature: another transaction holds the row, or the server is busy. */
const RETRYABLE_CODES = new Set([
  'UNABLE_TO_LOCK_ROW',
  'SERVER_UNAVAILABLE',
  'ERROR_HTTP_500',
  'ERROR_HTTP_502',
  'ERROR_HTTP_503',
  'ERROR_HTTP_504',
]);

/** The record changed state under the write (converted, merged or deleted meanwhile): the engine reads it
 *  again instead of failing (R9, R31). */
const STALE_CODES = new Set(['CANNOT_UPDATE_CONVERTED_LEAD', 'ENTITY_IS_DELETED']);

const FIX_OF_CODE: Readonly<Record<string, string>> = {
  REQUEST_LIMIT_EXCEEDED:
    "The org used up its daily API allocation; cosell pauses Salesforce work until it frees. Raise the allocation (Setup > Company Information) or lower cosell's polling rate.",
  INVALID_SESSION_ID:
    'Salesforce refused a freshly minted token: check the External Client App (consumer key, certificate, pre-authorised integration user) and run cosell doctor.',
  INVALID_FIELD: `A field cosell uses is missing or not visible to the integration user: deploy the package (${deployCommand()}) and assign the permission set (${assignPermissionSetCommand()}), or fix the field name in the config.`,
  INSUFFICIENT_ACCESS_OR_READONLY: `The integration user lacks access: assign the permission set (${assignPermissionSetCommand()}).`,
  INSUFFICIENT_ACCESS: `The integration user lacks access: assign the permission set (${assignPermissionSetCommand()}).`,
  INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:
    'Pick a value the picklist allows, or map the value in the config (value maps).',
  STRING_TOO_LONG: 'Shorten the value or widen the field in Salesforce.',
  REQUIRED_FIELD_MISSING: 'Fill the required field, or configure a default value for it (field mapping).',
  DUPLICATE_VALUE:
    'Another record already holds this unique value (Referral Identifier): merge or unlink the duplicate.',
  DUPLICATES_DETECTED:
    'A Salesforce duplicate rule blocked the record: match it to the existing record or relax the rule.',
  FIELD_CUSTOM_VALIDATION_EXCEPTION:
    'A validation rule in the org refused the values: fix the record or the rule.',
  NOT_FOUND: 'The record does not exist (deleted or merged); cosell unlinks it.',
  ENTITY_IS_DELETED: 'The record was deleted; cosell unlinks it.',
  MULTIPLE_CHOICES: 'Several records carry this Referral Identifier: keep one (the field must be Unique).',
  UNABLE_TO_LOCK_ROW:
    'Another process was editing the record; cosell retried. If it persists, look for long-running automation on it.',
};

export function statusOfCode(code: string | undefined): number | undefined {
  if (!code) return undefined;
  const http = /^ERROR_HTTP_(\d{3})$/.exec(code);
  if (http) return Number(http[1]);
  return STATUS_OF_CODE[code];
}

export function isRetryableCode(code: string | undefined): boolean {
  return code !== undefined && RETRYABLE_CODES.has(code);
}

interface JsforceLikeError {
  name?: unknown;
  errorCode?: unknown;
  message?: unknown;
  data?: unknown;
  code?: unknown;
}

/** The Salesforce error code carried by an error thrown by jsforce (or by node's HTTP layer). */
export function codeOf(error: unknown): string | undefined {
  if (error instanceof CrmError) return error.code;
  if (error === null || typeof error !== 'object') return undefined;
  const e = error as JsforceLikeError;
  if (typeof e.errorCode === 'string') return e.errorCode;
  // Network failures (ECONNREFUSED, ECONNRESET…) come from node with `code`.
  if (typeof e.code === 'string') return e.code;
  return undefined;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
]);

export interface ErrorContext {
  operation: string;
  record?: string;
  /** `Sforce-Limit-Info` usage at the time, for the budget message. */
  apiUsage?: { used: number; limit: number };
}

/** Maps anything a Salesforce call threw to a CrmError. Secrets never reach it: jsforce errors carry bodies only. */
export function toCrmError(error: unknown, context: ErrorContext): CrmError {
  if (error instanceof CrmError) return error;
  const code = codeOf(error);
  const e = (error ?? {}) as JsforceLikeError;
  const data = (e.data && typeof e.data === 'object' ? e.data : {}) as {
    fields?: unknown;
    message?: unknown;
  };
  const fields = Array.isArray(data.fields)
    ? data.fields.filter((f): f is string => typeof f === 'string')
    : [];
  const providerMessage = typeof e.message === 'string' ? e.message : String(error);
  if (error instanceof CallTimeout) {
    return new CrmError({
      crm: 'salesforce',
      operation: context.operation,
      record: context.record,
      code: error.code,
      message: `Salesforce ${context.operation}: ${error.message}, so cosell gave up waiting.`,
      fix: 'cosell retries. If it keeps happening, check status.salesforce.com and the network path to the instance, or raise engine.requestTimeoutMs.',
      retryable: true,
    });
  }
  if (code && NETWORK_CODES.has(code)) {
    return new CrmError({
      crm: 'salesforce',
      operation: context.operation,
      record: context.record,
      code,
      message: `Salesforce ${context.operation}: cannot reach Salesforce (${code}).`,
      fix: 'Check the login/instance URL and the network; cosell retries.',
      retryable: true,
    });
  }
  return fromItem({ message: providerMessage, errorCode: code, fields }, context);
}

/** Maps one error item of a response body (REST, composite subresponse or collection result). */
export function fromItem(item: SalesforceErrorItem, context: ErrorContext, status?: number): CrmError {
  const code = item.errorCode ?? item.statusCode;
  const budgetExhausted = code === 'REQUEST_LIMIT_EXCEEDED';
  const usage = context.apiUsage ? ` (API usage ${context.apiUsage.used}/${context.apiUsage.limit})` : '';
  const on = context.record ? ` on ${context.record}` : '';
  return new CrmError({
    crm: 'salesforce',
    operation: context.operation,
    record: context.record,
    status: status ?? statusOfCode(code),
    code,
    fields: item.fields ?? [],
    message: budgetExhausted
      ? `Salesforce ${context.operation}: daily API request limit exceeded${usage}; stopping until the allocation frees.`
      : `Salesforce ${context.operation}${on} failed: ${code ? `${code}: ` : ''}${item.message}`,
    fix: code ? FIX_OF_CODE[code] : undefined,
    retryable: isRetryableCode(code),
    budgetExhausted,
    stale: STALE_CODES.has(code ?? ''),
  });
}

/** Composite subresponses and collection results that are rolled back because a sibling failed. */
export function isRollbackItem(item: SalesforceErrorItem): boolean {
  const code = item.errorCode ?? item.statusCode;
  return code === 'ALL_OR_NONE_OPERATION_ROLLED_BACK' || code === 'PROCESSING_HALTED';
}
