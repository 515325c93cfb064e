/**
 * The SOQL subset the emulator answers, on top of @jetstreamapp/soql-parser-js: field lists with parent paths
 * (`Account.Name`), one level of child subqueries, WHERE with = != < > <= >= LIKE IN NOT IN AND OR NOT and
 * parentheses, null, booleans, numbers, date/datetime literals and a few date literals, ORDER BY, LIMIT,
 * OFFSET and COUNT(). Anything else is MALFORMED_QUERY, so the adapter cannot come to depend on it unnoticed.
 */
import {
  type Condition,
  type OrderByClause,
  type FieldType as ParsedField,
  parseQuery,
  type Query,
  type Subquery,
  type WhereClause,
} from '@jetstreamapp/soql-parser-js';
import type { DmlContext } from './dml.ts';
import { apiError } from './errors.ts';
import { normaliseId } from './ids.ts';
import { attributesOf } from './records.ts';
import { findField, findObject, isObjectVisible, visibleFields } from './schema.ts';
import type { FieldValue, IndexKeyOf, StoredRecord } from './store.ts';
import { formatDate, parseDateTime } from './time.ts';
import type { FieldDef, ObjectDef } from './types.ts';

export interface QueryOutput {
  totalSize: number;
  /** Result records in order (already shaped for the wire); empty for COUNT(). */
  records: Record<string, unknown>[];
  isCount: boolean;
}

/** A path from the queried object to a field: parent hops then the field itself. */
interface FieldPath {
  hops: FieldDef[];
  field: FieldDef;
  /** Canonical relationship names for nesting in the output (`Account`, `Owner`). */
  relationshipNames: string[];
}

interface SubqueryPlan {
  relationshipName: string;
  child: ObjectDef;
  parentField: string;
  plan: SelectPlan;
}

interface SelectPlan {
  object: ObjectDef;
  fields: FieldPath[];
  subqueries: SubqueryPlan[];
  where: Expr | undefined;
  orderBy: { path: FieldPath; desc: boolean; nullsLast: boolean }[];
  limit: number | undefined;
  offset: number;
}

type Expr =
  | { kind: 'and' | 'or'; left: Expr; right: Expr }
  | { kind: 'not'; inner: Expr }
  | { kind: 'cond'; path: FieldPath; operator: string; values: Literal[] };

type Literal = { kind: 'value'; value: FieldValue } | { kind: 'range'; start: number; end: number };

const malformed = (message: string) => apiError(400, 'MALFORMED_QUERY', message);
const NO_SUCH_COLUMN_HINT =
  "If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.";

function resolvePath(ctx: DmlContext, object: ObjectDef, dotted: string): FieldPath {
  const parts = dotted.split('.');
  const hops: FieldDef[] = [];
  const relationshipNames: string[] = [];
  let current = object;
  for (const part of parts.slice(0, -1)) {
    const hop = visibleFields(ctx.schema, current, ctx.view).find(
      (f) => f.type === 'reference' && f.relationshipName?.toLowerCase() === part.toLowerCase(),
    );
    const target = hop?.referenceTo[0] ? findObject(ctx.schema, hop.referenceTo[0]) : undefined;
    if (!hop || !target || !isObjectVisible(ctx.schema, target, ctx.view)) {
      throw apiError(
        400,
        'INVALID_FIELD',
        `Didn't understand relationship '${part}' in field path. ${NO_SUCH_COLUMN_HINT.replace('field name', 'relationship name')}`,
      );
    }
    hops.push(hop);
    relationshipNames.push(hop.relationshipName ?? part);
    current = target;
  }
  const last = parts[parts.length - 1] ?? '';
  const field = findField(ctx.schema, current, last, ctx.view);
  if (!field) {
    throw apiError(
      400,
      'INVALID_FIELD',
      `No such column '${last}' on entity '${current.name}'. ${NO_SUCH_COLUMN_HINT}`,
    );
  }
  return { hops, field, relationshipNames };
}

function unescapeSoqlString(quoted: string): string {
  const body = quoted.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body.charAt(i);
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = body.charAt(++i);
    const map: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', f: '\f' };
    // \% and \_ stay escaped: they only mean something to LIKE, which reads them.
    if (next === '%' || next === '_') out += `\\${next}`;
    else out += map[next.toLowerCase()] ?? next;
  }
  return out;
}

function startOfTodayUtc(now: Date): number {
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
}

const DAY = 86_400_000;

function dateLiteralRange(ctx: DmlContext, literal: string, n: number | undefined): Literal {
  const today = startOfTodayUtc(ctx.now());
  switch (literal.toUpperCase()) {
    case 'TODAY':
      return { kind: 'range', start: today, end: today + DAY };
    case 'YESTERDAY':
      return { kind: 'range', start: today - DAY, end: today };
    case 'TOMORROW':
      return { kind: 'range', start: today + DAY, end: today + 2 * DAY };
    case 'LAST_N_DAYS':
      return { kind: 'range', start: today - (n ?? 0) * DAY, end: today + DAY };
    case 'NEXT_N_DAYS':
      return { kind: 'range', start: today + DAY, end: today + (1 + (n ?? 0)) * DAY };
    default:
      throw malformed(`Date literal ${literal} is not supported by the emulator`);
  }
}

function literalOf(ctx: DmlContext, raw: string, type: string | undefined, n: number | undefined): Literal {
  switch (type) {
    case 'STRING':
      return { kind: 'value', value: unescapeSoqlString(raw) };
    case 'INTEGER':
    case 'DECIMAL':
      return { kind: 'value', value: Number(raw) };
    case 'BOOLEAN':
      return { kind: 'value', value: raw.toUpperCase() === 'TRUE' };
    case 'NULL':
      return { kind: 'value', value: null };
    case 'DATE':
      return { kind: 'value', value: raw };
    case 'DATETIME': {
      const ms = parseDateTime(raw);
      if (Number.isNaN(ms)) throw malformed(`value of filter criterion is not a valid datetime: ${raw}`);
      return { kind: 'value', value: ms };
    }
    case 'DATE_LITERAL':
    case 'DATE_N_LITERAL':
      return dateLiteralRange(ctx, raw.split(':')[0] ?? raw, n);
    default:
      throw malformed(`Literal ${raw} is not supported by the emulator`);
  }
}

/** The parser returns WHERE as a chain with paren counts; rebuild a tree with NOT > AND > OR precedence. */
type Token = '(' | ')' | 'AND' | 'OR' | 'NOT' | { cond: Condition };

function flatten(where: WhereClause | undefined, out: Token[] = []): Token[] {
  if (!where) return out;
  const left = where.left as (Condition & { openParen?: number; closeParen?: number }) | null;
  if (left) {
    for (let i = 0; i < (left.openParen ?? 0); i++) out.push('(');
    if ('field' in left || 'fn' in left) out.push({ cond: left });
    for (let i = 0; i < (left.closeParen ?? 0); i++) out.push(')');
  }
  if ('operator' in where && where.operator) out.push(where.operator);
  if ('right' in where && where.right) flatten(where.right, out);
  return out;
}

function buildExpr(ctx: DmlContext, object: ObjectDef, tokens: Token[]): Expr | undefined {
  if (tokens.length === 0) return undefined;
  let pos = 0;
  const peek = () => tokens[pos];
  const parseOr = (): Expr => {
    let left = parseAnd();
    while (peek() === 'OR') {
      pos++;
      left = { kind: 'or', left, right: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): Expr => {
    let left = parseNot();
    while (peek() === 'AND') {
      pos++;
      left = { kind: 'and', left, right: parseNot() };
    }
    return left;
  };
  const parseNot = (): Expr => {
    if (peek() === 'NOT') {
      pos++;
      return { kind: 'not', inner: parseNot() };
    }
    const token = tokens[pos++];
    if (token === '(') {
      const inner = parseOr();
      if (tokens[pos++] !== ')') throw malformed('unbalanced parentheses in WHERE');
      return inner;
    }
    if (token && typeof token === 'object') return conditionExpr(ctx, object, token.cond);
    throw malformed('unexpected token in WHERE');
  };
  const expr = parseOr();
  if (pos !== tokens.length) throw malformed('unexpected token in WHERE');
  return expr;
}

function conditionExpr(ctx: DmlContext, object: ObjectDef, cond: Condition): Expr {
  if (!('field' in cond) || 'valueQuery' in cond)
    throw malformed('Functions and semi-joins in WHERE are not supported by the emulator');
  const path = resolvePath(ctx, object, cond.field);
  if (path.field.type === 'textarea' && path.field.length > 255) {
    throw apiError(400, 'INVALID_FIELD', `field '${path.field.name}' can not be filtered in a query call`);
  }
  const raws = Array.isArray(cond.value) ? cond.value : [cond.value];
  const types = Array.isArray(cond.literalType) ? cond.literalType : raws.map(() => cond.literalType);
  const variables = 'dateLiteralVariable' in cond ? cond.dateLiteralVariable : undefined;
  const values = raws.map((raw, i) =>
    literalOf(
      ctx,
      String(raw),
      types[i] as string | undefined,
      Array.isArray(variables) ? variables[i] : variables,
    ),
  );
  return { kind: 'cond', path, operator: cond.operator.toUpperCase(), values };
}

function followPath(ctx: DmlContext, record: StoredRecord, path: FieldPath): FieldValue {
  let current: StoredRecord | undefined = record;
  for (const hop of path.hops) {
    const id: FieldValue | undefined = current.values[hop.name];
    current = typeof id === 'string' ? ctx.store.getById(id) : undefined;
    if (!current || current.isDeleted) return null;
  }
  return current.values[path.field.name] ?? null;
}

/** Comparable form of a stored value for its field type. */
function comparable(field: FieldDef, value: FieldValue): string | number | boolean | null {
  if (value === null) return null;
  switch (field.type) {
    case 'datetime':
      return typeof value === 'number' ? value : parseDateTime(String(value));
    case 'id':
    case 'reference':
      return normaliseId(String(value)) ?? String(value);
    case 'boolean':
    case 'double':
    case 'currency':
    case 'percent':
    case 'int':
      return value;
    case 'date':
      return String(value);
    default:
      return String(value).toLowerCase();
  }
}

function literalComparable(field: FieldDef, literal: FieldValue): string | number | boolean | null {
  if (literal === null) return null;
  if (field.type === 'datetime' && typeof literal === 'string') return Date.parse(`${literal}T00:00:00Z`);
  if (field.type === 'date' && typeof literal === 'number') return formatDate(new Date(literal));
  return comparable(field, literal);
}

function compare(a: string | number | boolean, b: string | number | boolean): number {
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  return Number(a) - Number(b);
}

function likeRegex(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '\\' && i + 1 < pattern.length)
      source += pattern.charAt(++i).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (c === '%') source += '.*';
    else if (c === '_') source += '.';
    else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'is');
}

function unescapeLiteral(value: FieldValue): FieldValue {
  return typeof value === 'string' ? value.replace(/\\([%_])/g, '$1') : value;
}

function evaluate(ctx: DmlContext, expr: Expr, record: StoredRecord): boolean {
  switch (expr.kind) {
    case 'and':
      return evaluate(ctx, expr.left, record) && evaluate(ctx, expr.right, record);
    case 'or':
      return evaluate(ctx, expr.left, record) || evaluate(ctx, expr.right, record);
    case 'not':
      return !evaluate(ctx, expr.inner, record);
    case 'cond': {
      const field = expr.path.field;
      const actual = comparable(field, followPath(ctx, record, expr.path));
      const test = (literal: Literal): boolean => {
        if (literal.kind === 'range') {
          if (actual === null) return false;
          const ms = typeof actual === 'number' ? actual : Date.parse(`${String(actual)}T00:00:00Z`);
          switch (expr.operator) {
            case '=':
            case 'IN':
              return ms >= literal.start && ms < literal.end;
            case '!=':
            case 'NOT IN':
              return ms < literal.start || ms >= literal.end;
            case '<':
              return ms < literal.start;
            case '<=':
              return ms < literal.end;
            case '>':
              return ms >= literal.end;
            case '>=':
              return ms >= literal.start;
            default:
              return false;
          }
        }
        if (expr.operator === 'LIKE') {
          return (
            typeof literal.value === 'string' &&
            actual !== null &&
            likeRegex(literal.value).test(String(actual))
          );
        }
        const expected = literalComparable(field, unescapeLiteral(literal.value));
        switch (expr.operator) {
          case '=':
          case 'IN':
            return actual === expected;
          case '!=':
          case 'NOT IN':
            return actual !== expected;
          default: {
            if (actual === null || expected === null) return false;
            const order = compare(actual, expected);
            if (expr.operator === '<') return order < 0;
            if (expr.operator === '<=') return order <= 0;
            if (expr.operator === '>') return order > 0;
            if (expr.operator === '>=') return order >= 0;
            throw malformed(`Operator ${expr.operator} is not supported by the emulator`);
          }
        }
      };
      if (expr.operator === 'NOT IN') return expr.values.every(test);
      return expr.values.some(test);
    }
  }
}

function planOrderBy(
  ctx: DmlContext,
  object: ObjectDef,
  orderBy: OrderByClause | OrderByClause[] | undefined,
) {
  const clauses = orderBy === undefined ? [] : Array.isArray(orderBy) ? orderBy : [orderBy];
  return clauses.map((clause) => {
    if (!('field' in clause)) throw malformed('ORDER BY functions are not supported by the emulator');
    const path = resolvePath(ctx, object, clause.field);
    if (path.field.type === 'textarea' && path.field.length > 255) {
      throw apiError(400, 'INVALID_FIELD', `field '${path.field.name}' can not be sorted in a query call`);
    }
    const desc = clause.order === 'DESC';
    return { path, desc, nullsLast: clause.nulls ? clause.nulls === 'LAST' : desc };
  });
}

function planSelect(
  ctx: DmlContext,
  object: ObjectDef,
  query: Query | Subquery,
  allowSubqueries: boolean,
): SelectPlan {
  if (query.groupBy || query.having) throw malformed('GROUP BY and HAVING are not supported by the emulator');
  const fields: FieldPath[] = [];
  const subqueries: SubqueryPlan[] = [];
  for (const selected of (query.fields ?? []) as ParsedField[]) {
    if (selected.type === 'Field') fields.push(resolvePath(ctx, object, selected.field));
    else if (selected.type === 'FieldRelationship') {
      fields.push(resolvePath(ctx, object, [...selected.relationships, selected.field].join('.')));
    } else if (selected.type === 'FieldSubquery' && allowSubqueries) {
      const name = selected.subquery.relationshipName;
      const rel = object.childRelationships.find(
        (r) => r.relationshipName.toLowerCase() === name.toLowerCase(),
      );
      const child = rel ? findObject(ctx.schema, rel.childSObject) : undefined;
      if (!rel || !child || !isObjectVisible(ctx.schema, child, ctx.view)) {
        throw apiError(
          400,
          'INVALID_TYPE',
          `Didn't understand relationship '${name}' in FROM part of query call. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.`,
        );
      }
      subqueries.push({
        relationshipName: rel.relationshipName,
        child,
        parentField: rel.field,
        plan: planSelect(ctx, child, selected.subquery, false),
      });
    } else {
      throw malformed(`${selected.type} in the SELECT list is not supported by the emulator`);
    }
  }
  return {
    object,
    fields,
    subqueries,
    where: buildExpr(ctx, object, flatten(query.where)),
    orderBy: planOrderBy(ctx, object, query.orderBy),
    limit: query.limit,
    offset: query.offset ?? 0,
  };
}

function sortRecords(ctx: DmlContext, records: StoredRecord[], plan: SelectPlan): StoredRecord[] {
  if (plan.orderBy.length === 0) return records;
  return records.slice().sort((a, b) => {
    for (const { path, desc, nullsLast } of plan.orderBy) {
      const va = comparable(path.field, followPath(ctx, a, path));
      const vb = comparable(path.field, followPath(ctx, b, path));
      if (va === vb) continue;
      if (va === null) return nullsLast ? 1 : -1;
      if (vb === null) return nullsLast ? -1 : 1;
      const order = compare(va, vb);
      if (order !== 0) return desc ? -order : order;
    }
    return 0;
  });
}

/** A field's index key: its comparison form, so a literal and every value it equals share one key (a
 *  15-character id literal finds its 18-character record). */
export function indexKeyOf(field: FieldDef): IndexKeyOf {
  return (value) => {
    const key = comparable(field, value);
    return key === null ? null : String(key);
  };
}

/** A reference field's index key (what `indexKeyOf` gives an id or reference field). */
export const keyOfId: IndexKeyOf = (value) =>
  value === null ? null : (normaliseId(String(value)) ?? String(value));

/**
 * The records an indexed equality of the WHERE clause allows (`Field = 'x'`, `Field IN (...)` on the queried
 * object itself, anywhere in a chain of ANDs), or undefined when none applies and the query reads the table.
 * Only narrows: the whole clause is still evaluated on what it returns.
 */
function candidatesOf(
  ctx: DmlContext,
  type: string,
  where: Expr | undefined,
  includeDeleted: boolean,
): StoredRecord[] | undefined {
  const branches = indexable(where);
  if (!branches) return undefined;
  const conditions = [];
  for (const cond of branches) {
    const field = cond.path.field;
    const keyOf = indexKeyOf(field);
    const keys = cond.values.map((l) =>
      l.kind === 'value' ? keyOf(literalComparable(field, unescapeLiteral(l.value))) : null,
    );
    if (keys.some((k) => k === null)) return undefined;
    conditions.push({ field: field.name, keys: keys as string[], keyOf });
  }
  const found = ctx.store.lookupAny(type, conditions);
  return includeDeleted ? found : found.filter((r) => !r.isDeleted);
}

type Cond = Extract<Expr, { kind: 'cond' }>;

/**
 * Equality conditions that together hold every record the WHERE can match (a superset: the WHERE still filters):
 * one side of an AND, or every side of an OR (an account matched by name and postal code, or by DUNS).
 * Undefined when some record could match without one of them: scan.
 */
function indexable(expr: Expr | undefined): Cond[] | undefined {
  if (!expr) return undefined;
  if (expr.kind === 'and') return indexable(expr.left) ?? indexable(expr.right);
  if (expr.kind === 'or') {
    const left = indexable(expr.left);
    const right = left && indexable(expr.right);
    return left && right ? [...left, ...right] : undefined;
  }
  if (expr.kind !== 'cond' || expr.path.hops.length > 0) return undefined;
  if (expr.operator !== '=' && expr.operator !== 'IN') return undefined;
  if (expr.values.length === 0 || expr.values.some((l) => l.kind !== 'value' || l.value === null))
    return undefined;
  return [expr];
}

function selectRecords(ctx: DmlContext, candidates: StoredRecord[], plan: SelectPlan): StoredRecord[] {
  const where = plan.where;
  const matching = where ? candidates.filter((r) => evaluate(ctx, where, r)) : candidates;
  const sorted = sortRecords(ctx, matching, plan);
  const end = plan.limit === undefined ? undefined : plan.offset + plan.limit;
  return sorted.slice(plan.offset, end);
}

function shapeRecord(
  ctx: DmlContext,
  record: StoredRecord,
  plan: SelectPlan,
  apiVersion: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = { attributes: attributesOf(apiVersion, record) };
  for (const path of plan.fields) {
    let target: Record<string, unknown> = out;
    let current: StoredRecord | undefined = record;
    let broken = false;
    path.hops.forEach((hop, i) => {
      if (broken) return;
      const name = path.relationshipNames[i] ?? hop.name;
      const parentId: FieldValue | undefined = current ? current.values[hop.name] : undefined;
      const parent = typeof parentId === 'string' ? ctx.store.getById(parentId) : undefined;
      if (!parent || parent.isDeleted) {
        if (!(name in target)) target[name] = null;
        broken = true;
        return;
      }
      const existing = target[name];
      if (!existing || typeof existing !== 'object')
        target[name] = { attributes: attributesOf(apiVersion, parent) };
      target = target[name] as Record<string, unknown>;
      current = parent;
    });
    if (!broken && current) target[path.field.name] = current.values[path.field.name] ?? null;
  }
  for (const sub of plan.subqueries) {
    const children = selectRecords(
      ctx,
      ctx.store
        .lookup(sub.child.name, sub.parentField, [record.id], keyOfId)
        .filter((c) => !c.isDeleted && c.values[sub.parentField] === record.id),
      sub.plan,
    );
    out[sub.relationshipName] =
      children.length === 0
        ? null
        : {
            totalSize: children.length,
            done: true,
            records: children.map((c) => shapeRecord(ctx, c, sub.plan, apiVersion)),
          };
  }
  return out;
}

function parseSoql(soql: string): Query {
  try {
    return parseQuery(soql) as Query;
  } catch (error) {
    throw malformed(`${soql}\n${(error as Error).message.split('\n')[0] ?? 'unexpected token'}`);
  }
}

export function runQuery(
  ctx: DmlContext,
  soql: string,
  options: { includeDeleted: boolean; apiVersion: string },
): QueryOutput {
  const query = parseSoql(soql);
  const object = query.sObject ? findObject(ctx.schema, query.sObject) : undefined;
  if (!object || !isObjectVisible(ctx.schema, object, ctx.view)) {
    throw apiError(
      400,
      'INVALID_TYPE',
      `sObject type '${query.sObject ?? ''}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`,
    );
  }
  const selected = (query.fields ?? []) as ParsedField[];
  const first = selected[0];
  const isCount =
    selected.length === 1 &&
    first?.type === 'FieldFunctionExpression' &&
    first.functionName.toUpperCase() === 'COUNT' &&
    first.parameters.length === 0;
  const plan = planSelect(ctx, object, isCount ? { ...query, fields: [] } : query, true);
  const records = selectRecords(
    ctx,
    candidatesOf(ctx, object.name, plan.where, options.includeDeleted ?? false) ??
      ctx.store.list(object.name, { includeDeleted: options.includeDeleted }),
    plan,
  );
  if (isCount) return { totalSize: records.length, records: [], isCount: true };
  return {
    totalSize: records.length,
    records: records.map((r) => shapeRecord(ctx, r, plan, options.apiVersion)),
    isCount: false,
  };
}
