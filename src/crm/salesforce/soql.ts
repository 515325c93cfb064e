// Building SOQL safely. Every value that reaches a query goes through `literal` (or `like`), so a company
// called `O'Brien \ Sons` matches itself and `x' OR Name != '` stays a string. Field and object names are
// never user input; `identifier` still refuses anything that is not an API name, as a guard.
//
// Escapes per the SOQL reference ("Quoted String Escape Sequences"): \' \" \\ \n \r \t \b \f, and in LIKE
// patterns \% and \_ for literal percent and underscore.

export type SoqlValue = string | number | boolean | null | Date;

const STRING_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '"': '\\"',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

function escapeString(value: string): string {
  return value.replace(/[\\'"\n\r\t\b\f]/g, (c) => STRING_ESCAPES[c] ?? c);
}

/** A SOQL dateTime literal (unquoted, whole seconds, UTC). */
export function dateTimeLiteral(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/** A value as a SOQL literal: quoted and escaped strings, bare numbers/booleans/null, dateTime literals. */
export function literal(value: SoqlValue): string {
  if (value === null) return 'null';
  if (value instanceof Date) return dateTimeLiteral(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`SOQL: not a finite number: ${value}`);
    return String(value);
  }
  return `'${escapeString(value)}'`;
}

/** A LIKE pattern that matches `value` literally, with `%` wildcards added where asked. */
export function like(value: string, wildcards: 'none' | 'prefix' | 'suffix' | 'contains' = 'none'): string {
  const escaped = escapeString(value).replace(/[%_]/g, (c) => `\\${c}`);
  const before = wildcards === 'suffix' || wildcards === 'contains' ? '%' : '';
  const after = wildcards === 'prefix' || wildcards === 'contains' ? '%' : '';
  return `'${before}${escaped}${after}'`;
}

const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$/;

/** Guards a field or object name (dot paths allowed for parent fields). */
export function identifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`SOQL: not an API name: ${JSON.stringify(name)}`);
  return name;
}

export type Condition =
  | { field: string; op: '=' | '!=' | '<' | '<=' | '>' | '>='; value: SoqlValue }
  | { field: string; op: 'IN' | 'NOT IN'; values: readonly SoqlValue[] }
  | { field: string; op: 'LIKE'; pattern: string }
  | { and: readonly Condition[] }
  | { or: readonly Condition[] }
  | { not: Condition };

/** Renders a condition tree; empty AND is `true`-like and must not be rendered, so callers pass non-empty lists. */
export function where(condition: Condition): string {
  if ('and' in condition) return group(condition.and, 'AND');
  if ('or' in condition) return group(condition.or, 'OR');
  if ('not' in condition) return `(NOT ${where(condition.not)})`;
  const field = identifier(condition.field);
  switch (condition.op) {
    case 'IN':
    case 'NOT IN':
      if (condition.values.length === 0) throw new Error(`SOQL: empty ${condition.op} list for ${field}`);
      return `${field} ${condition.op} (${condition.values.map(literal).join(', ')})`;
    case 'LIKE':
      return `${field} LIKE ${condition.pattern}`;
    default:
      return `${field} ${condition.op} ${literal(condition.value)}`;
  }
}

function group(parts: readonly Condition[], joiner: 'AND' | 'OR'): string {
  if (parts.length === 0) throw new Error(`SOQL: empty ${joiner} group`);
  if (parts.length === 1) return where(parts[0]!);
  return `(${parts.map(where).join(` ${joiner} `)})`;
}

export interface SelectSpec {
  fields: readonly string[];
  from: string;
  where?: Condition;
  /** A child relationship subquery, e.g. `(SELECT ContactId FROM OpportunityContactRoles)`. */
  children?: { relationship: string; fields: readonly string[] }[];
  orderBy?: { field: string; direction?: 'ASC' | 'DESC' }[];
  limit?: number;
}

export function select(spec: SelectSpec): string {
  const columns = [...new Set(spec.fields)].map(identifier);
  for (const child of spec.children ?? []) {
    columns.push(
      `(SELECT ${child.fields.map(identifier).join(', ')} FROM ${identifier(child.relationship)})`,
    );
  }
  let soql = `SELECT ${columns.join(', ')} FROM ${identifier(spec.from)}`;
  if (spec.where) soql += ` WHERE ${where(spec.where)}`;
  if (spec.orderBy?.length) {
    soql += ` ORDER BY ${spec.orderBy.map((o) => `${identifier(o.field)} ${o.direction ?? 'ASC'}`).join(', ')}`;
  }
  if (spec.limit !== undefined) soql += ` LIMIT ${Math.max(0, Math.floor(spec.limit))}`;
  return soql;
}

/** Splits a list into chunks (IN lists and collections have size limits). */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
