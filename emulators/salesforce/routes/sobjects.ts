/** sObject resources: describe, CRUD, upsert by external id, and the replication endpoints. */
import {
  createRecord,
  deleteRecord,
  externalIdField,
  findByExternalId,
  MultipleMatchesError,
  objectFromPath,
  recordFromPath,
  updateRecord,
  upsertRecord,
} from '../dml.ts';
import { apiError, notFound } from '../errors.ts';
import { describeGlobalEntry, describeObject, recordBody, recordUrl } from '../records.ts';
import type { ApiRequest, ApiResponse, ApiRoute } from '../router.ts';
import { isObjectVisible } from '../schema.ts';
import { formatDateTime, parseDateTime } from '../time.ts';

const MAX_REPLICATION_DAYS = 30;

function saveResult(id: string, created?: boolean) {
  return created === undefined
    ? { id, success: true, errors: [] }
    : { id, success: true, errors: [], created };
}

function fieldsParam(request: ApiRequest): string[] | undefined {
  const fields = request.query.get('fields');
  return fields
    ? fields
        .split(',')
        .map((f) => f.trim())
        .filter(Boolean)
    : undefined;
}

/** `If-Unmodified-Since` on PATCH: 412 when the record changed after the given HTTP date. */
function checkUnmodifiedSince(request: ApiRequest, lastModified: unknown): void {
  const header = request.headers['if-unmodified-since'];
  if (!header) return;
  const since = Date.parse(header);
  if (Number.isNaN(since))
    throw apiError(400, 'INVALID_HEADER_TYPE', `Invalid If-Unmodified-Since header: ${header}`);
  const modified = typeof lastModified === 'string' ? parseDateTime(lastModified) : 0;
  // HTTP dates have whole seconds: compare at that precision.
  if (Math.floor(modified / 1000) > Math.floor(since / 1000)) {
    throw apiError(
      412,
      'PRECONDITION_FAILED',
      'The requested resource has been modified since the If-Unmodified-Since date.',
    );
  }
}

function replicationWindow(request: ApiRequest): { start: number; end: number } {
  const start = parseDateTime(request.query.get('start') ?? '');
  const end = parseDateTime(request.query.get('end') ?? '');
  if (Number.isNaN(start) || Number.isNaN(end)) {
    throw apiError(
      400,
      'INVALID_REPLICATION_DATE',
      'start and end must be ISO 8601 datetimes (yyyy-MM-ddTHH:mm:ss+00:00)',
    );
  }
  if (end < start) throw apiError(400, 'INVALID_REPLICATION_DATE', 'end date is before start date');
  const now = request.org.now().getTime();
  if (start < now - MAX_REPLICATION_DAYS * 86_400_000) {
    throw apiError(
      400,
      'INVALID_REPLICATION_DATE',
      `start date cannot be more than ${MAX_REPLICATION_DAYS} days ago`,
    );
  }
  // Seconds are truncated from both ends; a window reaching past now stops at now.
  return { start: truncateToMinute(start), end: Math.min(truncateToMinute(end), now) };
}

/** Replication windows are truncated to whole minutes, as the real endpoints do. */
function truncateToMinute(ms: number): number {
  return Math.floor(ms / 60_000) * 60_000;
}

function getUpdated(request: ApiRequest, params: Record<string, string>): ApiResponse {
  const object = objectFromPath(request.ctx, params['type'] ?? '');
  const { start, end } = replicationWindow(request);
  const ids = request.org.store
    .list(object.name)
    .filter((r) => {
      const stamp = parseDateTime(String(r.values['SystemModstamp']));
      return stamp >= start && stamp <= end;
    })
    .map((r) => r.id);
  return { status: 200, body: { ids, latestDateCovered: formatDateTime(new Date(end)) } };
}

function getDeleted(request: ApiRequest, params: Record<string, string>): ApiResponse {
  const object = objectFromPath(request.ctx, params['type'] ?? '');
  const { start, end } = replicationWindow(request);
  const deletedRecords = request.org.store
    .list(object.name, { includeDeleted: true })
    .filter((r) => {
      if (!r.isDeleted || !r.deletedDate) return false;
      const stamp = parseDateTime(r.deletedDate);
      return stamp >= start && stamp <= end;
    })
    .map((r) => ({ id: r.id, deletedDate: r.deletedDate }));
  return {
    status: 200,
    body: {
      deletedRecords,
      earliestDateAvailable: formatDateTime(request.org.startedAt),
      latestDateCovered: formatDateTime(new Date(end)),
    },
  };
}

export const sobjectRoutes: ApiRoute[] = [
  {
    method: 'GET',
    pattern: '/sobjects',
    handle: (request) => ({
      status: 200,
      body: {
        encoding: 'UTF-8',
        maxBatchSize: 200,
        sobjects: [...request.org.schema.objects.values()]
          .filter((o) => isObjectVisible(request.org.schema, o, request.ctx.view))
          .map((o) => describeGlobalEntry(o, request.apiVersion)),
      },
    }),
  },
  {
    method: 'GET',
    pattern: '/sobjects/:type/describe',
    handle: (request, params) => {
      const object = objectFromPath(request.ctx, params['type'] ?? '');
      return {
        status: 200,
        body: describeObject(request.org.schema, object, request.ctx.view, request.apiVersion),
      };
    },
  },
  { method: 'GET', pattern: '/sobjects/:type/updated', handle: getUpdated },
  { method: 'GET', pattern: '/sobjects/:type/deleted', handle: getDeleted },
  {
    method: 'GET',
    pattern: '/sobjects/:type',
    handle: (request, params) => {
      const object = objectFromPath(request.ctx, params['type'] ?? '');
      return {
        status: 200,
        body: { objectDescribe: describeGlobalEntry(object, request.apiVersion), recentItems: [] },
      };
    },
  },
  {
    method: 'POST',
    pattern: '/sobjects/:type',
    handle: (request, params) => {
      const object = objectFromPath(request.ctx, params['type'] ?? '');
      const record = createRecord(request.ctx, object, request.body);
      return {
        status: 201,
        body: saveResult(record.id),
        headers: { location: recordUrl(request.apiVersion, object.name, record.id) },
      };
    },
  },
  {
    method: 'GET',
    pattern: '/sobjects/:type/:id',
    handle: (request, params) => {
      const object = objectFromPath(request.ctx, params['type'] ?? '');
      const record = recordFromPath(request.ctx, object, params['id'] ?? '');
      return {
        status: 200,
        body: recordBody(request.ctx, object, record, request.apiVersion, fieldsParam(request)),
      };
    },
  },
  {
    method: 'PATCH',
    pattern: '/sobjects/:type/:id',
    handle: (request, params) => {
      const object = objectFromPath(request.ctx, params['type'] ?? '');
      const record = recordFromPath(request.ctx, object, params['id'] ?? '');
      checkUnmodifiedSince(request, record.values['LastModifiedDate']);
      updateRecord(request.ctx, object, record, request.body);
      return { status: 204 };
    },
  },
  {
    method: 'DELETE',
    pattern: '/sobjects/:type/:id',
    handle: (request, params) => {
      const object = objectFromPath(request.ctx, params['type'] ?? '');
      const record = recordFromPath(request.ctx, object, params['id'] ?? '');
      deleteRecord(request.ctx, object, record);
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    pattern: '/sobjects/:type/:field/:value',
    handle: (request, params) => {
      const object = objectFromPath(request.ctx, params['type'] ?? '');
      const field = externalIdField(request.ctx, object, params['field'] ?? '');
      const matches = findByExternalId(request.ctx, object, field, params['value'] ?? '');
      if (matches.length > 1) {
        throw new MultipleMatchesError(matches.map((r) => recordUrl(request.apiVersion, object.name, r.id)));
      }
      const [record] = matches;
      if (!record) throw notFound();
      return {
        status: 200,
        body: recordBody(request.ctx, object, record, request.apiVersion, fieldsParam(request)),
      };
    },
  },
  {
    method: 'PATCH',
    pattern: '/sobjects/:type/:field/:value',
    handle: (request, params) => {
      const object = objectFromPath(request.ctx, params['type'] ?? '');
      const field = externalIdField(request.ctx, object, params['field'] ?? '');
      const result = upsertRecord(request.ctx, object, field, params['value'] ?? '', request.body, {
        updateOnly: request.query.get('updateOnly') === 'true',
        apiVersion: request.apiVersion,
      });
      return {
        status: result.created ? 201 : 200,
        body: saveResult(result.record.id, result.created),
        headers: result.created
          ? { location: recordUrl(request.apiVersion, object.name, result.record.id) }
          : {},
      };
    },
  },
];
