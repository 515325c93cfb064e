// Typed OData `$filter` builder for GET /referrals (reference §2 "GET list — query options").
//
// Values are always escaped here, never concatenated by callers: a customer name like O'Brien or a
// hostile "') or (1 eq 1" must stay one string literal. Field paths are checked against an identifier
// grammar so they cannot smuggle operators either.

declare const filterBrand: unique symbol;
/** A `$filter` expression. Only this module creates one, so every value inside has been escaped. */
export interface Filter {
  readonly [filterBrand]: true;
  readonly text: string;
  toString(): string;
}

export type FilterValue = string | number | boolean | Date | null;

const FIELD_PATH = /^[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/;
const LAMBDA_VARIABLE = /^[a-z][A-Za-z0-9_]*$/;

function filter(text: string): Filter {
  return { text, toString: () => text } as Filter;
}

function field(path: string): string {
  if (!FIELD_PATH.test(path))
    throw new TypeError(`Invalid OData field path '${path}': use names joined by '/'`);
  return path;
}

/** Renders a value as an OData literal. */
export function literal(value: FilterValue): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`OData number literal must be finite, got ${value}`);
    return String(value);
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError('OData date literal must be a valid Date');
    // OData v4 DateTimeOffset literals are unquoted.
    return value.toISOString();
  }
  throw new TypeError(`Unsupported OData literal type: ${typeof value}`);
}

const comparison =
  (op: string) =>
  (path: string, value: FilterValue): Filter =>
    filter(`${field(path)} ${op} ${literal(value)}`);

export const eq = comparison('eq');
export const ne = comparison('ne');
export const gt = comparison('gt');
export const ge = comparison('ge');
export const lt = comparison('lt');
export const le = comparison('le');

function junction(op: 'and' | 'or', parts: Filter[]): Filter {
  if (parts.length === 0) throw new TypeError(`${op}() needs at least one expression`);
  if (parts.length === 1) return parts[0]!;
  return filter(parts.map((p) => `(${p.text})`).join(` ${op} `));
}

export const and = (...parts: Filter[]): Filter => junction('and', parts);
export const or = (...parts: Filter[]): Filter => junction('or', parts);
export const not = (part: Filter): Filter => filter(`not (${part.text})`);

/** Lambda `any`: `anyOf('team', 't', eq('t/email', x))` -> `team/any(t:t/email eq 'x')`. */
export function anyOf(collection: string, variable: string, predicate: Filter): Filter {
  if (!LAMBDA_VARIABLE.test(variable)) throw new TypeError(`Invalid OData lambda variable '${variable}'`);
  return filter(`${field(collection)}/any(${variable}:${predicate.text})`);
}

export type OrderableField = 'createdDateTime' | 'updatedDateTime';
export interface OrderBy {
  field: OrderableField;
  direction?: 'asc' | 'desc';
}

export interface ListQuery {
  filter?: Filter;
  orderBy?: OrderBy[];
  top?: number;
}

const ORDERABLE = new Set<string>(['createdDateTime', 'updatedDateTime']);

/** Builds the encoded query string (no leading '?') for GET /referrals. */
export function buildListQuery(query: ListQuery = {}): string {
  const parts: string[] = [];
  if (query.filter) parts.push(`$filter=${encodeURIComponent(query.filter.text)}`);
  if (query.orderBy && query.orderBy.length > 0) {
    const clauses = query.orderBy.map((o) => {
      // Guard the runtime too: the type is erased when a caller passes config data.
      if (!ORDERABLE.has(o.field))
        throw new TypeError(
          `Partner Center can only order by createdDateTime or updatedDateTime, not '${o.field}'`,
        );
      return `${o.field} ${o.direction ?? 'asc'}`;
    });
    parts.push(`$orderby=${encodeURIComponent(clauses.join(','))}`);
  }
  if (query.top !== undefined) {
    if (!Number.isInteger(query.top) || query.top < 1)
      throw new TypeError(`$top must be a positive integer, got ${query.top}`);
    parts.push(`$top=${query.top}`);
  }
  return parts.join('&');
}
