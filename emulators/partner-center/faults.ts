// Fault injection (429 with Retry-After, 5xx, latency, connection resets, a Microsoft edit racing a write) and
// per-route API call counters.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CallLog } from '../shared/calls.ts';
import { delay, FaultQueue } from '../shared/faults.ts';
import { CONTROL_PREFIX, REFERRALS_PREFIX, WEBHOOKS_PREFIX } from './constants.ts';
import { codeForStatus, errorBody, sendError } from './http.ts';

export const faultInputSchema = z.object({
  method: z.string().trim().toUpperCase().optional(),
  /** A prefix of the request path, e.g. `/v1.0/engagements/referrals`; a full URL is accepted too. */
  path: z.string().optional(),
  status: z.number().int().min(100).max(599).optional(),
  count: z.number().int().min(1).default(1),
  retryAfter: z.number().int().min(0).optional(),
  delayMs: z.number().int().min(0).max(120_000).optional(),
  /** Close the connection without an answer (after any delay), as a reset or a dropped proxy does. */
  reset: z.boolean().optional(),
  /** A Microsoft seller's edit (as `PATCH /control/referrals/{id}`) made to the referral the call names just before
   *  the call is handled: its eTag moves, so a write carrying the eTag its caller read gets a genuine 412. */
  microsoftEdit: z.record(z.string(), z.unknown()).optional(),
});

export interface Fault {
  id: number;
  method?: string;
  path?: string;
  status?: number;
  /** Calls still to be affected. */
  remaining: number;
  retryAfter?: number;
  delayMs?: number;
  reset?: boolean;
  microsoftEdit?: Record<string, unknown>;
}

type QueuedFault = Omit<Fault, 'id' | 'remaining'> & { count: number };

/** Without a path a fault targets the two Partner Center APIs, not the token endpoint. */
const API_PREFIXES = [REFERRALS_PREFIX, WEBHOOKS_PREFIX];

/** `:id` (fastify) to `{id}` (how the counters read: `GET /v1.0/engagements/referrals/{id}`). */
const routeKey = (method: string, pattern: string) => `${method} ${pattern.replace(/:(\w+)/g, '{$1}')}`;

const shown = ({ count, ...rest }: QueuedFault & { id: number }): Fault => ({ ...rest, remaining: count });

export class FaultsAndCalls {
  private readonly faults = new FaultQueue<QueuedFault>();
  private readonly calls = new CallLog();

  /** `editAsMicrosoft` applies a `microsoftEdit` fault through the same path as the control API's edit. */
  constructor(
    private readonly editAsMicrosoft: (id: string, patch: Record<string, unknown>) => void = () => {},
  ) {}

  add(input: z.output<typeof faultInputSchema>): Fault {
    const fault: QueuedFault = { count: input.count };
    if (input.method) fault.method = input.method;
    if (input.path) fault.path = input.path;
    if (input.status !== undefined) fault.status = input.status;
    if (input.retryAfter !== undefined) fault.retryAfter = input.retryAfter;
    if (input.delayMs !== undefined) fault.delayMs = input.delayMs;
    if (input.reset) fault.reset = true;
    if (input.microsoftEdit) fault.microsoftEdit = input.microsoftEdit;
    return shown(this.faults.add(fault));
  }

  list(): Fault[] {
    return this.faults.list().map(shown);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  counters(): Record<string, number> {
    return this.calls.summary().byEndpoint;
  }

  clearCalls(): void {
    this.calls.clear();
  }

  reset(): void {
    this.clearFaults();
    this.clearCalls();
  }

  private take(method: string, path: string): QueuedFault | undefined {
    return this.faults.take(method, path, (p) => API_PREFIXES.some((prefix) => p.startsWith(prefix)));
  }

  /** Counts every matched non-control call, then applies a pending fault before auth or parsing run. */
  install(app: FastifyInstance): void {
    app.addHook('onRequest', async (request, reply) => {
      const path = request.url.split('?')[0] ?? request.url;
      if (path.startsWith(CONTROL_PREFIX)) return;
      const pattern = request.routeOptions.url;
      if (pattern) {
        this.calls.record({
          method: request.method,
          endpoint: routeKey(request.method, pattern).slice(request.method.length + 1),
          path,
          status: 0,
          countedAsApiCall: true,
          ...(/\/oauth2\//.test(pattern) ? { kind: 'token' as const } : {}),
        });
      }
      const fault = this.take(request.method, path);
      if (!fault) return;
      const id = (request.params as { id?: unknown } | undefined)?.id;
      if (fault.microsoftEdit && typeof id === 'string') {
        try {
          this.editAsMicrosoft(id, fault.microsoftEdit);
        } catch {
          // An unknown referral: the call itself answers 404.
        }
      }
      if (fault.delayMs) await delay(fault.delayMs);
      if (fault.reset) {
        reply.hijack();
        request.raw.socket.destroy();
        return;
      }
      if (fault.status === undefined) return;
      if (fault.retryAfter !== undefined) reply.header('Retry-After', String(fault.retryAfter));
      if (fault.status === 429) {
        const seconds = fault.retryAfter ?? 1;
        if (fault.retryAfter === undefined) reply.header('Retry-After', String(seconds));
        // Throttling answers come from the gateway, not the API: a different body (reference §2, TH).
        return reply
          .code(429)
          .send({ statusCode: 429, message: `Rate limit is exceeded. Try again in ${seconds} seconds.` });
      }
      const message =
        fault.status >= 500
          ? `The service is temporarily unavailable (fault injected by the emulator, HTTP ${fault.status}). Retry later.`
          : `Request refused (fault injected by the emulator, HTTP ${fault.status}).`;
      return sendError(reply, fault.status, codeForStatus(fault.status), message, 'request');
    });
  }

  registerControlRoutes(app: FastifyInstance, prefix: string): void {
    app.post(`${prefix}/faults`, async (request, reply) => {
      const parsed = faultInputSchema.safeParse(request.body ?? {});
      if (!parsed.success) {
        return reply
          .code(400)
          .send(
            errorBody(
              'invalidRequest',
              `Fault must be {method?, path?, status?, count, retryAfter?, delayMs?, reset?, microsoftEdit?}: ${parsed.error.message}`,
              'body',
            ),
          );
      }
      const { status, delayMs, reset, microsoftEdit } = parsed.data;
      if (status === undefined && delayMs === undefined && !reset && !microsoftEdit) {
        return reply
          .code(400)
          .send(
            errorBody(
              'invalidRequest',
              'A fault needs a status, a delayMs, reset or a microsoftEdit.',
              'body',
            ),
          );
      }
      return reply.code(201).send(this.add(parsed.data));
    });
    app.get(`${prefix}/faults`, async () => this.list());
    app.delete(`${prefix}/faults`, async (_request, reply) => {
      this.clearFaults();
      return reply.code(204).send();
    });
    // One counter shape on all three emulators (emulators/shared/calls.ts); `/calls` is the older view.
    app.get(`${prefix}/counters`, async () => this.calls.counters());
    app.delete(`${prefix}/counters`, async (_request, reply) => {
      this.clearCalls();
      return reply.code(204).send();
    });
    app.get(`${prefix}/calls`, async () => this.counters());
    app.delete(`${prefix}/calls`, async (_request, reply) => {
      this.clearCalls();
      return reply.code(204).send();
    });
  }
}
