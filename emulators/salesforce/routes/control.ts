/**
 * Control API under `/_emulator` (no auth, never counted as API calls): act as a seller in the UI, seed data,
 * inject faults, read call counters, expire sessions, toggle the permission set, and set the API budget.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import {
  createRecord,
  type DmlContext,
  deleteRecord,
  MultipleMatchesError,
  objectFromBody,
  objectFromPath,
  recordFromPath,
  updateRecord,
} from '../dml.ts';
import { SalesforceApiError } from '../errors.ts';
import type { FaultSpec } from '../faults.ts';
import { convertLead } from '../lead-convert.ts';
import { mergeRecords } from '../merge.ts';
import type { SalesforceOrg } from '../org.ts';
import { recordBody } from '../records.ts';
import { findObject } from '../schema.ts';
import { runQuery } from '../soql.ts';
import { LATEST_API_VERSION } from './limits.ts';

export const CONTROL_PREFIX = '/_emulator';

type Body = Record<string, unknown>;

function asBody(value: unknown): Body {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Body) : {};
}

function sendError(reply: FastifyReply, error: unknown) {
  if (error instanceof SalesforceApiError) return reply.code(error.status).send(error.errors);
  if (error instanceof MultipleMatchesError) return reply.code(300).send(error.urls);
  throw error;
}

/** Replaces `{n}` in string values of a template (1-based), for generating many records at once. */
function fillTemplate(template: Body, n: number): Body {
  return Object.fromEntries(
    Object.entries(template).map(([k, v]) => [k, typeof v === 'string' ? v.replaceAll('{n}', String(n)) : v]),
  );
}

export function registerControlRoutes(app: FastifyInstance, org: SalesforceOrg, onChange: () => void): void {
  const ui = (): DmlContext => org.uiContext();
  const p = CONTROL_PREFIX;

  // What a seller sees in a list view: a SOQL query through the UI, never counted as an API call.
  app.get<{ Querystring: { q?: string } }>(`${p}/ui/query`, async (request, reply) => {
    try {
      const soql = request.query.q;
      if (!soql)
        return reply.code(400).send([{ message: 'Pass the SOQL as ?q=…', errorCode: 'MALFORMED_QUERY' }]);
      const result = runQuery(ui(), soql, { includeDeleted: false, apiVersion: LATEST_API_VERSION });
      return { totalSize: result.totalSize, done: true, records: result.records };
    } catch (error) {
      return sendError(reply, error);
    }
  });

  app.post<{ Params: { sobject: string } }>(`${p}/ui/:sobject`, async (request, reply) => {
    try {
      const ctx = ui();
      const record = createRecord(ctx, objectFromPath(ctx, request.params.sobject), request.body);
      onChange();
      return reply.code(201).send({ id: record.id, success: true, errors: [] });
    } catch (error) {
      return sendError(reply, error);
    }
  });

  app.get<{ Params: { sobject: string; id: string } }>(`${p}/ui/:sobject/:id`, async (request, reply) => {
    try {
      const ctx = ui();
      const object = objectFromPath(ctx, request.params.sobject);
      return reply.send(
        recordBody(ctx, object, recordFromPath(ctx, object, request.params.id), LATEST_API_VERSION),
      );
    } catch (error) {
      return sendError(reply, error);
    }
  });

  app.patch<{ Params: { sobject: string; id: string } }>(`${p}/ui/:sobject/:id`, async (request, reply) => {
    try {
      const ctx = ui();
      const object = objectFromPath(ctx, request.params.sobject);
      updateRecord(ctx, object, recordFromPath(ctx, object, request.params.id), request.body);
      onChange();
      return reply.code(204).send();
    } catch (error) {
      return sendError(reply, error);
    }
  });

  app.delete<{ Params: { sobject: string; id: string } }>(`${p}/ui/:sobject/:id`, async (request, reply) => {
    try {
      const ctx = ui();
      const object = objectFromPath(ctx, request.params.sobject);
      deleteRecord(ctx, object, recordFromPath(ctx, object, request.params.id));
      onChange();
      return reply.code(204).send();
    } catch (error) {
      return sendError(reply, error);
    }
  });

  app.post<{ Params: { id: string } }>(`${p}/ui/Lead/:id/convert`, async (request, reply) => {
    try {
      const result = convertLead(ui(), request.params.id, asBody(request.body));
      onChange();
      return reply.send(result);
    } catch (error) {
      return sendError(reply, error);
    }
  });

  // Merge as in the UI: `{mergeIds: [duplicate ids], fieldsFromDuplicates?: {Field: duplicateId}}` into :id.
  app.post<{ Params: { sobject: string; id: string } }>(
    `${p}/ui/:sobject/:id/merge`,
    async (request, reply) => {
      try {
        const result = mergeRecords(ui(), request.params.sobject, request.params.id, asBody(request.body));
        onChange();
        return reply.send(result);
      } catch (error) {
        return sendError(reply, error);
      }
    },
  );

  /**
   * Seeds records as the seller: `{records: [{attributes: {type}, ...fields}]}` and/or
   * `{generate: {type, count, template}}` where `{n}` in template strings becomes 1..count. All or nothing.
   */
  app.post(`${p}/seed`, async (request, reply) => {
    const body = asBody(request.body);
    const ctx = ui();
    const snapshot = org.store.snapshot();
    try {
      const ids: string[] = [];
      for (const item of Array.isArray(body['records']) ? body['records'] : []) {
        const fields = asBody(item);
        const type = asBody(fields['attributes'])['type'] ?? fields['type'];
        const { type: _type, ...rest } = fields;
        ids.push(createRecord(ctx, objectFromBody(ctx, type), rest).id);
      }
      const generate = asBody(body['generate']);
      if (generate['type']) {
        const object = objectFromBody(ctx, generate['type']);
        const count = Number(generate['count'] ?? 0);
        for (let n = 1; n <= count; n++)
          ids.push(createRecord(ctx, object, fillTemplate(asBody(generate['template']), n)).id);
      }
      onChange();
      return reply.code(201).send({ ids });
    } catch (error) {
      org.store.restore(snapshot);
      return sendError(reply, error);
    }
  });

  app.post(`${p}/faults`, async (request, reply) => {
    const body = asBody(request.body);
    const count = Number(body['count'] ?? 1);
    if (!Number.isInteger(count) || count < 1)
      return reply.code(400).send({ error: 'count must be a positive integer' });
    const spec: FaultSpec = { count };
    if (typeof body['method'] === 'string') spec.method = body['method'];
    if (typeof body['path'] === 'string') spec.path = body['path'];
    if (typeof body['status'] === 'number') spec.status = body['status'];
    if (typeof body['errorCode'] === 'string') spec.errorCode = body['errorCode'];
    if (typeof body['message'] === 'string') spec.message = body['message'];
    if (typeof body['delayMs'] === 'number') spec.delayMs = body['delayMs'];
    if (body['reset'] === true) spec.reset = true;
    org.faults.add(spec);
    return reply.code(201).send({ pending: org.faults.pending() });
  });

  // The faults not yet answered, like the other emulators' GET /faults.
  app.get(`${p}/faults`, async () => org.faults.pending());

  app.delete(`${p}/faults`, async (_request, reply) => {
    org.faults.clear();
    return reply.code(204).send();
  });

  // One counter shape on all three emulators (emulators/shared/calls.ts); `/calls` is the older view.
  app.get(`${p}/counters`, async () => org.calls.counters());
  app.delete(`${p}/counters`, async (_request, reply) => {
    org.calls.clear();
    return reply.code(204).send();
  });
  app.get(`${p}/calls`, async () => ({
    ...org.calls.summary(),
    apiUsage: { used: org.apiUsed, max: org.dailyApiLimit },
  }));

  app.delete(`${p}/calls`, async (_request, reply) => {
    org.calls.clear();
    return reply.code(204).send();
  });

  app.post(`${p}/reset`, async (_request, reply) => {
    org.reset();
    onChange();
    return reply.code(204).send();
  });

  app.post(`${p}/tokens/expire`, async () => ({ expired: org.sessions.expireAll() }));

  /**
   * `{assigned}` assigns or unassigns the shipped permission set; `readOnlyFields` / `hiddenFields`
   * (`Object.Field` names) model an org whose copy of the set was weakened, for doctor's FLS checks.
   */
  app.post(`${p}/permset`, async (request, reply) => {
    const body = asBody(request.body);
    const assigned = body['assigned'];
    if (typeof assigned !== 'boolean') return reply.code(400).send({ error: 'assigned must be a boolean' });
    const names = (value: unknown): string[] | undefined =>
      Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : undefined;
    org.permissionSetAssigned = assigned;
    org.readOnlyFields = new Set(names(body['readOnlyFields']) ?? []);
    org.hiddenFields = new Set(names(body['hiddenFields']) ?? []);
    return { assigned, readOnlyFields: [...org.readOnlyFields], hiddenFields: [...org.hiddenFields] };
  });

  /** An admin edits a picklist's values in Setup (an org that renamed the shipped values, R22):
   *  `{values: ["…"]}` replaces them; records keep what they store. */
  app.put<{ Params: { sobject: string; field: string } }>(
    `${p}/setup/picklist/:sobject/:field`,
    async (request, reply) => {
      const object = findObject(org.schema, request.params.sobject);
      const field = object?.fields.get(request.params.field);
      const values = asBody(request.body)['values'];
      if (field?.type !== 'picklist')
        return reply
          .code(404)
          .send({ error: `No picklist ${request.params.sobject}.${request.params.field}` });
      if (!Array.isArray(values) || !values.every((v) => typeof v === 'string' && v !== ''))
        return reply.code(400).send({ error: 'values must be a list of non-empty strings' });
      field.picklistValues = (values as string[]).map((value) => ({
        value,
        label: value,
        active: true,
        defaultValue: false,
      }));
      onChange();
      return { field: `${object!.name}.${field.name}`, values };
    },
  );

  app.patch(`${p}/ui-commit-lag`, async (request, reply) => {
    const ms = asBody(request.body)['ms'];
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > 600_000) {
      return reply.code(400).send({ error: 'ms must be a whole number of milliseconds from 0 to 600000' });
    }
    org.uiCommitLagMs = ms;
    return { uiCommitLagMs: ms };
  });

  app.get(`${p}/limits`, async () => ({ dailyApiLimit: org.dailyApiLimit, used: org.apiUsed }));

  app.patch(`${p}/limits`, async (request, reply) => {
    const body = asBody(request.body);
    for (const key of ['dailyApiLimit', 'used'] as const) {
      const value = body[key];
      if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 0)) {
        return reply.code(400).send({ error: `${key} must be a non-negative integer` });
      }
    }
    if (typeof body['dailyApiLimit'] === 'number') org.dailyApiLimit = body['dailyApiLimit'];
    if (typeof body['used'] === 'number') org.apiUsed = body['used'];
    return { dailyApiLimit: org.dailyApiLimit, used: org.apiUsed };
  });
}
