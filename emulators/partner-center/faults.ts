// Fault injection (429 with Retry-After, 5xx, latency) and per-route API call counters.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
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
}

/** Without a path a fault targets the two Partner Center APIs, not the token endpoint. */
const API_PREFIXES = [REFERRALS_PREFIX, WEBHOOKS_PREFIX];

/** `:id` (fastify) to `{id}` (how the counters read: `GET /v1.0/engagements/referrals/{id}`). */
const routeKey = (method: string, pattern: string) => `${method} ${pattern.replace(/:(\w+)/g, '{$1}')}`;

export class FaultsAndCalls {
  private faults: Fault[] = [];
  private nextId = 1;
  private calls = new Map<string, number>();

  add(input: z.output<typeof faultInputSchema>): Fault {
    const path = input.path?.replace(/^https?:\/\/[^/]+/i, '');
    const fault: Fault = { id: this.nextId++, remaining: input.count };
    if (input.method) fault.method = input.method;
    if (path) fault.path = path;
    if (input.status !== undefined) fault.status = input.status;
    if (input.retryAfter !== undefined) fault.retryAfter = input.retryAfter;
    if (input.delayMs !== undefined) fault.delayMs = input.delayMs;
    this.faults.push(fault);
    return fault;
  }

  list(): Fault[] {
    return this.faults.map((fault) => ({ ...fault }));
  }

  clearFaults(): void {
    this.faults = [];
  }

  counters(): Record<string, number> {
    return Object.fromEntries(this.calls);
  }

  clearCalls(): void {
    this.calls.clear();
  }

  reset(): void {
    this.clearFaults();
    this.clearCalls();
  }

  /** Takes one use of the first fault that matches this call, if any. */
  private take(method: string, path: string): Fault | undefined {
    const fault = this.faults.find(
      (candidate) =>
        (!candidate.method || candidate.method === method) &&
        (candidate.path
          ? path.startsWith(candidate.path)
          : API_PREFIXES.some((prefix) => path.startsWith(prefix))),
    );
    if (!fault) return undefined;
    fault.remaining--;
    if (fault.remaining <= 0) this.faults = this.faults.filter((candidate) => candidate !== fault);
    return fault;
  }

  /** Counts every matched non-control call, then applies a pending fault before auth or parsing run. */
  install(app: FastifyInstance): void {
    app.addHook('onRequest', async (request, reply) => {
      const path = request.url.split('?')[0] ?? request.url;
      if (path.startsWith(CONTROL_PREFIX)) return;
      const pattern = request.routeOptions.url;
      if (pattern) {
        const key = routeKey(request.method, pattern);
        this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
      }
      const fault = this.take(request.method, path);
      if (!fault) return;
      if (fault.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
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
              `Fault must be {method?, path?, status?, count, retryAfter?, delayMs?}: ${parsed.error.message}`,
              'body',
            ),
          );
      }
      if (parsed.data.status === undefined && parsed.data.delayMs === undefined) {
        return reply
          .code(400)
          .send(errorBody('invalidRequest', 'A fault needs a status, a delayMs, or both.', 'body'));
      }
      return reply.code(201).send(this.add(parsed.data));
    });
    app.get(`${prefix}/faults`, async () => this.list());
    app.delete(`${prefix}/faults`, async (_request, reply) => {
      this.clearFaults();
      return reply.code(204).send();
    });
    app.get(`${prefix}/calls`, async () => this.counters());
    app.delete(`${prefix}/calls`, async (_request, reply) => {
      this.clearCalls();
      return reply.code(204).send();
    });
  }
}
