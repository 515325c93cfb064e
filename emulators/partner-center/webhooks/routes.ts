// HTTP for the hub: the Webhooks API as Partner Center answers it, and the emulator's control routes.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { BEHAVIOUR_MODES, DELIVERY_STATES } from './delivery.ts';
import { REFERRAL_EVENT_NAMES, WEBHOOK_EVENT_NAMES } from './events.ts';
import type { Authorize, WebhookHubCore } from './hub.ts';
import { parseRegistrationInput, registrationResponse } from './registration.ts';

const API = '/webhooks/v1';
/** "message: ≤1024 chars" (reference §2 "Status codes & errors"). */
const MAX_MESSAGE_LENGTH = 1_024;

type ErrorCode = 'invalidRequest' | 'itemNotFound' | 'conflict';

/** Partner Center's error body (reference §2 "Status codes & errors"). `conflict` is not among the
 *  documented codes; the real 409 body is unknown. */
function sendError(
  reply: FastifyReply,
  status: number,
  code: ErrorCode,
  message: string,
  details?: string[],
) {
  return reply.code(status).send({
    error: {
      code,
      message: message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH - 1)}…` : message,
      target: 'WebhookRegistration',
      ...(details && details.length > 1 ? { details: details.map((m) => ({ code, message: m })) } : {}),
    },
  });
}

/** Bodies are parsed here rather than by fastify so an empty body with `Content-Type: application/json`
 *  (what many clients send on the body-less validationEvents POST) is not an error, and malformed JSON
 *  gets Partner Center's error shape. */
function readJson(request: FastifyRequest): { ok: true; value: unknown } | { ok: false; message: string } {
  const raw = request.body;
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) {
    return { ok: true, value: undefined };
  }
  if (typeof raw !== 'string') return { ok: true, value: raw };
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch (error) {
    return { ok: false, message: `The body is not valid JSON: ${(error as Error).message}` };
  }
}

export function registerWebhookApiRoutes(
  app: FastifyInstance,
  authorize: Authorize,
  core: WebhookHubCore,
): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    scope.addHook('onRequest', async (request, reply) => {
      // Partner Center echoes these on Webhooks API responses (reference §1 "Common headers").
      const header = (name: string) => {
        const value = request.headers[name];
        return typeof value === 'string' && value !== '' ? value : randomUUID();
      };
      reply.header('MS-CorrelationId', header('ms-correlationid'));
      reply.header('MS-RequestId', header('ms-requestid'));
      reply.header('X-Locale', 'en-US');
    });

    scope.get(`${API}/registration/events`, async (request, reply) => {
      if (!(await authorize(request, reply))) return reply;
      return reply.send(WEBHOOK_EVENT_NAMES);
    });

    scope.get(`${API}/registration`, async (request, reply) => {
      if (!(await authorize(request, reply))) return reply;
      if (!core.registration) {
        return sendError(reply, 404, 'itemNotFound', 'No webhook registration exists for this tenant.');
      }
      return reply.send(registrationResponse(core.registration));
    });

    const save = (mode: 'create' | 'replace') => async (request: FastifyRequest, reply: FastifyReply) => {
      if (!(await authorize(request, reply))) return reply;
      const body = readJson(request);
      if (!body.ok) return sendError(reply, 400, 'invalidRequest', body.message);
      const input = parseRegistrationInput(body.value);
      if (!input.ok) return sendError(reply, 400, 'invalidRequest', input.problems.join(' '), input.problems);
      const saved = core.saveRegistration(input.input, mode);
      if (!saved.ok) {
        return sendError(
          reply,
          saved.status,
          saved.status === 409 ? 'conflict' : 'itemNotFound',
          saved.message,
        );
      }
      return reply.send(registrationResponse(saved.registration));
    };
    scope.post(`${API}/registration`, save('create'));
    scope.put(`${API}/registration`, save('replace'));

    scope.post(`${API}/registration/validationEvents`, async (request, reply) => {
      if (!(await authorize(request, reply))) return reply;
      const selfUrl = `${request.protocol}://${request.host}${request.url.split('?')[0]}`;
      const result = core.requestValidationEvent(selfUrl);
      if (result.ok) return reply.send({ correlationId: result.correlationId });
      if (result.status === 429) {
        // The throttling body Partner Center documents (reference §2, TH).
        return reply
          .code(429)
          .header('Retry-After', String(result.retryAfterSeconds))
          .send({
            statusCode: 429,
            message: `Rate limit is exceeded. Try again in ${result.retryAfterSeconds} seconds.`,
          });
      }
      return sendError(reply, 400, 'invalidRequest', result.message);
    });

    scope.get<{ Params: { correlationId: string } }>(
      `${API}/registration/validationEvents/:correlationId`,
      async (request, reply) => {
        if (!(await authorize(request, reply))) return reply;
        const event = core.getValidationEvent(request.params.correlationId);
        if (!event) {
          return sendError(
            reply,
            404,
            'itemNotFound',
            `No validation event '${request.params.correlationId}' (results are kept for 7 days).`,
          );
        }
        const { createdAt: _createdAt, ...wire } = event;
        return reply.send(wire);
      },
    );
  });
}

const behaviourInput = z.object({
  mode: z.enum(BEHAVIOUR_MODES),
  count: z.number().int().min(0).max(10_000).optional(),
  delayMs: z.number().min(0).max(3_600_000).optional(),
});

const emitInput = z.object({
  eventName: z.enum(REFERRAL_EVENT_NAMES),
  referralId: z.string().min(1),
});

const deliveriesQuery = z.object({
  state: z.enum(DELIVERY_STATES).optional(),
  eventName: z.enum(WEBHOOK_EVENT_NAMES).optional(),
  referralId: z.string().optional(),
});

function controlError(reply: FastifyReply, status: number, message: string) {
  return reply
    .code(status)
    .send({ error: { code: status === 404 ? 'itemNotFound' : 'invalidRequest', message } });
}

function problemsOf(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
}

export function registerWebhookControlRoutes(
  app: FastifyInstance,
  prefix: string,
  core: WebhookHubCore,
): void {
  app.get(`${prefix}/deliveries`, async (request, reply) => {
    const query = deliveriesQuery.safeParse(request.query ?? {});
    if (!query.success) return controlError(reply, 400, problemsOf(query.error));
    const { state, eventName, referralId } = query.data;
    const deliveries = core.queue
      .list()
      .filter(
        (r) =>
          (!state || r.state === state) &&
          (!eventName || r.eventName === eventName) &&
          (!referralId || r.referralId === referralId),
      );
    return reply.send({ deliveries, behaviour: core.queue.getBehaviour() });
  });

  app.delete(`${prefix}/deliveries`, async (_request, reply) => {
    core.queue.clear();
    return reply.code(204).send();
  });

  app.get(`${prefix}/behaviour`, async (_request, reply) => reply.send(core.queue.getBehaviour()));

  app.post(`${prefix}/behaviour`, async (request, reply) => {
    const input = behaviourInput.safeParse(request.body ?? {});
    if (!input.success) {
      return controlError(
        reply,
        400,
        `${problemsOf(input.error)}. Expected {mode: ${BEHAVIOUR_MODES.join('|')}, count?: number, delayMs?: number}.`,
      );
    }
    const { mode, count, delayMs } = input.data;
    if (mode === 'delay' && delayMs === undefined) {
      return controlError(reply, 400, 'mode "delay" needs delayMs: how long to hold each event.');
    }
    return reply.send(core.setBehaviour(mode, count ?? 1, delayMs ?? 0));
  });

  app.post<{ Params: { deliveryId: string } }>(`${prefix}/redeliver/:deliveryId`, async (request, reply) => {
    const record = core.redeliver(request.params.deliveryId);
    if (!record) return controlError(reply, 404, `No delivery '${request.params.deliveryId}' in the log.`);
    return reply.code(202).send(record);
  });

  app.post(`${prefix}/events`, async (request, reply) => {
    const input = emitInput.safeParse(request.body ?? {});
    if (!input.success) return controlError(reply, 400, problemsOf(input.error));
    return reply.code(202).send({ deliveries: core.emit(input.data.eventName, input.data.referralId) });
  });

  app.get(`${prefix}/ca.pem`, async (_request, reply) =>
    reply.type('application/x-pem-file').send(core.certificates.caCertPem),
  );

  app.get(`${prefix}/registration`, async (_request, reply) => {
    if (!core.registration) return controlError(reply, 404, 'No webhook registration exists.');
    return reply.send(core.registration);
  });

  app.delete(`${prefix}/registration`, async (_request, reply) => {
    core.deleteRegistration();
    return reply.code(204).send();
  });
}
