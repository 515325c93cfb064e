// The Web API's request handling, independent of the HTTP server so `$batch` parts run through exactly the
// same code as single requests: entity sets (CRUD, upsert by GUID or alternate key with If-Match /
// If-None-Match), the Win/Lose/QualifyLead/Merge actions, WhoAmI, and the metadata doctor reads.
import { badRequest, CODES, DataverseError, notFound } from './errors.ts';
import { metadataRequest } from './metadata.ts';
import {
  expandRow,
  formatRow,
  listRows,
  type Prefer,
  parsePrefer,
  parseQueryOptions,
  type QueryContext,
} from './query.ts';
import { navigationNames, type Table } from './schema.ts';
import { type DataverseStore, etagOf, parseKey, type Row, type WriteContext } from './store.ts';

export const API_PATH = '/api/data/v9.2/';

export interface ApiRequest {
  method: string;
  url: URL;
  headers: Record<string, string | undefined>;
  body: unknown;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

export interface ApiContext {
  store: DataverseStore;
  /** Organisation URL without a trailing slash. */
  orgUrl: string;
  userId: string;
  organizationId: string;
  contentIds?: Map<string, string>;
  changeTokenExpiryMs: number;
}

const SEGMENT = /^([A-Za-z_][A-Za-z0-9_.]*)(?:\((.*)\))?$/;

function splitPath(path: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote = false;
  let start = 0;
  for (let i = 0; i < path.length; i++) {
    const ch = path[i];
    if (ch === "'") quote = !quote;
    else if (!quote && ch === '(') depth++;
    else if (!quote && ch === ')') depth--;
    else if (!quote && depth === 0 && ch === '/') {
      parts.push(path.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(path.slice(start));
  return parts.filter((p) => p !== '');
}

function bodyObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('The request body must be a JSON object.', CODES.invalidPayload);
  }
  return body as Record<string, unknown>;
}

export async function handleApi(ctx: ApiContext, request: ApiRequest): Promise<ApiResponse> {
  const apiBase = `${ctx.orgUrl}${API_PATH}`;
  const rel = decodeURIComponent(request.url.pathname.slice(API_PATH.length));
  const prefer = parsePrefer(request.headers.prefer);
  const query: QueryContext = { store: ctx.store, apiBase, annotations: prefer.annotations };
  const segments = splitPath(rel);
  const head = SEGMENT.exec(segments[0] ?? '');
  if (!head)
    throw new DataverseError(404, CODES.queryNotSupported, `Resource not found for the segment '${rel}'.`);
  const [, name, key] = head as unknown as [string, string, string | undefined];
  const write: WriteContext = {
    userId: ctx.userId,
    ...(ctx.contentIds ? { contentIds: ctx.contentIds } : {}),
  };
  const method = request.method.toUpperCase();

  if (name === 'EntityDefinitions' || name === 'GlobalOptionSetDefinitions') {
    return metadataRequest(
      ctx.store,
      apiBase,
      name,
      key,
      segments.slice(1),
      request.url.searchParams,
      method,
    );
  }
  if (name === 'WhoAmI') {
    allow(method, ['GET']);
    return json(200, {
      '@odata.context': `${apiBase}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
      BusinessUnitId: ctx.organizationId,
      UserId: ctx.userId,
      OrganizationId: ctx.organizationId,
    });
  }
  if (name === 'Merge') {
    allow(method, ['POST']);
    await mergeRecords(ctx, write, bodyObject(request.body));
    return { status: 204, headers: {} };
  }
  if (name === 'WinOpportunity' || name === 'LoseOpportunity') {
    allow(method, ['POST']);
    await closeOpportunity(ctx, write, name === 'WinOpportunity', bodyObject(request.body));
    return { status: 204, headers: {} };
  }

  const table = ctx.store.tableBySet(name);
  if (segments.length > 1) {
    if (key === undefined)
      throw badRequest(`'${segments[1]}' needs a record: ${name}(<guid>)/${segments[1]}.`);
    return recordPath(ctx, query, table, key, segments.slice(1), method, request, write);
  }
  if (key === undefined) {
    if (method === 'GET') {
      const options = parseQueryOptions(request.url.searchParams);
      const result = listRows(query, table, options, prefer, request.url, ctx.changeTokenExpiryMs);
      return { status: result.status, headers: result.headers, body: result.body };
    }
    if (method === 'POST') {
      const row = ctx.store.create(table, bodyObject(request.body), write);
      return created(query, table, row, prefer, request.url.searchParams);
    }
    allow(method, ['GET', 'POST']);
  }
  const ref = parseKey(key!, table);
  switch (method) {
    case 'GET': {
      const row = ctx.store.find(table, ref);
      if (!row) throw notFound(table.name, key!);
      const ifNoneMatch = request.headers['if-none-match'];
      const options = parseQueryOptions(request.url.searchParams);
      if (
        ifNoneMatch &&
        ifNoneMatch !== 'null' &&
        ifNoneMatch === etagOf(row) &&
        !options.expand &&
        !prefer.annotations
      ) {
        return { status: 304, headers: {} };
      }
      const formatted = formatRow(query, table, row, options.select);
      expandRow(query, table, row, formatted, options.expand);
      return json(200, {
        '@odata.context': `${apiBase}$metadata#${table.entitySet}/$entity`,
        ...formatted,
      });
    }
    case 'PATCH': {
      const body = bodyObject(request.body);
      const existing = ctx.store.find(table, ref);
      const ifMatch = request.headers['if-match'];
      const ifNoneMatch = request.headers['if-none-match'];
      let row: Row;
      if (existing) {
        if (ifNoneMatch === '*') {
          throw new DataverseError(
            412,
            CODES.duplicateKey,
            'A record with matching key values already exists.',
          );
        }
        row = ctx.store.update(table, String(existing[table.primaryId]), body, write, ifMatch);
      } else {
        if (ifMatch) throw notFound(table.name, key!);
        // Upsert creating by alternate key: the key's values become the row's columns.
        const keyColumns = 'key' in ref ? ref.key : {};
        row = ctx.store.create(table, { ...keyColumns, ...body }, write, 'id' in ref ? ref.id : undefined);
      }
      if (prefer.returnRepresentation) {
        const options = parseQueryOptions(request.url.searchParams);
        return json(200, {
          '@odata.context': `${apiBase}$metadata#${table.entitySet}/$entity`,
          ...formatRow(query, table, row, options.select),
        });
      }
      return { status: 204, headers: { 'OData-EntityId': entityUrl(apiBase, table, row) } };
    }
    case 'DELETE': {
      const row = ctx.store.find(table, ref);
      if (!row) throw notFound(table.name, key!);
      ctx.store.remove(table, String(row[table.primaryId]), request.headers['if-match']);
      return { status: 204, headers: {} };
    }
    default:
      allow(method, ['GET', 'PATCH', 'DELETE']);
      return { status: 405, headers: {} };
  }
}

async function recordPath(
  ctx: ApiContext,
  query: QueryContext,
  table: Table,
  key: string,
  rest: string[],
  method: string,
  request: ApiRequest,
  write: WriteContext,
): Promise<ApiResponse> {
  const row = ctx.store.find(table, parseKey(key, table));
  if (!row) throw notFound(table.name, key);
  const id = String(row[table.primaryId]);
  const [first, second] = rest;
  if (first === 'Microsoft.Dynamics.CRM.QualifyLead' && table.name === 'lead') {
    allow(method, ['POST']);
    const created = await qualifyLead(ctx, write, row, bodyObject(request.body));
    return json(200, {
      '@odata.context': `${query.apiBase}$metadata#Collection(Microsoft.Dynamics.CRM.crmbaseentity)`,
      value: created.map(({ table: t, row: r }) => ({
        '@odata.type': `#Microsoft.Dynamics.CRM.${t.name}`,
        ...formatRow(query, t, r),
      })),
    });
  }
  if (method === 'DELETE' && second === '$ref' && first) {
    const column = [...table.columns.values()].find(
      (c) =>
        c.kind === 'lookup' &&
        (c.schemaName === first || c.name === first || first.startsWith(`${c.schemaName}_`)),
    );
    if (!column) throw badRequest(`'${first}' is not a single-valued navigation property of ${table.name}.`);
    const bind =
      column.targets && column.targets.length > 1
        ? `${column.schemaName}_${column.targets[0]}`
        : column.schemaName;
    ctx.store.update(table, id, { [`${bind}@odata.bind`]: null }, write);
    return { status: 204, headers: {} };
  }
  if (method === 'DELETE' && first && !second) {
    const column = table.columns.get(first);
    if (!column || column.kind === 'lookup')
      throw badRequest(`'${first}' is not a column of ${table.name} that can be cleared.`);
    ctx.store.update(table, id, { [first]: null }, write);
    return { status: 204, headers: {} };
  }
  if (method === 'GET' && first && !second) {
    const column = table.columns.get(first);
    if (!column)
      throw badRequest(
        `Could not find a property named '${first}' on type 'Microsoft.Dynamics.CRM.${table.name}'.`,
      );
    const value = formatRow(query, table, row, [column.kind === 'lookup' ? `_${first}_value` : first]);
    return json(200, {
      '@odata.context': `${query.apiBase}$metadata#${table.entitySet}(${id})/${first}`,
      value: value[first] ?? value[`_${first}_value`],
    });
  }
  throw new DataverseError(
    404,
    CODES.queryNotSupported,
    `Resource not found for the segment '${rest.join('/')}'.`,
  );
}

function created(
  query: QueryContext,
  table: Table,
  row: Row,
  prefer: Prefer,
  params: URLSearchParams,
): ApiResponse {
  const headers = { 'OData-EntityId': entityUrl(query.apiBase, table, row) };
  if (!prefer.returnRepresentation) return { status: 204, headers };
  const options = parseQueryOptions(params);
  return {
    status: 201,
    headers: { ...headers, 'Preference-Applied': 'return=representation' },
    body: {
      '@odata.context': `${query.apiBase}$metadata#${table.entitySet}/$entity`,
      ...formatRow(query, table, row, options.select),
    },
  };
}

export function entityUrl(apiBase: string, table: Table, row: Row): string {
  return `${apiBase}${table.entitySet}(${row[table.primaryId]})`;
}

function json(status: number, body: unknown): ApiResponse {
  return { status, headers: {}, body };
}

function allow(method: string, methods: string[]): void {
  if (!methods.includes(method)) {
    throw new DataverseError(
      405,
      CODES.queryNotSupported,
      `The HTTP method '${method}' is not allowed here (${methods.join(', ')}).`,
    );
  }
}

/** WinOpportunity / LoseOpportunity: an opportunityclose activity plus the state change, atomically. */
async function closeOpportunity(
  ctx: ApiContext,
  write: WriteContext,
  won: boolean,
  body: Record<string, unknown>,
): Promise<void> {
  const status = body.Status;
  const close = body.OpportunityClose;
  if (typeof status !== 'number' || typeof close !== 'object' || close === null) {
    throw badRequest(
      `${won ? 'WinOpportunity' : 'LoseOpportunity'} needs {"Status": <statuscode>, "OpportunityClose": {"subject": "…", "opportunityid@odata.bind": "/opportunities(<guid>)"}}.`,
    );
  }
  const opportunities = ctx.store.table('opportunity');
  const closes = ctx.store.table('opportunityclose');
  const allowed = opportunities.states![won ? 1 : 2]!;
  if (!allowed.includes(status)) {
    throw badRequest(
      `${status} is not a valid status code for state code OpportunityState.${won ? 'Won' : 'Lost'}. Valid: ${allowed.join(', ')}.`,
    );
  }
  await ctx.store.atomically(async () => {
    const activity = ctx.store.create(closes, close as Record<string, unknown>, write);
    const link = activity.opportunityid;
    if (!link || typeof link !== 'object')
      throw badRequest('OpportunityClose needs "opportunityid@odata.bind".');
    const opportunity = ctx.store.get(opportunities, link.id)!;
    if (opportunity.statecode !== 0) {
      throw badRequest(
        'The opportunity is already closed. Reopen it before closing it again.',
        CODES.invalidArgument,
      );
    }
    ctx.store.platformUpdate(
      opportunities,
      link.id,
      {
        statecode: won ? 1 : 2,
        statuscode: status,
        actualvalue:
          typeof activity.actualrevenue === 'number'
            ? activity.actualrevenue
            : (opportunity.estimatedvalue ?? null),
        actualclosedate:
          typeof activity.actualend === 'string'
            ? activity.actualend
            : ctx.store.now().toISOString().slice(0, 10),
      },
      write,
    );
  });
}

/** The tables Merge takes, and the state a merged subordinate ends in (deactivated; a lead is canceled). */
const MERGE_STATES: Record<string, { statecode: number; statuscode: number }> = {
  account: { statecode: 1, statuscode: 2 },
  contact: { statecode: 1, statuscode: 2 },
  lead: { statecode: 2, statuscode: 7 },
};

/**
 * Merge: the subordinate's child records move to the target, `UpdateContent` is written to the target, and the
 * subordinate is deactivated with `masterid` pointing at the target (it is not deleted, unlike Salesforce).
 */
async function mergeRecords(
  ctx: ApiContext,
  write: WriteContext,
  body: Record<string, unknown>,
): Promise<void> {
  const target = bodyObject(body.Target);
  const subordinate = bodyObject(body.Subordinate);
  const type = String(target['@odata.type'] ?? '').replace(/^#?Microsoft\.Dynamics\.CRM\./, '');
  const state = MERGE_STATES[type];
  if (!state)
    throw badRequest(
      `Merge needs {"Target": {"@odata.type": "Microsoft.Dynamics.CRM.<account|contact|lead>", "<id>": "<guid>"}, "Subordinate": {…}, "UpdateContent": {…}, "PerformParentingChecks": false}.`,
    );
  const table = ctx.store.table(type);
  const targetId = String(target[table.primaryId] ?? '');
  const subordinateId = String(subordinate[table.primaryId] ?? '');
  const master = ctx.store.get(table, targetId);
  const merged = ctx.store.get(table, subordinateId);
  if (!master) throw notFound(table.name, targetId);
  if (!merged) throw notFound(table.name, subordinateId);
  if (targetId === subordinateId) throw badRequest('The target and the subordinate are the same record.');
  if (merged.statecode !== 0 || master.statecode !== 0)
    throw badRequest('Only active records can be merged.', CODES.invalidArgument);
  const update = body.UpdateContent === undefined ? {} : bodyObject(body.UpdateContent);
  const { '@odata.type': _type, ...content } = update;
  await ctx.store.atomically(async () => {
    for (const other of ctx.store.schema.tables.values()) {
      const lookups = [...other.columns.values()].filter(
        (c) => c.kind === 'lookup' && c.name !== 'masterid' && c.targets?.includes(type),
      );
      if (lookups.length === 0) continue;
      for (const row of ctx.store.all(other)) {
        for (const column of lookups) {
          const value = row[column.name];
          if (typeof value !== 'object' || value === null || value.id !== subordinateId) continue;
          const nav = navigationNames(column).find((n) => n.target === type)!.nav;
          ctx.store.platformUpdate(
            other,
            String(row[other.primaryId]),
            { [`${nav}@odata.bind`]: `/${table.entitySet}(${targetId})` },
            write,
          );
        }
      }
    }
    ctx.store.platformUpdate(table, targetId, content, write);
    ctx.store.platformUpdate(
      table,
      subordinateId,
      { ...state, 'masterid@odata.bind': `/${table.entitySet}(${targetId})` },
      write,
    );
  });
}

/** QualifyLead: marks the lead Qualified and creates what was asked (account, contact, opportunity) from it. */
async function qualifyLead(
  ctx: ApiContext,
  write: WriteContext,
  lead: Row,
  body: Record<string, unknown>,
): Promise<{ table: Table; row: Row }[]> {
  const leads = ctx.store.table('lead');
  const status = typeof body.Status === 'number' ? body.Status : 3;
  if (lead.statecode !== 0) throw badRequest('The lead is already closed (qualified or disqualified).');
  return ctx.store.atomically(async () => {
    const out: { table: Table; row: Row }[] = [];
    let accountId: string | undefined;
    let contactId: string | undefined;
    if (body.CreateAccount === true && lead.companyname) {
      const accounts = ctx.store.table('account');
      const account = ctx.store.create(
        accounts,
        pick(
          lead,
          [
            'address1_line1',
            'address1_city',
            'address1_stateorprovince',
            'address1_postalcode',
            'address1_country',
          ],
          { name: lead.companyname },
        ),
        write,
      );
      accountId = String(account.accountid);
      out.push({ table: accounts, row: account });
    }
    if (body.CreateContact === true && lead.lastname) {
      const contacts = ctx.store.table('contact');
      const contact = ctx.store.create(
        contacts,
        {
          ...pick(lead, ['firstname', 'lastname', 'emailaddress1', 'telephone1', 'jobtitle'], {}),
          ...(accountId ? { 'parentcustomerid_account@odata.bind': `/accounts(${accountId})` } : {}),
        },
        write,
      );
      contactId = String(contact.contactid);
      out.push({ table: contacts, row: contact });
    }
    let opportunityId: string | undefined;
    if (body.CreateOpportunity === true) {
      const opportunities = ctx.store.table('opportunity');
      const customer = accountId
        ? {
            'customerid_account@odata.bind': `/accounts(${accountId})`,
            'parentaccountid@odata.bind': `/accounts(${accountId})`,
          }
        : typeof lead.parentaccountid === 'object' && lead.parentaccountid
          ? {
              'customerid_account@odata.bind': `/accounts(${lead.parentaccountid.id})`,
              'parentaccountid@odata.bind': `/accounts(${lead.parentaccountid.id})`,
            }
          : {};
      const opportunity = ctx.store.create(
        opportunities,
        {
          name: lead.subject,
          ...(typeof lead.estimatedamount === 'number' ? { estimatedvalue: lead.estimatedamount } : {}),
          ...(typeof lead.estimatedclosedate === 'string'
            ? { estimatedclosedate: lead.estimatedclosedate }
            : {}),
          ...(typeof lead.description === 'string' ? { description: lead.description } : {}),
          ...customer,
          ...(contactId ? { 'parentcontactid@odata.bind': `/contacts(${contactId})` } : {}),
          'originatingleadid@odata.bind': `/leads(${lead.leadid})`,
        },
        write,
      );
      opportunityId = String(opportunity.opportunityid);
      out.push({ table: opportunities, row: opportunity });
    }
    ctx.store.platformUpdate(
      leads,
      String(lead.leadid),
      {
        statecode: 1,
        statuscode: status,
        ...(opportunityId
          ? { 'qualifyingopportunityid@odata.bind': `/opportunities(${opportunityId})` }
          : {}),
      },
      write,
    );
    return out;
  });
}

function pick(row: Row, columns: string[], extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...extra };
  for (const c of columns) if (row[c] !== undefined && row[c] !== null) out[c] = row[c];
  return out;
}
