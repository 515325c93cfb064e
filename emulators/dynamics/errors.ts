// Dataverse's error envelope (reference/crm.md §A.8): `{"error":{"code":"0x…","message":"…"}}`. The code is
// the platform's hex error code and often unrelated to the HTTP status.

export class DataverseError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'DataverseError';
  }

  body(): { error: { code: string; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** Hex codes the emulator answers with (the real service's, per the Dataverse error reference). */
export const CODES = {
  notFound: '0x80040217',
  validation: '0x80044331',
  invalidArgument: '0x80040203',
  invalidPayload: '0x80048d19',
  duplicateKey: '0x80040237',
  concurrency: '',
  privilege: '0x80040220',
  unauthorized: '0x80072560',
  queryNotSupported: '0x80060888',
  expiredVersionStamp: '0x80044352',
  requestsLimit: '0x80072322',
  timeLimit: '0x80072321',
  concurrencyLimit: '0x80072326',
  unavailable: '0x80040216',
} as const;

export const notFound = (table: string, id: string) =>
  new DataverseError(404, CODES.notFound, `${table} With Id = ${id} Does Not Exist`);

export const badRequest = (message: string, code: string = CODES.invalidArgument) =>
  new DataverseError(400, code, message);
