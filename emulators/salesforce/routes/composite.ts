/**
 * `/composite` (≤25 subrequests, `@{ref.path}` references, allOrNone), `/composite/graph` (≤75 graphs of
 * ≤500 nodes in all, each graph all-or-none) and sObject Collections (`/composite/sobjects`, ≤200 records,
 * per-record `statusCode` errors). Each counts as one API call, and each
 * runs synchronously over the store, so a savepoint undoes exactly what the request wrote.
 */

import { callFacts } from '../counting.ts';
import {
  createRecord,
  deleteRecord,
  externalIdField,
  MultipleMatchesError,
  objectFromBody,
  objectFromPath,
  recordFromPath,
  updateRecord,
  upsertRecord,
} from '../dml.ts';
import { apiError, SalesforceApiError, toCollectionErrors } from '../errors.ts';
import { normaliseId } from '../ids.ts';
import { recordBody } from '../records.ts';
import { type ApiRequest, type ApiResponse, type ApiRoute, dispatch } from '../router.ts';

const MAX_SUBREQUESTS = 25;
const MAX_GRAPHS = 75;
const MAX_GRAPH_NODES = 500;
/** More failed graphs than this halt the rest of the request. */
const MAX_GRAPH_FAILURES = 14;
const MAX_COLLECTION_RECORDS = 200;
const ROLLED_BACK = {
  statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
  message: 'Record rolled back because not all records were valid and the request was using AllOrNone header',
  fields: [] as string[],
};
const HALTED_MESSAGE =
  'The transaction was rolled back since another operation in the same transaction failed.';

type Json = unknown;

function bodyObject(request: ApiRequest): Record<string, unknown> {
  if (!request.body || typeof request.body !== 'object' || Array.isArray(request.body)) {
    throw apiError(400, 'JSON_PARSER_ERROR', 'The request body must be a JSON object');
  }
  return request.body as Record<string, unknown>;
}

/** Reads `records[0].Id` style paths from an earlier subrequest's response body. */
function readPath(value: Json, path: string): Json {
  let current: Json = value;
  for (const part of path.match(/[^.[\]]+/g) ?? []) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, Json>)[part];
  }
  return current;
}

class UnresolvedReferenceError extends Error {}

function resolveReferences(value: Json, results: Map<string, Json>): Json {
  if (typeof value === 'string') {
    const whole = /^@\{([^.}[]+)([^}]*)\}$/.exec(value);
    const lookup = (ref: string, rest: string): Json => {
      if (!results.has(ref))
        throw new UnresolvedReferenceError(
          `Invalid reference specified. No value for ${ref}${rest} found in ${ref}.`,
        );
      const found = readPath(results.get(ref), rest.replace(/^\./, ''));
      if (found === undefined)
        throw new UnresolvedReferenceError(
          `Invalid reference specified. No value for ${ref}${rest} found in ${ref}.`,
        );
      return found;
    };
    if (whole?.[1]) return lookup(whole[1], whole[2] ?? '');
    return value.replace(/@\{([^.}[]+)([^}]*)\}/g, (_, ref: string, rest: string) =>
      String(lookup(ref, rest)),
    );
  }
  if (Array.isArray(value)) return value.map((v) => resolveReferences(v, results));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveReferences(v, results)]));
  }
  return value;
}

interface SubrequestResult {
  body: Json;
  httpHeaders: Record<string, string>;
  httpStatusCode: number;
  referenceId: string;
}

function runComposite(routes: () => readonly ApiRoute[]) {
  return (request: ApiRequest): ApiResponse => {
    const body = bodyObject(request);
    const subrequests = body['compositeRequest'];
    if (!Array.isArray(subrequests) || subrequests.length === 0) {
      throw apiError(400, 'JSON_PARSER_ERROR', 'compositeRequest must be a non-empty array');
    }
    if (subrequests.length > MAX_SUBREQUESTS) {
      throw apiError(400, 'LIMIT_EXCEEDED', `Exceeded max limit of subrequests allowed: ${MAX_SUBREQUESTS}`);
    }
    const { results } = runSubrequests(request, routes, subrequests, body['allOrNone'] === true);
    return { status: 200, body: { compositeResponse: results } };
  };
}

/** Runs subrequests in order, `@{ref}` resolved from earlier ones; allOrNone undoes all after a failure. */
function runSubrequests(
  request: ApiRequest,
  routes: () => readonly ApiRoute[],
  subrequests: unknown[],
  allOrNone: boolean,
  allowed: (method: string, path: string) => boolean = (_, path) =>
    !/^\/composite(\/|$)/.test(path) || /^\/composite\/sobjects/.test(path),
): { results: SubrequestResult[]; failed: boolean } {
  const savepoint = allOrNone ? request.org.store.begin() : undefined;
  const bodies = new Map<string, Json>();
  const results: SubrequestResult[] = [];
  let failedAt = -1;
  for (const [index, raw] of subrequests.entries()) {
    const sub = (raw ?? {}) as Record<string, unknown>;
    const referenceId = String(sub['referenceId'] ?? `ref${index}`);
    if (failedAt >= 0 && allOrNone) {
      results.push({
        body: [{ errorCode: 'PROCESSING_HALTED', message: HALTED_MESSAGE }],
        httpHeaders: {},
        httpStatusCode: 400,
        referenceId,
      });
      continue;
    }
    let response: ApiResponse;
    try {
      const url = String(resolveReferences(sub['url'] ?? '', bodies));
      const subBody = resolveReferences(sub['body'], bodies);
      const match = /^\/services\/data\/v(\d+\.\d)(\/[^?]*)(?:\?(.*))?$/.exec(url);
      if (!match?.[2]) throw apiError(400, 'INVALID_URL', `The URL ${url} is not a REST API resource`);
      const method = String(sub['method'] ?? 'GET').toUpperCase();
      if (!allowed(method, match[2])) {
        throw apiError(
          400,
          'INVALID_URL',
          /^\/composite(\/|$)/.test(match[2])
            ? 'Composite requests cannot be nested'
            : `${method} ${match[2]} is not supported in this request`,
        );
      }
      const query = new URLSearchParams(match[3] ?? '');
      const result = dispatch(routes(), {
        ...request,
        method,
        path: match[2],
        query,
        body: subBody,
        headers: {
          ...request.headers,
          ...((sub['httpHeaders'] as Record<string, string> | undefined) ?? {}),
        },
        apiVersion: match[1] ?? request.apiVersion,
      });
      response = result.response;
      request.org.calls.record({
        method,
        endpoint: result.endpoint,
        path: match[2],
        status: response.status,
        countedAsApiCall: true,
        batched: true,
        ...callFacts(method, result.endpoint, query, subBody),
      });
    } catch (error) {
      if (error instanceof UnresolvedReferenceError) {
        response = { status: 400, body: [{ errorCode: 'PROCESSING_HALTED', message: error.message }] };
      } else if (error instanceof SalesforceApiError) {
        response = { status: error.status, body: error.errors };
      } else throw error;
    }
    const headers: Record<string, string> = {};
    if (response.headers?.['location']) headers['Location'] = response.headers['location'];
    results.push({
      body: response.body ?? null,
      httpHeaders: headers,
      httpStatusCode: response.status,
      referenceId,
    });
    if (response.status < 300) bodies.set(referenceId, response.body ?? null);
    else if (failedAt < 0) failedAt = index;
  }
  if (allOrNone && failedAt >= 0 && savepoint) {
    request.org.store.rollback(savepoint);
    // Earlier successes were rolled back too: Salesforce reports them as halted.
    for (let i = 0; i < failedAt; i++) {
      const result = results[i];
      if (result) {
        result.body = [{ errorCode: 'PROCESSING_HALTED', message: HALTED_MESSAGE }];
        result.httpStatusCode = 400;
        result.httpHeaders = {};
      }
    }
  }
  if (savepoint) request.org.store.end(savepoint);
  return { results, failed: failedAt >= 0 };
}

/** The record resources a graph node may use (no queries, no nesting). */
const GRAPH_NODE = /^\/sobjects\/[^/]+(\/[^/]+(\/[^/]+)?)?$/;
const GRAPH_METHODS: Record<number, readonly string[]> = {
  1: ['POST'],
  2: ['GET', 'PATCH', 'DELETE'],
  3: ['GET', 'PATCH', 'DELETE', 'POST'],
};

/**
 * `/composite/graph`: up to 75 graphs and 500 nodes; each graph is all-or-none on its own, so one record's
 * failure leaves the others written. After 14 failed graphs the rest are not run (PROCESSING_HALTED).
 */
function runGraph(routes: () => readonly ApiRoute[]) {
  return (request: ApiRequest): ApiResponse => {
    const body = bodyObject(request);
    const graphs = body['graphs'];
    if (!Array.isArray(graphs) || graphs.length === 0)
      throw apiError(400, 'JSON_PARSER_ERROR', 'graphs must be a non-empty array');
    if (graphs.length > MAX_GRAPHS)
      throw apiError(400, 'LIMIT_EXCEEDED', `Exceeded max limit of graphs allowed: ${MAX_GRAPHS}`);
    const nodes = graphs.reduce<number>((n, g) => {
      const requests = (g as Record<string, unknown> | null)?.['compositeRequest'];
      return n + (Array.isArray(requests) ? requests.length : 0);
    }, 0);
    if (nodes > MAX_GRAPH_NODES)
      throw apiError(400, 'LIMIT_EXCEEDED', `Exceeded max limit of nodes allowed: ${MAX_GRAPH_NODES}`);
    // The whole payload is checked before any graph runs.
    const ids = new Set<string>();
    for (const raw of graphs) {
      const graph = (raw ?? {}) as Record<string, unknown>;
      const graphId = String(graph['graphId'] ?? '');
      if (!/^[A-Za-z0-9]/.test(graphId) || ids.has(graphId))
        throw apiError(
          400,
          'INVALID_INPUT',
          `graphId '${graphId}' must be unique and start with a letter or digit`,
        );
      ids.add(graphId);
      const requests = graph['compositeRequest'];
      if (!Array.isArray(requests) || requests.length === 0)
        throw apiError(
          400,
          'JSON_PARSER_ERROR',
          `graph ${graphId}: compositeRequest must be a non-empty array`,
        );
    }
    let failures = 0;
    const out = graphs.map((raw) => {
      const graph = raw as Record<string, unknown>;
      const graphId = String(graph['graphId']);
      const requests = graph['compositeRequest'] as unknown[];
      if (failures > MAX_GRAPH_FAILURES) {
        return {
          graphId,
          graphResponse: {
            compositeResponse: requests.map((r, i) => ({
              body: [{ errorCode: 'PROCESSING_HALTED', message: 'Too many graphs failed in this request.' }],
              httpHeaders: {},
              httpStatusCode: 400,
              referenceId: String((r as Record<string, unknown> | null)?.['referenceId'] ?? `ref${i}`),
            })),
          },
          isSuccessful: false,
        };
      }
      const { results, failed } = runSubrequests(request, routes, requests, true, (method, path) => {
        const depth = GRAPH_NODE.test(path) ? path.split('/').length - 2 : 0;
        return (GRAPH_METHODS[depth] ?? []).includes(method);
      });
      if (failed) failures++;
      return { graphId, graphResponse: { compositeResponse: results }, isSuccessful: !failed };
    });
    return { status: 200, body: { graphs: out } };
  };
}

interface CollectionItem {
  id: string | null;
  success: boolean;
  errors: { statusCode: string; message: string; fields: string[] }[];
  created?: boolean;
}

/** Runs one operation per record; with allOrNone any failure rolls all back and marks the rest. */
function runCollection(
  request: ApiRequest,
  items: unknown[],
  allOrNone: boolean,
  operate: (item: unknown) => { id: string; created?: boolean },
): ApiResponse {
  if (items.length > MAX_COLLECTION_RECORDS) {
    throw apiError(
      400,
      'EXCEEDED_ID_LIMIT',
      `record limit reached. cannot submit more than ${MAX_COLLECTION_RECORDS} records into this call`,
    );
  }
  const savepoint = allOrNone ? request.org.store.begin() : undefined;
  const results: CollectionItem[] = items.map((item) => {
    try {
      const { id, created } = operate(item);
      return created === undefined
        ? { id, success: true, errors: [] }
        : { id, success: true, errors: [], created };
    } catch (error) {
      if (error instanceof MultipleMatchesError) {
        return {
          id: null,
          success: false,
          errors: [
            {
              statusCode: 'DUPLICATE_EXTERNAL_ID',
              message: 'Multiple records matched the external id',
              fields: [],
            },
          ],
        };
      }
      if (!(error instanceof SalesforceApiError)) throw error;
      const id =
        item && typeof item === 'object'
          ? ((item as Record<string, unknown>)['id'] as string | undefined)
          : undefined;
      return { id: id ?? null, success: false, errors: toCollectionErrors(error) };
    }
  });
  if (allOrNone && savepoint && results.some((r) => !r.success)) {
    request.org.store.rollback(savepoint);
    return {
      status: 200,
      body: results.map((r) => (r.success ? { id: null, success: false, errors: [ROLLED_BACK] } : r)),
    };
  }
  if (savepoint) request.org.store.end(savepoint);
  return { status: 200, body: results };
}

function collectionRecords(request: ApiRequest): { records: unknown[]; allOrNone: boolean } {
  const body = bodyObject(request);
  if (!Array.isArray(body['records'])) throw apiError(400, 'JSON_PARSER_ERROR', 'records must be an array');
  return { records: body['records'], allOrNone: body['allOrNone'] === true };
}

function typeOf(item: unknown): unknown {
  const attributes =
    item && typeof item === 'object' ? (item as Record<string, unknown>)['attributes'] : undefined;
  return attributes && typeof attributes === 'object'
    ? (attributes as Record<string, unknown>)['type']
    : undefined;
}

export function compositeRoutes(routes: () => readonly ApiRoute[]): ApiRoute[] {
  return [
    { method: 'POST', pattern: '/composite', handle: runComposite(routes) },
    { method: 'POST', pattern: '/composite/graph', handle: runGraph(routes) },
    {
      method: 'POST',
      pattern: '/composite/sobjects',
      handle: (request) => {
        const { records, allOrNone } = collectionRecords(request);
        return runCollection(request, records, allOrNone, (item) => {
          const object = objectFromBody(request.ctx, typeOf(item));
          const fields = item as Record<string, unknown>;
          if (fields['id'] !== undefined || fields['Id'] !== undefined) {
            throw apiError(400, 'INVALID_FIELD', 'Record ID: cannot specify Id in an insert call');
          }
          return { id: createRecord(request.ctx, object, item).id };
        });
      },
    },
    {
      method: 'PATCH',
      pattern: '/composite/sobjects',
      handle: (request) => {
        const { records, allOrNone } = collectionRecords(request);
        return runCollection(request, records, allOrNone, (item) => {
          const object = objectFromBody(request.ctx, typeOf(item));
          const { id, Id, ...rest } = item as Record<string, unknown>;
          const rawId = String(id ?? Id ?? '');
          if (!normaliseId(rawId)) throw apiError(400, 'MALFORMED_ID', `malformed id ${rawId}`, []);
          const record = recordFromPath(request.ctx, object, rawId);
          updateRecord(request.ctx, object, record, rest);
          return { id: record.id };
        });
      },
    },
    {
      method: 'PATCH',
      pattern: '/composite/sobjects/:type/:field',
      handle: (request, params) => {
        const object = objectFromPath(request.ctx, params['type'] ?? '');
        const field = externalIdField(request.ctx, object, params['field'] ?? '');
        const { records, allOrNone } = collectionRecords(request);
        return runCollection(request, records, allOrNone, (item) => {
          const fields = item as Record<string, unknown>;
          const key = Object.keys(fields).find((k) => k.toLowerCase() === field.name.toLowerCase());
          const value = key ? fields[key] : undefined;
          if (value === undefined || value === null || value === '') {
            throw apiError(400, 'REQUIRED_FIELD_MISSING', `External ID field ${field.name} is missing`, [
              field.name,
            ]);
          }
          const result = upsertRecord(request.ctx, object, field, String(value), item, {
            apiVersion: request.apiVersion,
          });
          return { id: result.record.id, created: result.created };
        });
      },
    },
    {
      method: 'DELETE',
      pattern: '/composite/sobjects',
      handle: (request) => {
        const ids = (request.query.get('ids') ?? '').split(',').filter(Boolean);
        const allOrNone = request.query.get('allOrNone') === 'true';
        return runCollection(request, ids, allOrNone, (rawId) => {
          const id = normaliseId(String(rawId));
          const record = id ? request.org.store.getById(id) : undefined;
          if (!id || !record) {
            throw apiError(
              400,
              id ? 'INVALID_CROSS_REFERENCE_KEY' : 'MALFORMED_ID',
              `invalid record id ${String(rawId)}`,
              [],
            );
          }
          if (record.isDeleted) throw apiError(400, 'ENTITY_IS_DELETED', 'entity is deleted', []);
          const object = objectFromPath(request.ctx, record.type);
          deleteRecord(request.ctx, object, record);
          return { id: record.id };
        });
      },
    },
    {
      method: 'GET',
      pattern: '/composite/sobjects/:type',
      handle: (request, params) => {
        const object = objectFromPath(request.ctx, params['type'] ?? '');
        const ids = (request.query.get('ids') ?? '').split(',').filter(Boolean);
        const fields = (request.query.get('fields') ?? '').split(',').filter(Boolean);
        if (fields.length === 0) throw apiError(400, 'MALFORMED_QUERY', 'fields parameter is required');
        const records = ids.map((rawId) => {
          try {
            const record = recordFromPath(request.ctx, object, rawId);
            return recordBody(request.ctx, object, record, request.apiVersion, fields);
          } catch {
            return null;
          }
        });
        return { status: 200, body: records };
      },
    },
  ];
}
