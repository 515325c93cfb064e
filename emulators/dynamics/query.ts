// Reading as the Web API does: a row's JSON (`@odata.etag`, `_x_value` lookups, annotations on request),
// `$select`, `$filter`, `$orderby`, `$top`, `$expand` (with `$select`/`$filter`/`$orderby`/`$top` inside, and nested
// `$expand`, where a collection's `$orderby`/`$top` are refused as Dataverse refuses them), `$count`,
// paging by `Prefer: odata.maxpagesize` with an opaque `@odata.nextLink`, and change tracking
// (`Prefer: odata.track-changes` → `@odata.deltaLink`, `$deletedEntity` rows). `$skip` is refused as Dataverse
// refuses it.
import { compileFilter, compileOrderBy, equalities, ODataSyntaxError } from '../shared/odata.ts';
import { badRequest, CODES, DataverseError } from './errors.ts';
import type { Column, Relationship, Table } from './schema.ts';
import { type DataverseStore, etagOf, type LookupValue, type Row } from './store.ts';

export const MAX_PAGE_SIZE = 5000;

export interface QueryContext {
  store: DataverseStore;
  /** `{url}/api/data/v9.2/` */
  apiBase: string;
  annotations: boolean;
}

const isLookup = (v: unknown): v is LookupValue => typeof v === 'object' && v !== null;

/** A row as the Web API returns it: every column (lookups as `_x_value`), or only `select`. */
export function formatRow(
  ctx: QueryContext,
  table: Table,
  row: Row,
  select?: string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = { '@odata.etag': etagOf(row) };
  const wanted = select ? new Set(select) : undefined;
  for (const column of table.columns.values()) {
    const value = row[column.name];
    if (column.kind === 'lookup') {
      const key = `_${column.name}_value`;
      if (wanted && !wanted.has(key) && !wanted.has(column.name)) continue;
      out[key] = isLookup(value) ? value.id : null;
      if (ctx.annotations && isLookup(value)) {
        out[`${key}@Microsoft.Dynamics.CRM.lookuplogicalname`] = value.table;
        const target = ctx.store.schema.tables.get(value.table);
        const related = target ? ctx.store.get(target, value.id) : undefined;
        if (related && target)
          out[`${key}@OData.Community.Display.V1.FormattedValue`] = related[target.primaryName];
      }
      continue;
    }
    if (wanted && !wanted.has(column.name) && column.name !== table.primaryId) continue;
    out[column.name] = value === undefined ? null : value;
    if (ctx.annotations && column.kind === 'choice' && typeof value === 'number') {
      const label = column.options?.find((o) => o.value === value)?.label;
      if (label) out[`${column.name}@OData.Community.Display.V1.FormattedValue`] = label;
    }
  }
  return out;
}

/** `a,b($select=x;$top=1),c` → top-level items, respecting parentheses. */
export function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === separator && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter(Boolean);
}

export interface QueryOptions {
  select?: string[];
  filter?: string;
  orderby?: string;
  top?: number;
  expand?: ExpandItem[];
  count?: boolean;
  skiptoken?: string;
  deltatoken?: string;
}

interface ExpandItem {
  nav: string;
  options: QueryOptions;
}

const KNOWN = new Set([
  '$select',
  '$filter',
  '$orderby',
  '$top',
  '$expand',
  '$count',
  '$skiptoken',
  '$deltatoken',
]);

export function parseQueryOptions(
  params: URLSearchParams | Map<string, string>,
  nested = false,
): QueryOptions {
  const options: QueryOptions = {};
  for (const [name, value] of params) {
    if (!name.startsWith('$')) continue;
    if (name === '$skip') {
      throw badRequest(
        'The query parameter $skip is not supported. Use Prefer: odata.maxpagesize and follow @odata.nextLink to page.',
        CODES.queryNotSupported,
      );
    }
    if (!KNOWN.has(name) || (nested && (name === '$skiptoken' || name === '$deltatoken'))) {
      throw badRequest(`The query parameter ${name} is not supported.`, CODES.queryNotSupported);
    }
    switch (name) {
      case '$select':
        options.select = value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        break;
      case '$filter':
        options.filter = value;
        break;
      case '$orderby':
        options.orderby = value;
        break;
      case '$top': {
        const top = Number(value);
        if (!Number.isInteger(top) || top < 0) throw badRequest(`Invalid $top value '${value}'.`);
        options.top = top;
        break;
      }
      case '$count':
        options.count = value === 'true';
        break;
      case '$skiptoken':
        options.skiptoken = value;
        break;
      case '$deltatoken':
        options.deltatoken = value;
        break;
      case '$expand':
        options.expand = splitTopLevel(value, ',').map((item) => {
          const open = item.indexOf('(');
          if (open < 0) return { nav: item, options: {} };
          if (!item.endsWith(')')) throw badRequest(`Malformed $expand item '${item}'.`);
          const inner = new Map<string, string>();
          for (const part of splitTopLevel(item.slice(open + 1, -1), ';')) {
            const eq = part.indexOf('=');
            if (eq < 0) throw badRequest(`Malformed option '${part}' in $expand.`);
            inner.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
          }
          return { nav: item.slice(0, open).trim(), options: parseQueryOptions(inner, true) };
        });
        break;
    }
  }
  return options;
}

function checkSelect(table: Table, select: string[] | undefined): void {
  for (const name of select ?? []) {
    const lookup = /^_(.+)_value$/.exec(name)?.[1];
    const column = table.columns.get(lookup ?? name);
    if (!column || (lookup && column.kind !== 'lookup')) {
      throw badRequest(
        `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.${table.name}'.`,
        CODES.queryNotSupported,
      );
    }
  }
}

function predicate(filter: string | undefined): (row: unknown) => boolean {
  if (!filter) return () => true;
  try {
    return compileFilter(filter, { caseInsensitive: true });
  } catch (error) {
    if (error instanceof ODataSyntaxError) throw badRequest(error.message, CODES.queryNotSupported);
    throw error;
  }
}

function comparator(orderby: string | undefined, primaryId: string): (a: unknown, b: unknown) => number {
  try {
    const compare = compileOrderBy(orderby ?? '');
    return (a, b) => {
      const order = compare(a, b);
      if (order !== 0) return order;
      const x = String((a as Record<string, unknown>)[primaryId]);
      const y = String((b as Record<string, unknown>)[primaryId]);
      return x < y ? -1 : x > y ? 1 : 0;
    };
  } catch (error) {
    if (error instanceof ODataSyntaxError) throw badRequest(error.message, CODES.queryNotSupported);
    throw error;
  }
}

interface NavTarget {
  /** `roles`: the systemuser ↔ role many-to-many (systemuserroles_association). */
  kind: 'single' | 'collection' | 'roles';
  column?: Column;
  relationship?: Relationship;
  table: Table;
}

function navigation(ctx: QueryContext, table: Table, nav: string): NavTarget {
  for (const column of table.columns.values()) {
    if (column.kind !== 'lookup') continue;
    const targets = column.targets ?? [];
    for (const target of targets) {
      const name = targets.length > 1 ? `${column.schemaName}_${target}` : column.schemaName;
      if (name === nav || (targets.length === 1 && column.name === nav)) {
        return { kind: 'single', column, table: ctx.store.table(target) };
      }
    }
  }
  if (nav === 'systemuserroles_association' && table.name === 'systemuser') {
    return { kind: 'roles', table: ctx.store.table('role') };
  }
  const relationship = ctx.store.schema.relationships.find(
    (r) => r.name === nav && r.referencedTable === table.name,
  );
  if (relationship)
    return { kind: 'collection', relationship, table: ctx.store.table(relationship.referencingTable) };
  throw badRequest(
    `Could not find a property named '${nav}' on type 'Microsoft.Dynamics.CRM.${table.name}'.`,
    CODES.queryNotSupported,
  );
}

/** Adds `$expand` results to a formatted row. */
export function expandRow(
  ctx: QueryContext,
  table: Table,
  row: Row,
  formatted: Record<string, unknown>,
  expand: ExpandItem[] | undefined,
): void {
  for (const item of expand ?? []) {
    const target = navigation(ctx, table, item.nav);
    checkSelect(target.table, item.options.select);
    const nested = item.options.expand;
    /** A related row as the response carries it, with its own nested `$expand`. */
    const expanded = (related: Row) => {
      const out = formatRow(ctx, target.table, related, item.options.select);
      if (nested) expandRow(ctx, target.table, related, out, nested);
      return out;
    };
    if (target.kind === 'single') {
      const value = row[target.column!.name];
      const related =
        isLookup(value) && value.table === target.table.name
          ? ctx.store.get(target.table, value.id)
          : undefined;
      formatted[item.nav] = related ? expanded(related) : null;
      continue;
    }
    if (nested && (item.options.orderby !== undefined || item.options.top !== undefined)) {
      // Dataverse: $orderby and $top are not supported inside a collection-valued $expand that nests another.
      throw badRequest(
        `The query options $orderby and $top are not supported with a nested $expand on the collection-valued navigation property '${item.nav}'.`,
        CODES.queryNotSupported,
      );
    }
    const id = String(row[table.primaryId]);
    const keep = predicate(item.options.filter);
    const granted = ctx.store.userRoles.get(id) ?? new Set<string>();
    const lookup = target.relationship?.lookup;
    const order = comparator(item.options.orderby, target.table.primaryId);
    let children = (
      target.kind === 'roles' ? ctx.store.all(target.table) : ctx.store.matching(target.table, lookup!, [id])
    )
      .filter((child) => {
        if (target.kind === 'roles') return granted.has(String(child.roleid));
        const v = child[lookup!];
        return isLookup(v) && v.id === id;
      })
      .map((child) => ({ child, out: formatRow(ctx, target.table, child, item.options.select) }))
      .filter(({ out }) => keep(out))
      .sort((a, b) => order(a.out, b.out));
    if (item.options.top !== undefined) children = children.slice(0, item.options.top);
    if (nested) for (const { child, out } of children) expandRow(ctx, target.table, child, out, nested);
    formatted[item.nav] = children.map(({ out }) => out);
  }
}

/** Column kinds whose value a filter sees as stored (text, GUIDs): an equality on them can use an index. */
const INDEXED_KINDS = new Set<Column['kind']>(['id', 'string', 'memo']);

/**
 * The rows a `$filter` can keep, narrowed by the indexes when it requires a column to equal a literal (`name eq
 * 'x'`, `_parentaccountid_value eq <guid>`, an `or` of those, across columns too); every row otherwise. The
 * filter still decides.
 */
function candidates(ctx: QueryContext, table: Table, filter: string | undefined): Row[] {
  for (const alternatives of filter ? equalities(filter) : []) {
    const indexed = alternatives.map(({ property, values }) => {
      const lookup = /^_(.+)_value$/.exec(property)?.[1];
      const column = table.columns.get(lookup ?? property);
      if (!column) return undefined;
      if (lookup ? column.kind !== 'lookup' : !INDEXED_KINDS.has(column.kind)) return undefined;
      if (!values.every((v) => typeof v === 'string')) return undefined;
      return { column: column.name, values };
    });
    if (indexed.every((i) => i !== undefined)) return ctx.store.matchingAny(table, indexed);
  }
  return ctx.store.all(table);
}

export interface Prefer {
  maxPageSize?: number;
  trackChanges: boolean;
  annotations: boolean;
  returnRepresentation: boolean;
  continueOnError: boolean;
}

export function parsePrefer(header: string | undefined): Prefer {
  const prefer: Prefer = {
    trackChanges: false,
    annotations: false,
    returnRepresentation: false,
    continueOnError: false,
  };
  for (const part of (header ?? '').split(',').map((p) => p.trim())) {
    const size = /^odata\.maxpagesize\s*=\s*(\d+)$/i.exec(part);
    if (size) prefer.maxPageSize = Number(size[1]);
    else if (/^odata\.track-changes$/i.test(part)) prefer.trackChanges = true;
    else if (/^odata\.include-annotations/i.test(part)) prefer.annotations = true;
    else if (/^return=representation$/i.test(part)) prefer.returnRepresentation = true;
    else if (/^odata\.continue-on-error$/i.test(part)) prefer.continueOnError = true;
  }
  return prefer;
}

interface Token {
  offset: number;
  /** Change-tracking version the paged query started at (for its delta link). */
  version?: number;
}

const encodeToken = (token: Token) => Buffer.from(JSON.stringify(token)).toString('base64url');
function decodeToken(text: string): Token {
  try {
    const token = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Token;
    if (typeof token.offset === 'number') return token;
  } catch {}
  throw badRequest(`The $skiptoken '${text}' is not valid: follow @odata.nextLink unchanged.`);
}

export interface ListResult {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

/** `GET /{entityset}` with query options; `url` is the request URL (for next and delta links). */
export function listRows(
  ctx: QueryContext,
  table: Table,
  options: QueryOptions,
  prefer: Prefer,
  url: URL,
  expiresAfterMs: number,
): ListResult {
  checkSelect(table, options.select);
  const headers: Record<string, string> = {};
  const applied: string[] = [];
  const pageSize = Math.min(prefer.maxPageSize ?? MAX_PAGE_SIZE, MAX_PAGE_SIZE);
  if (prefer.maxPageSize) applied.push(`odata.maxpagesize=${pageSize}`);
  if (prefer.annotations) applied.push('odata.include-annotations="*"');
  const context = `${ctx.apiBase}$metadata#${table.entitySet}${options.select ? `(${options.select.join(',')})` : ''}`;

  const tracking = prefer.trackChanges || options.deltatoken !== undefined;
  if (tracking) {
    if (!table.changeTracking) {
      throw badRequest(
        `Change tracking is not enabled for the ${table.name} table. Enable "Track changes" on the table (Power Apps: Tables > ${table.displayName} > Properties > Advanced options).`,
        CODES.queryNotSupported,
      );
    }
    for (const [option, present] of [
      ['$filter', options.filter],
      ['$orderby', options.orderby],
      ['$top', options.top],
      ['$expand', options.expand],
    ] as const) {
      if (present !== undefined) {
        throw badRequest(
          `The query parameter ${option} isn't supported when Change Tracking is enabled.`,
          CODES.queryNotSupported,
        );
      }
    }
    applied.push('odata.track-changes');
  }
  headers['Preference-Applied'] = applied.join(',');

  if (options.deltatoken !== undefined) {
    const [versionText, stamp] = options.deltatoken.split('!');
    const since = Number(versionText);
    const issued = Date.parse(stamp ?? '');
    if (!Number.isInteger(since) || Number.isNaN(issued)) {
      throw badRequest(
        `The $deltatoken '${options.deltatoken}' is not valid: use the @odata.deltaLink unchanged.`,
      );
    }
    if (ctx.store.now().getTime() - issued > expiresAfterMs) {
      throw new DataverseError(
        400,
        CODES.expiredVersionStamp,
        `Version stamp associated with the client has expired. Please perform a full sync (the delta token is older ` +
          `than the organization's ExpireChangeTrackingInDays).`,
      );
    }
    const { upserts, deleted } = ctx.store.changesSince(table, since);
    const value: Record<string, unknown>[] = upserts.map((row) => formatRow(ctx, table, row, options.select));
    for (const id of deleted) {
      value.push({
        '@odata.context': `${ctx.apiBase}$metadata#${table.entitySet}/$deletedEntity`,
        id,
        reason: 'deleted',
      });
    }
    return {
      status: 200,
      headers,
      body: {
        '@odata.context': `${context}/$delta`,
        value,
        '@odata.deltaLink': deltaLink(ctx, url, options),
      },
    };
  }

  const token = options.skiptoken ? decodeToken(options.skiptoken) : { offset: 0 };
  const version = token.version ?? ctx.store.currentVersion();
  const keep = predicate(options.filter);
  let rows = candidates(ctx, table, options.filter)
    .map((row) => ({ row, formatted: formatRow(ctx, table, row) }))
    .filter(({ formatted }) => keep(formatted));
  const order = comparator(options.orderby, table.primaryId);
  rows.sort((a, b) => order(a.formatted, b.formatted));
  if (options.top !== undefined && !prefer.maxPageSize) rows = rows.slice(0, options.top);
  const total = rows.length;
  const page = rows.slice(token.offset, token.offset + pageSize);
  const value = page.map(({ row }) => {
    const formatted = formatRow(ctx, table, row, options.select);
    expandRow(ctx, table, row, formatted, options.expand);
    return formatted;
  });
  const body: Record<string, unknown> = { '@odata.context': context };
  if (options.count) body['@odata.count'] = Math.min(total, MAX_PAGE_SIZE);
  body.value = value;
  if (token.offset + pageSize < total) {
    const next = new URL(url);
    next.searchParams.set('$skiptoken', encodeToken({ offset: token.offset + pageSize, version }));
    body['@odata.nextLink'] = next.toString();
  } else if (tracking) {
    body['@odata.deltaLink'] = deltaLink(ctx, url, options, version);
  }
  return { status: 200, headers, body };
}

function deltaLink(
  ctx: QueryContext,
  url: URL,
  options: QueryOptions,
  version = ctx.store.currentVersion(),
): string {
  const link = new URL(url);
  link.search = '';
  if (options.select) link.searchParams.set('$select', options.select.join(','));
  link.searchParams.set('$deltatoken', `${version}!${ctx.store.now().toISOString()}`);
  return link.toString();
}
