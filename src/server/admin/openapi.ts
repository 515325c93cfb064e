// `/api/openapi.json`: the admin API described from the zod schemas its routes validate with (api.ts).
import { type ZodType, z } from 'zod';
import { API_ROUTES } from './api.ts';
import { problemSchema } from './schemas.ts';

const schemaOf = (schema: ZodType, io: 'input' | 'output') =>
  z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'any' });

export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const problem = { content: { 'application/json': { schema: schemaOf(problemSchema, 'output') } } };
  for (const route of API_ROUTES) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const [where, schema] of [
      ['path', route.params],
      ['query', route.query],
    ] as const) {
      if (!schema) continue;
      const json = schemaOf(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, property] of Object.entries(json.properties ?? {})) {
        parameters.push({
          name,
          in: where,
          required: where === 'path' || (json.required ?? []).includes(name),
          schema: property,
        });
      }
    }
    paths[path] = {
      ...paths[path],
      [route.method.toLowerCase()]: {
        summary: route.summary,
        ...(parameters.length ? { parameters } : {}),
        ...(route.body
          ? {
              requestBody: {
                required: true,
                content: { 'application/json': { schema: schemaOf(route.body, 'input') } },
              },
            }
          : {}),
        responses: {
          '200': {
            description: 'OK',
            content: { 'application/json': { schema: schemaOf(route.response, 'output') } },
          },
          '400': { description: 'The request is not valid', ...problem },
          '401': { description: 'The admin token is missing or wrong', ...problem },
          ...(route.params ? { '404': { description: 'No such record', ...problem } } : {}),
        },
      },
    };
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'cosell admin API',
      version,
      description:
        'What the dashboard shows, as JSON. On a non-loopback address every call needs Authorization: Bearer $COSELL_ADMIN_TOKEN.',
    },
    components: { securitySchemes: { adminToken: { type: 'http', scheme: 'bearer' } } },
    security: [{ adminToken: [] }],
    paths,
  };
}
