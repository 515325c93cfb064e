// The admin JSON API (DESIGN.md §2 server/): one table of routes, each with its zod schemas. The same table
// validates requests, registers the Fastify routes and generates `/api/openapi.json` (openapi.ts).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type ZodType, z } from 'zod';
import type { AdminData } from './data.ts';
import {
  failuresSchema,
  overviewSchema,
  type problemSchema,
  recordDetailSchema,
  recordsPageSchema,
  recordsQuerySchema,
  resubmitBodySchema,
  resubmitResultSchema,
  settingsSchema,
} from './schemas.ts';

export interface ApiRoute {
  method: 'GET' | 'POST';
  /** Fastify path syntax (`:id`); openapi.ts writes `{id}`. */
  path: string;
  summary: string;
  params?: ZodType;
  query?: ZodType;
  body?: ZodType;
  response: ZodType;
  run(data: AdminData, input: { params: unknown; query: unknown; body: unknown }): Promise<unknown | null>;
}

const idParams = z.object({ id: z.coerce.number().int().positive().describe('The link id') });

export const API_ROUTES: readonly ApiRoute[] = [
  {
    method: 'GET',
    path: '/api/overview',
    summary: 'Connections, login, webhook registration, latency, API budgets and record counts',
    response: overviewSchema,
    run: (data) => data.overview(),
  },
  {
    method: 'GET',
    path: '/api/records',
    summary:
      'Synced records (links), newest first: search, filter by state and direction, page with nextCursor',
    query: recordsQuerySchema,
    response: recordsPageSchema,
    run: (data, { query }) => data.records(recordsQuerySchema.parse(query)),
  },
  {
    method: 'GET',
    path: '/api/records/:id',
    summary: 'One record: both sides now, the last change, the audit trail and its runs',
    params: idParams,
    response: recordDetailSchema,
    run: (data, { params }) => data.record(idParams.parse(params).id),
  },
  {
    method: 'GET',
    path: '/api/failures',
    summary: 'Failing and dead-lettered records grouped by cause, each group with its fix',
    response: failuresSchema,
    run: (data) => data.failures(),
  },
  {
    method: 'POST',
    path: '/api/resubmit',
    summary: 'Queue records again (attempts reset): some by link id, or every failed one',
    body: resubmitBodySchema,
    response: resubmitResultSchema,
    run: (data, { body }) => data.resubmit(resubmitBodySchema.parse(body)),
  },
  {
    method: 'GET',
    path: '/api/settings',
    summary: 'The effective configuration (secrets redacted) and the field mapping with direction and owner',
    response: settingsSchema,
    run: async (data) => data.settings(),
  },
];

/** Registers the routes on a scope already guarded by auth (dashboard/routes.ts). */
export function registerApi(scope: FastifyInstance, data: (request: FastifyRequest) => AdminData): void {
  for (const route of API_ROUTES) {
    scope.route({
      method: route.method,
      url: route.path,
      handler: async (request, reply) => {
        const input = { params: request.params, query: request.query, body: request.body };
        for (const [part, schema] of [
          ['path', route.params],
          ['query', route.query],
          ['body', route.body],
        ] as const) {
          if (!schema) continue;
          const value = part === 'path' ? input.params : part === 'query' ? input.query : input.body;
          const parsed = schema.safeParse(value ?? {});
          if (!parsed.success) {
            return reply.code(400).send(badRequest(part, parsed.error));
          }
        }
        const answer = await route.run(data(request), input);
        if (answer === null) {
          return reply.code(404).send({
            error: {
              code: 'not-found',
              message: `There is no record ${String((input.params as { id?: string }).id)} in this deployment.`,
              fix: 'List the records with GET /api/records.',
            },
          });
        }
        return answer;
      },
    });
  }
}

function badRequest(part: string, error: z.ZodError): z.infer<typeof problemSchema> {
  const issues = error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
  return {
    error: {
      code: 'bad-request',
      message: `The request's ${part} is not valid: ${issues.join('; ')}.`,
      fix: 'See /api/openapi.json for what this route takes.',
    },
  };
}
