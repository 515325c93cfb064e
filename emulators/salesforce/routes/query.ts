/** `/query` and `/queryAll` with batches and `nextRecordsUrl` locators (`01g…-2000`). */
import { apiError } from '../errors.ts';
import { QUERY_LOCATOR_IDLE_MS } from '../org.ts';
import type { ApiRequest, ApiResponse, ApiRoute } from '../router.ts';
import { runQuery } from '../soql.ts';

const MIN_BATCH = 200;
const MAX_BATCH = 2000;

/** `Sforce-Query-Options: batchSize=N` asks for smaller batches (200..2000); Salesforce treats it as a hint. */
function batchSizeFor(request: ApiRequest): number {
  const header = request.headers['sforce-query-options'] ?? '';
  const match = /batchSize=(\d+)/i.exec(header);
  const asked = match ? Number(match[1]) : request.org.config.queryBatchSize;
  return Math.min(Math.max(asked, Math.min(MIN_BATCH, request.org.config.queryBatchSize)), MAX_BATCH);
}

function page(
  request: ApiRequest,
  resource: 'query' | 'queryAll',
  locator: string,
  records: Record<string, unknown>[],
  totalSize: number,
  offset: number,
  batchSize: number,
): ApiResponse {
  const batch = records.slice(offset, offset + batchSize);
  const next = offset + batch.length;
  const done = next >= records.length;
  if (done) request.org.cursors.delete(locator);
  return {
    status: 200,
    body: done
      ? { totalSize, done: true, records: batch }
      : {
          totalSize,
          done: false,
          nextRecordsUrl: `/services/data/v${request.apiVersion}/${resource}/${locator}-${next}`,
          records: batch,
        },
  };
}

function startQuery(resource: 'query' | 'queryAll') {
  return (request: ApiRequest): ApiResponse => {
    const soql = request.query.get('q');
    if (!soql) throw apiError(400, 'MALFORMED_QUERY', 'A query string has to be specified');
    const result = runQuery(request.ctx, soql, {
      includeDeleted: resource === 'queryAll',
      apiVersion: request.apiVersion,
    });
    if (result.isCount)
      return { status: 200, body: { totalSize: result.totalSize, done: true, records: [] } };
    const batchSize = batchSizeFor(request);
    if (result.records.length <= batchSize) {
      return { status: 200, body: { totalSize: result.totalSize, done: true, records: result.records } };
    }
    const locator = request.org.openCursor({
      records: result.records,
      totalSize: result.totalSize,
      batchSize,
      apiVersion: request.apiVersion,
    });
    return page(request, resource, locator, result.records, result.totalSize, 0, batchSize);
  };
}

function continueQuery(resource: 'query' | 'queryAll') {
  return (request: ApiRequest, params: Record<string, string>): ApiResponse => {
    const match = /^(01g[0-9A-Za-z]{15})-(\d+)$/.exec(params['locator'] ?? '');
    const cursor = match?.[1] ? request.org.cursors.get(match[1]) : undefined;
    if (!match?.[1] || !cursor || Date.now() - cursor.lastUsed > QUERY_LOCATOR_IDLE_MS) {
      if (match?.[1]) request.org.cursors.delete(match[1]);
      throw apiError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
    }
    cursor.lastUsed = Date.now();
    return page(
      request,
      resource,
      match[1],
      cursor.records,
      cursor.totalSize,
      Number(match[2]),
      cursor.batchSize,
    );
  };
}

export const queryRoutes: ApiRoute[] = [
  { method: 'GET', pattern: '/query', handle: startQuery('query') },
  { method: 'GET', pattern: '/queryAll', handle: startQuery('queryAll') },
  { method: 'GET', pattern: '/query/:locator', handle: continueQuery('query') },
  { method: 'GET', pattern: '/queryAll/:locator', handle: continueQuery('queryAll') },
];
