/**
 * The REST API below `/services/data/vNN.N`, as plain synchronous handlers over the org. Fastify serves them,
 * and `/composite` runs its subrequests through the same table, so both paths behave the same.
 */
import type { DmlContext } from './dml.ts';
import { MultipleMatchesError } from './dml.ts';
import { apiError, SalesforceApiError } from './errors.ts';
import type { SalesforceOrg } from './org.ts';

export interface ApiRequest {
  method: string;
  /** Path below the version prefix, e.g. `/sobjects/Opportunity/006…`. */
  path: string;
  query: URLSearchParams;
  body: unknown;
  headers: Record<string, string | undefined>;
  apiVersion: string;
  org: SalesforceOrg;
  ctx: DmlContext;
}

export interface ApiResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ApiRoute {
  method: string;
  /** Segments; `:name` captures one URL-decoded segment. */
  pattern: string;
  handle: (request: ApiRequest, params: Record<string, string>) => ApiResponse;
}

export interface RouteMatch {
  route: ApiRoute;
  params: Record<string, string>;
  /** Pattern with the sObject type and field filled in, for call counters (`GET /sobjects/Opportunity/:id`). */
  endpoint: string;
}

export function matchRoute(
  routes: readonly ApiRoute[],
  method: string,
  path: string,
): RouteMatch | undefined {
  const segments = path.split('/').filter(Boolean);
  let methodMismatch = false;
  for (const route of routes) {
    const parts = route.pattern.split('/').filter(Boolean);
    if (parts.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < parts.length && ok; i++) {
      const part = parts[i] ?? '';
      const segment = segments[i] ?? '';
      if (part.startsWith(':')) {
        try {
          params[part.slice(1)] = decodeURIComponent(segment);
        } catch {
          ok = false;
        }
      } else ok = part.toLowerCase() === segment.toLowerCase();
    }
    if (!ok) continue;
    if (route.method !== method.toUpperCase()) {
      methodMismatch = true;
      continue;
    }
    const endpoint = `/${parts
      .map((p) => (p === ':type' || p === ':field' ? (params[p.slice(1)] ?? p) : p))
      .join('/')}`;
    return { route, params, endpoint };
  }
  if (methodMismatch) {
    throw apiError(
      405,
      'METHOD_NOT_ALLOWED',
      `HTTP Method '${method}' not allowed. Allowed are GET,PATCH,DELETE,POST`,
    );
  }
  return undefined;
}

/** Runs a handler, turning thrown Salesforce errors into their wire form. */
export function runRoute(match: RouteMatch, request: ApiRequest): ApiResponse {
  try {
    return match.route.handle(request, match.params);
  } catch (error) {
    return errorResponse(error);
  }
}

export function errorResponse(error: unknown): ApiResponse {
  if (error instanceof SalesforceApiError) return { status: error.status, body: error.errors };
  if (error instanceof MultipleMatchesError) return { status: 300, body: error.urls };
  throw error;
}

export function dispatch(
  routes: readonly ApiRoute[],
  request: ApiRequest,
): { response: ApiResponse; endpoint: string } {
  let match: RouteMatch | undefined;
  try {
    match = matchRoute(routes, request.method, request.path);
  } catch (error) {
    return { response: errorResponse(error), endpoint: request.path };
  }
  if (!match) {
    return {
      response: {
        status: 404,
        body: [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }],
      },
      endpoint: request.path,
    };
  }
  return { response: runRoute(match, request), endpoint: match.endpoint };
}
