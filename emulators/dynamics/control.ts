// The control API under `{url}/_emulator` (no auth, never counted as API calls): a seller working in the UI
// (same validation and timestamps as the API), win/lose/qualify as a seller, environment variable values,
// security roles, faults, call counters, service-protection limits, the clock, reset and seed.

import { X509Certificate } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { type ApiResponse, handleApi } from './api.ts';
import { CODES, DataverseError } from './errors.ts';
import { addCustomColumn, addCustomTable, type CustomColumnSpec, type CustomTableSpec } from './schema.ts';
import type { DynamicsEmulator } from './server.ts';

const faultSchema = z.object({
  method: z.string().trim().toUpperCase().optional(),
  path: z.string().optional(),
  status: z.number().int().min(100).max(599).optional(),
  code: z.string().optional(),
  message: z.string().optional(),
  count: z.number().int().min(1).default(1),
  retryAfter: z.number().int().min(0).optional(),
  delayMs: z.number().int().min(0).max(120_000).optional(),
  /** Close the connection without an answer (after any delay). */
  reset: z.boolean().optional(),
});

const limitsSchema = z.object({
  requestsPerWindow: z.number().int().positive().optional(),
  executionMsPerWindow: z.number().int().positive().optional(),
  concurrent: z.number().int().positive().optional(),
  windowMs: z.number().int().positive().optional(),
});

function send(reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof DataverseError) return reply.code(error.status).send(error.body());
  throw error;
}

export function registerControlRoutes(
  app: FastifyInstance,
  emulator: DynamicsEmulator,
  prefix: string,
): void {
  /** Runs a request as the seller in the UI would: same handling, no token, not counted. */
  const ui = async (method: string, path: string, body?: unknown): Promise<ApiResponse> =>
    handleApi(emulator.apiContext(), {
      method,
      url: new URL(`/api/data/v9.2/${path}`, emulator.orgUrl),
      headers: { prefer: 'return=representation' },
      body,
    });
  const reply200 = (reply: FastifyReply, response: ApiResponse) =>
    reply.code(response.status === 201 ? 201 : response.status).send(response.body ?? null);

  app.get(`${prefix}/info`, async () => ({
    prefix: emulator.prefix,
    orgUrl: emulator.orgUrl,
    userId: emulator.userId,
  }));

  app.post(`${prefix}/ui/:set`, async (request, reply) => {
    const { set } = request.params as { set: string };
    try {
      return reply200(reply, await ui('POST', set, request.body ?? {}));
    } catch (error) {
      return send(reply, error);
    }
  });
  app.get(`${prefix}/ui/:set`, async (request, reply) => {
    const { set } = request.params as { set: string };
    const query = new URL(request.url, emulator.orgUrl).search;
    try {
      return reply200(reply, await ui('GET', `${set}${query}`));
    } catch (error) {
      return send(reply, error);
    }
  });
  app.get(`${prefix}/ui/:set/:id`, async (request, reply) => {
    const { set, id } = request.params as { set: string; id: string };
    try {
      return reply200(reply, await ui('GET', `${set}(${id})`));
    } catch (error) {
      return send(reply, error);
    }
  });
  app.patch(`${prefix}/ui/:set/:id`, async (request, reply) => {
    const { set, id } = request.params as { set: string; id: string };
    try {
      const table = emulator.store.tableBySet(set);
      if (!emulator.store.get(table, id))
        throw new DataverseError(404, CODES.notFound, `${table.name} With Id = ${id} Does Not Exist`);
      return reply200(reply, await ui('PATCH', `${set}(${id})`, request.body ?? {}));
    } catch (error) {
      return send(reply, error);
    }
  });
  app.delete(`${prefix}/ui/:set/:id`, async (request, reply) => {
    const { set, id } = request.params as { set: string; id: string };
    try {
      await ui('DELETE', `${set}(${id})`);
      return reply.code(204).send();
    } catch (error) {
      return send(reply, error);
    }
  });
  app.post(`${prefix}/ui/opportunities/:id/:outcome`, async (request, reply) => {
    const { id, outcome } = request.params as { id: string; outcome: string };
    if (outcome !== 'win' && outcome !== 'lose')
      return reply.code(404).send({ error: { code: '', message: 'Use /win or /lose.' } });
    const body = (request.body ?? {}) as { status?: number; revenue?: number; subject?: string };
    try {
      await ui(
        outcome === 'win' ? 'POST' : 'POST',
        outcome === 'win' ? 'WinOpportunity' : 'LoseOpportunity',
        {
          Status: body.status ?? (outcome === 'win' ? 3 : 4),
          OpportunityClose: {
            subject: body.subject ?? (outcome === 'win' ? 'Won by the seller' : 'Lost by the seller'),
            'opportunityid@odata.bind': `/opportunities(${id})`,
            ...(body.revenue !== undefined ? { actualrevenue: body.revenue } : {}),
          },
        },
      );
      return reply.code(204).send();
    } catch (error) {
      return send(reply, error);
    }
  });
  app.post(`${prefix}/ui/leads/:id/qualify`, async (request, reply) => {
    const { id } = request.params as { id: string };
    try {
      const response = await ui('POST', `leads(${id})/Microsoft.Dynamics.CRM.QualifyLead`, {
        CreateAccount: false,
        CreateContact: false,
        CreateOpportunity: true,
        Status: 3,
        ...((request.body ?? {}) as object),
      });
      return reply.code(200).send(response.body);
    } catch (error) {
      return send(reply, error);
    }
  });

  // Merge as a seller does it in the UI: `{subordinateId, updateContent?}` into the record :id of :set.
  app.post(`${prefix}/ui/:set/:id/merge`, async (request, reply) => {
    const { set, id } = request.params as { set: string; id: string };
    const body = (request.body ?? {}) as { subordinateId?: string; updateContent?: Record<string, unknown> };
    try {
      const table = emulator.store.tableBySet(set);
      const type = `Microsoft.Dynamics.CRM.${table.name}`;
      await ui('POST', 'Merge', {
        Target: { '@odata.type': type, [table.primaryId]: id },
        Subordinate: { '@odata.type': type, [table.primaryId]: body.subordinateId },
        UpdateContent: { '@odata.type': type, ...(body.updateContent ?? {}) },
        PerformParentingChecks: false,
      });
      return reply.code(204).send();
    } catch (error) {
      return send(reply, error);
    }
  });

  // An admin adds a custom table (`{name, entitySet, primaryName, columns: [{name, kind, target?, schemaName?}]}`)
  // or a column of an existing one, as in Power Apps: e.g. a country table and the account's lookup to it.
  app.post(`${prefix}/setup/tables`, async (request, reply) => {
    try {
      const table = addCustomTable(emulator.store.schema, request.body as CustomTableSpec);
      emulator.store.registerTable(table);
      return reply
        .code(201)
        .send({ name: table.name, entitySet: table.entitySet, primaryId: table.primaryId });
    } catch (error) {
      return reply.code(400).send({ error: { code: '', message: (error as Error).message } });
    }
  });
  app.post(`${prefix}/setup/tables/:name/columns`, async (request, reply) => {
    const { name } = request.params as { name: string };
    try {
      const column = addCustomColumn(emulator.store.schema, name, request.body as CustomColumnSpec);
      return reply.code(201).send({ table: name, column: column.name, navigation: column.schemaName });
    } catch (error) {
      return reply.code(400).send({ error: { code: '', message: (error as Error).message } });
    }
  });

  // An admin edits a choice's options (an environment that renumbered the shipped ones, R22):
  // `{options: [{value, label}]}` replaces them; rows keep what they store.
  app.put(`${prefix}/setup/choices/:name`, async (request, reply) => {
    const { name } = request.params as { name: string };
    const choice = emulator.store.schema.solution?.choices.find((c) => c.name === name);
    const options = ((request.body ?? {}) as { options?: unknown }).options;
    if (!choice) return reply.code(404).send({ error: { code: '', message: `No choice ${name}.` } });
    const valid =
      Array.isArray(options) &&
      options.every(
        (o) =>
          Number.isInteger((o as { value?: unknown }).value) &&
          typeof (o as { label?: unknown }).label === 'string',
      );
    if (!valid)
      return reply
        .code(400)
        .send({ error: { code: '', message: 'options must be [{"value": <int>, "label": "…"}].' } });
    // In place: the columns bound to the choice share its option list.
    choice.options.splice(0, choice.options.length, ...(options as { value: number; label: string }[]));
    return { name, options: choice.options };
  });

  app.put(`${prefix}/environment-variables/:schemaname`, async (request, reply) => {
    const { schemaname } = request.params as { schemaname: string };
    const { value } = (request.body ?? {}) as { value?: string | null };
    const store = emulator.store;
    const definitions = store.table('environmentvariabledefinition');
    const definition = store
      .all(definitions)
      .find((row) => String(row.schemaname).toLowerCase() === schemaname.toLowerCase());
    if (!definition) {
      return reply.code(404).send({
        error: {
          code: CODES.notFound,
          message: `No environment variable definition '${schemaname}' (import the solution first).`,
        },
      });
    }
    const values = store.table('environmentvariablevalue');
    const defId = String(definition.environmentvariabledefinitionid);
    const existing = store
      .all(values)
      .find(
        (row) =>
          typeof row.environmentvariabledefinitionid === 'object' &&
          row.environmentvariabledefinitionid?.id === defId,
      );
    const system = { userId: emulator.userId };
    if (value === null || value === undefined) {
      if (existing) store.remove(values, String(existing.environmentvariablevalueid));
      return reply.code(204).send();
    }
    if (existing) store.update(values, String(existing.environmentvariablevalueid), { value }, system);
    else
      store.create(
        values,
        {
          value,
          schemaname: definition.schemaname,
          'EnvironmentVariableDefinitionId@odata.bind': `/environmentvariabledefinitions(${defId})`,
        },
        system,
      );
    return reply.code(204).send();
  });

  app.put(`${prefix}/users/application/roles`, async (request, reply) => {
    const { roles } = (request.body ?? {}) as { roles?: string[] };
    if (!Array.isArray(roles))
      return reply
        .code(400)
        .send({ error: { code: '', message: 'Send {"roles": ["System Administrator", …]}.' } });
    const roleTable = emulator.store.table('role');
    emulator.store.userRoles.set(emulator.userId.toLowerCase(), new Set());
    for (const name of roles) {
      const role = emulator.store.all(roleTable).find((r) => r.name === name);
      if (!role)
        return reply.code(400).send({ error: { code: '', message: `No security role named '${name}'.` } });
      emulator.store.grantRole(emulator.userId, String(role.roleid));
    }
    return reply.code(204).send();
  });

  app.put(`${prefix}/app-certificate`, async (request, reply) => {
    const { pem } = (request.body ?? {}) as { pem?: string };
    try {
      emulator.appCertificate = new X509Certificate(String(pem));
      return reply.code(204).send();
    } catch {
      return reply
        .code(400)
        .send({ error: { code: '', message: 'Send {"pem": "-----BEGIN CERTIFICATE-----…"}.' } });
    }
  });

  app.post(`${prefix}/faults`, async (request, reply) => {
    const parsed = faultSchema.safeParse(request.body ?? {});
    if (!parsed.success)
      return reply.code(400).send({
        error: {
          code: '',
          message: `Fault must be {method?, path?, status?, code?, message?, count, retryAfter?, delayMs?, reset?}: ${parsed.error.message}`,
        },
      });
    if (parsed.data.status === undefined && parsed.data.delayMs === undefined && !parsed.data.reset) {
      return reply
        .code(400)
        .send({ error: { code: '', message: 'A fault needs a status, a delayMs or reset.' } });
    }
    const fault = emulator.faults.add(
      Object.fromEntries(
        Object.entries(parsed.data).filter(([, v]) => v !== undefined),
      ) as typeof parsed.data,
    );
    return reply.code(201).send(fault);
  });
  app.get(`${prefix}/faults`, async () => emulator.faults.list());
  app.delete(`${prefix}/faults`, async (_request, reply) => {
    emulator.faults.clear();
    return reply.code(204).send();
  });

  // One counter shape on all three emulators (emulators/shared/calls.ts); `/calls` is the older view.
  app.get(`${prefix}/counters`, async () => emulator.calls.counters());
  app.delete(`${prefix}/counters`, async (_request, reply) => {
    emulator.calls.clear();
    return reply.code(204).send();
  });
  app.get(`${prefix}/calls`, async () => {
    const summary = emulator.calls.summary();
    return { apiCalls: summary.apiCalls, byEndpoint: summary.byEndpoint };
  });
  app.delete(`${prefix}/calls`, async (_request, reply) => {
    emulator.calls.clear();
    return reply.code(204).send();
  });

  app.get(`${prefix}/limits`, async () => emulator.limits.status(Date.now()));
  app.put(`${prefix}/limits`, async (request, reply) => {
    const parsed = limitsSchema.safeParse(request.body ?? {});
    if (!parsed.success) return reply.code(400).send({ error: { code: '', message: parsed.error.message } });
    emulator.limits.config = {
      ...emulator.limits.config,
      ...Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined)),
    };
    emulator.limits.reset();
    return emulator.limits.status(Date.now());
  });

  app.post(`${prefix}/clock`, async (request, reply) => {
    const { advanceMs } = (request.body ?? {}) as { advanceMs?: number };
    if (typeof advanceMs !== 'number' || advanceMs < 0)
      return reply
        .code(400)
        .send({ error: { code: '', message: 'Send {"advanceMs": <non-negative number>}.' } });
    emulator.store.clockOffsetMs += advanceMs;
    return { now: emulator.store.now().toISOString() };
  });

  app.post(`${prefix}/reset`, async (_request, reply) => {
    await emulator.reset();
    return reply.code(204).send();
  });

  app.post(`${prefix}/seed`, async (request, reply) => {
    const body = (request.body ?? {}) as {
      rows?: Record<string, Record<string, unknown>[]>;
      generate?: { opportunities?: number };
    };
    const created: Record<string, string[]> = {};
    try {
      await emulator.store.atomically(async () => {
        for (const [set, rows] of Object.entries(body.rows ?? {})) {
          const table = emulator.store.tableBySet(set);
          for (const row of rows) {
            const saved = emulator.store.create(table, row, {
              userId: emulator.userId,
              stateChangeAllowed: true,
            });
            created[set] = [...(created[set] ?? []), String(saved[table.primaryId])];
          }
        }
        const n = body.generate?.opportunities ?? 0;
        const table = emulator.store.table('opportunity');
        for (let i = 1; i <= n; i++) {
          const saved = emulator.store.create(
            table,
            { name: `Generated opportunity ${i}`, estimatedvalue: 1000 * i },
            { userId: emulator.userId },
          );
          created.opportunities = [...(created.opportunities ?? []), String(saved.opportunityid)];
        }
      });
    } catch (error) {
      return send(reply, error);
    }
    return reply.code(201).send({ created });
  });
}
