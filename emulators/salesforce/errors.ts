/** One Salesforce REST error as it appears in the array body: `[{"message","errorCode","fields"}]`. */
export interface SalesforceErrorItem {
  message: string;
  errorCode: string;
  fields?: string[];
}

/** Thrown by emulator handlers; turned into the Salesforce error array with `status`. */
export class SalesforceApiError extends Error {
  readonly status: number;
  readonly errors: SalesforceErrorItem[];

  constructor(status: number, errors: SalesforceErrorItem[]) {
    super(errors.map((e) => `${e.errorCode}: ${e.message}`).join('; '));
    this.name = 'SalesforceApiError';
    this.status = status;
    this.errors = errors;
  }
}

export function apiError(
  status: number,
  errorCode: string,
  message: string,
  fields?: string[],
): SalesforceApiError {
  return new SalesforceApiError(status, [fields ? { message, errorCode, fields } : { message, errorCode }]);
}

/** DML validation problems: 400 with `fields` always present (Salesforce sends `[]` when none apply). */
export function dmlError(errorCode: string, message: string, fields: string[] = []): SalesforceApiError {
  return new SalesforceApiError(400, [{ message, errorCode, fields }]);
}

export function notFound(message = 'The requested resource does not exist'): SalesforceApiError {
  return apiError(404, 'NOT_FOUND', message);
}

/** sObject Collections report per-record errors with `statusCode` instead of `errorCode`. */
export function toCollectionErrors(
  error: SalesforceApiError,
): { statusCode: string; message: string; fields: string[] }[] {
  return error.errors.map((e) => ({ statusCode: e.errorCode, message: e.message, fields: e.fields ?? [] }));
}
