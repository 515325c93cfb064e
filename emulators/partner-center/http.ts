// Wire plumbing shared by every route: Partner Center error bodies, correlation headers, body parsers.
import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { MAX_BODY_BYTES, MAX_ERROR_MESSAGE_LENGTH } from './constants.ts';

/** Error codes Partner Center documents for `error.code` (reference §2 "Status codes & errors"). */
export type PartnerCenterErrorCode =
  | 'accessDenied'
  | 'generalException'
  | 'invalidRequest'
  | 'itemNotFound'
  | 'preconditionFailed'
  | 'resourceModified'
  | 'serviceNotAvailable'
  | 'unauthenticated'
  | 'methodNotAllowed'
  | 'conflict';

export interface PartnerCenterErrorBody {
  error: { code: PartnerCenterErrorCode; message: string; target: string };
}

/** A refusal a route raises; the error handler turns it into the documented body. */
export class PartnerCenterError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: PartnerCenterErrorCode,
    message: string,
    readonly target = 'referral',
  ) {
    super(message);
    this.name = 'PartnerCenterError';
  }
}

export function errorBody(
  code: PartnerCenterErrorCode,
  message: string,
  target: string,
): PartnerCenterErrorBody {
  const capped =
    message.length > MAX_ERROR_MESSAGE_LENGTH
      ? `${message.slice(0, MAX_ERROR_MESSAGE_LENGTH - 1)}…`
      : message;
  return { error: { code, message: capped, target } };
}

export function sendError(
  reply: FastifyReply,
  statusCode: number,
  code: PartnerCenterErrorCode,
  message: string,
  target = 'referral',
): FastifyReply {
  return reply
    .code(statusCode)
    .type('application/json')
    .send(errorBody(code, message, target));
}

/** Default `error.code` for a bare HTTP status (faults, framework errors). */
export function codeForStatus(status: number): PartnerCenterErrorCode {
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'accessDenied';
  if (status === 404) return 'itemNotFound';
  if (status === 405) return 'methodNotAllowed';
  if (status === 409) return 'conflict';
  if (status === 412) return 'preconditionFailed';
  if (status === 503 || status === 504) return 'serviceNotAvailable';
  if (status >= 400 && status < 500) return 'invalidRequest';
  return 'generalException';
}

/**
 * Installs what every route shares: correlation headers, JSON / JSON Patch / form parsers that treat an
 * empty body as "no body", and an error handler that always answers `{error:{code,message,target}}`.
 */
export function installHttpConventions(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    const correlationId = headerValue(request.headers['ms-correlationid']) ?? randomUUID();
    reply.header('MS-CorrelationId', correlationId);
    const requestId = headerValue(request.headers['ms-requestid']);
    if (requestId) reply.header('MS-RequestId', requestId);
    reply.header('Request-ID', randomUUID());
  });

  app.removeContentTypeParser('application/json');
  const parseJson = (
    _request: unknown,
    body: string | Buffer,
    done: (err: Error | null, body?: unknown) => void,
  ) => {
    const text = body.toString();
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (error) {
      done(
        new PartnerCenterError(
          400,
          'invalidRequest',
          `The request body is not valid JSON: ${(error as Error).message}`,
          'body',
        ),
      );
    }
  };
  app.addContentTypeParser(
    ['application/json', 'application/json-patch+json'],
    { parseAs: 'string' },
    parseJson,
  );
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body.toString())));
    },
  );

  app.setErrorHandler((error: FastifyError | PartnerCenterError, request, reply) => {
    if (error instanceof PartnerCenterError) {
      return sendError(reply, error.statusCode, error.code, error.message, error.target);
    }
    const status = error.statusCode ?? 500;
    if (status === 413) {
      return sendError(
        reply,
        413,
        'invalidRequest',
        `The request body is larger than ${MAX_BODY_BYTES} bytes (1 MB).`,
        'body',
      );
    }
    if (status >= 400 && status < 500) {
      return sendError(reply, status, codeForStatus(status), error.message, 'request');
    }
    request.log.error({ err: error }, 'emulator route failed');
    return sendError(
      reply,
      500,
      'generalException',
      'An unexpected error occurred in the Partner Center emulator.',
      'request',
    );
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      404,
      'itemNotFound',
      `No resource at ${request.method} ${request.url.split('?')[0]}.`,
      'request',
    ),
  );
}

export function headerValue(value: string | string[] | undefined): string | undefined {
  const single = Array.isArray(value) ? value[0] : value;
  return single && single.trim() !== '' ? single : undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
