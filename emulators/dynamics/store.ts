// The environment's data: rows per table, the global row version, the change-tracking log, and the
// validation every write goes through (API and seller UI alike): types, lengths, choices, required columns,
// lookups bound with @odata.bind, alternate keys, state/status pairs, and the rules Dataverse enforces
// (closing an opportunity only through Win/LoseOpportunity; a solution's visibility never reverts).
import { randomUUID } from 'node:crypto';
import { badRequest, CODES, DataverseError, notFound } from './errors.ts';
import { type Column, navigationNames, type Schema, type Table } from './schema.ts';

const MONEY_MAX = 922_337_203_685_477;

export interface LookupValue {
  table: string;
  id: string;
}
export type Value = string | number | boolean | null | LookupValue;
export type Row = Record<string, Value>;

/** A record addressed by GUID or by an alternate key's values. */
export type RecordRef = { id: string } | { key: Record<string, string> };

export interface WriteContext {
  /** The calling user (owner of new rows). */
  userId: string;
  /** `$1`… of a batch change set: Content-ID → entity URL. */
  contentIds?: Map<string, string>;
  /** Seller actions in the UI may set what the API refuses (closing goes through the actions there too). */
  ui?: boolean;
  /** Set by Win/Lose/QualifyLead: they may move a record to a closed state. */
  stateChangeAllowed?: boolean;
}

interface ChangeEntry {
  version: number;
  id: string;
  deleted: boolean;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isGuid = (text: string): boolean => GUID.test(text);

/** Rows are keyed by lower-case GUID. */
const norm = (id: string) => id.toLowerCase();

/** A value's index key: text without case (Dataverse's default collation), a lookup by its GUID. */
function indexKey(value: Value | undefined): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value === 'object') return value.id.toLowerCase();
  return String(value).toLowerCase();
}

function addKey(index: Map<string, Set<string>>, key: string | null, id: string): void {
  if (key === null) return;
  let ids = index.get(key);
  if (!ids) {
    ids = new Set();
    index.set(key, ids);
  }
  ids.add(id);
}

function isLookup(value: Value | undefined): value is LookupValue {
  return typeof value === 'object' && value !== null;
}

export class DataverseStore {
  readonly rows = new Map<string, Map<string, Row>>();
  private readonly changes = new Map<string, ChangeEntry[]>();
  private version = 1_000_000;
  /** Undo steps of the open change set, newest last. */
  private journal: (() => void)[] | null = null;
  /** Security roles granted to users (the systemuserroles intersect table). */
  readonly userRoles = new Map<string, Set<string>>();
  /** Shifts the emulator's clock (token expiry, change-token expiry) without waiting. */
  clockOffsetMs = 0;
  /** table → column → key → row ids: equality indexes, built on a column's first look-up and kept by `put`,
   *  so finding a row by an alternate key, a lookup or a filtered value costs what Dataverse's indexes cost. */
  private readonly indexes = new Map<string, Map<string, Map<string, Set<string>>>>();

  constructor(readonly schema: Schema) {
    for (const table of schema.tables.values()) {
      this.rows.set(table.name, new Map());
      this.changes.set(table.name, []);
    }
  }

  /** A table an admin added after start (emulators/dynamics/schema.ts addCustomTable). */
  registerTable(table: Table): void {
    if (this.rows.has(table.name)) return;
    this.rows.set(table.name, new Map());
    this.changes.set(table.name, []);
  }

  now(): Date {
    return new Date(Date.now() + this.clockOffsetMs);
  }

  currentVersion(): number {
    return this.version;
  }

  table(name: string): Table {
    const table = this.schema.tables.get(name);
    if (!table) throw badRequest(`Could not find a table named '${name}'.`, CODES.queryNotSupported);
    return table;
  }

  tableBySet(set: string): Table {
    const table = this.schema.bySet.get(set);
    if (!table) {
      throw new DataverseError(404, CODES.queryNotSupported, `Resource not found for the segment '${set}'.`);
    }
    return table;
  }

  // ---- transactions (change sets) ------------------------------------------------------------------------

  /** Runs `work` atomically: any throw undoes every write it made (a $batch change set). */
  async atomically<T>(work: () => Promise<T>): Promise<T> {
    const outer = this.journal;
    const journal: (() => void)[] = [];
    this.journal = journal;
    try {
      const result = await work();
      if (outer) outer.push(...journal);
      return result;
    } catch (error) {
      for (const undo of journal.reverse()) undo();
      throw error;
    } finally {
      this.journal = outer;
    }
  }

  private put(table: Table, row: Row, deleted = false): void {
    const rows = this.rows.get(table.name)!;
    const id = String(row[table.primaryId]);
    const previous = rows.get(id);
    const log = this.changes.get(table.name)!;
    const version = ++this.version;
    if (deleted) rows.delete(id);
    else rows.set(id, row);
    this.reindex(table.name, id, previous, deleted ? undefined : row);
    log.push({ version, id, deleted });
    this.journal?.push(() => {
      if (previous) rows.set(id, previous);
      else rows.delete(id);
      this.reindex(table.name, id, deleted ? undefined : row, previous);
      const index = log.findIndex((e) => e.version === version);
      if (index >= 0) log.splice(index, 1);
    });
  }

  // ---- reading -------------------------------------------------------------------------------------------

  /**
   * Rows whose `column` may equal one of `values` (compared as Dataverse's default collation does: case
   * ignored; a lookup by its GUID). Only narrows: the caller still compares exactly. Unordered.
   */
  matching(table: Table, column: string, values: readonly unknown[]): Row[] {
    return this.matchingAny(table, [{ column, values }]);
  }

  /** Rows whose column equals one of its values, for any of `conditions` (an `or` across columns); each once. */
  matchingAny(table: Table, conditions: readonly { column: string; values: readonly unknown[] }[]): Row[] {
    const rows = this.rows.get(table.name)!;
    const ids = new Set<string>();
    for (const { column, values } of conditions) {
      const index = this.index(table, column);
      for (const value of values) {
        const key = indexKey(value as Value);
        if (key !== null) for (const id of index.get(key) ?? []) ids.add(id);
      }
    }
    return [...ids].map((id) => rows.get(id)).filter((r): r is Row => r !== undefined);
  }

  private index(table: Table, column: string): Map<string, Set<string>> {
    let columns = this.indexes.get(table.name);
    if (!columns) {
      columns = new Map();
      this.indexes.set(table.name, columns);
    }
    let index = columns.get(column);
    if (!index) {
      index = new Map();
      columns.set(column, index);
      for (const [id, row] of this.rows.get(table.name)!) addKey(index, indexKey(row[column]), id);
    }
    return index;
  }

  private reindex(table: string, id: string, before: Row | undefined, after: Row | undefined): void {
    for (const [column, index] of this.indexes.get(table) ?? []) {
      const from = before ? indexKey(before[column]) : null;
      const to = after ? indexKey(after[column]) : null;
      if (from === to) continue;
      if (from !== null) {
        const ids = index.get(from);
        ids?.delete(id);
        if (ids?.size === 0) index.delete(from);
      }
      addKey(index, to, id);
    }
  }

  all(table: Table): Row[] {
    return [...this.rows.get(table.name)!.values()];
  }

  get(table: Table, id: string): Row | undefined {
    return this.rows.get(table.name)!.get(norm(id));
  }

  find(table: Table, ref: RecordRef): Row | undefined {
    if ('id' in ref) return this.get(table, ref.id);
    const columns = Object.keys(ref.key);
    const key = table.keys.find(
      (k) => k.columns.length === columns.length && k.columns.every((c) => columns.includes(c)),
    );
    if (!key && !(columns.length === 1 && columns[0] === table.primaryId)) {
      throw badRequest(
        `The key attributes (${columns.join(', ')}) are not defined as an alternate key of ${table.name}. ` +
          'Define the alternate key (and wait until it is Active) before addressing records by it.',
      );
    }
    const matches = this.matching(table, columns[0]!, [ref.key[columns[0]!]]).filter((row) =>
      columns.every((c) => String(row[c] ?? '').toLowerCase() === String(ref.key[c]).toLowerCase()),
    );
    return matches[0];
  }

  /** Changes after `sinceVersion`: the newest entry per record, upserts before deletes (reference §A.6). */
  changesSince(table: Table, sinceVersion: number): { upserts: Row[]; deleted: string[] } {
    const latest = new Map<string, ChangeEntry>();
    for (const entry of this.changes.get(table.name)!) {
      if (entry.version > sinceVersion) latest.set(entry.id, entry);
    }
    const upserts: Row[] = [];
    const deleted: string[] = [];
    for (const entry of latest.values()) {
      const row = this.rows.get(table.name)!.get(entry.id);
      if (entry.deleted || !row) deleted.push(entry.id);
      else upserts.push(row);
    }
    return { upserts, deleted };
  }

  // ---- writing -------------------------------------------------------------------------------------------

  create(table: Table, body: Record<string, unknown>, ctx: WriteContext, idFromUrl?: string): Row {
    const now = this.now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
    const given = typeof body[table.primaryId] === 'string' ? String(body[table.primaryId]) : idFromUrl;
    const id = norm(given ?? randomUUID());
    if (!isGuid(id)) throw badRequest(`'${given}' is not a valid GUID for ${table.primaryId}.`);
    if (this.get(table, id)) {
      throw new DataverseError(412, CODES.duplicateKey, 'A record with matching key values already exists.');
    }
    const { [table.primaryId]: _ignored, ...rest } = body;
    const row: Row = { [table.primaryId]: id };
    for (const column of table.columns.values()) {
      if (column.kind === 'bool' && column.defaultValue !== undefined)
        row[column.name] = Boolean(column.defaultValue);
    }
    this.apply(table, row, rest, ctx, true);
    if (table.states) {
      if (row.statecode === undefined || row.statecode === null) row.statecode = 0;
      if (row.statuscode === undefined || row.statuscode === null)
        row.statuscode = table.states[Number(row.statecode)]![0]!;
    }
    if (table.columns.has('ownerid') && !row.ownerid) row.ownerid = { table: 'systemuser', id: ctx.userId };
    if (table.name === 'opportunity' || table.name === 'lead') {
      if (!row.transactioncurrencyid) {
        const base = this.baseCurrencyId();
        if (base) row.transactioncurrencyid = { table: 'transactioncurrency', id: base };
      }
    }
    this.requireColumns(table, row);
    this.checkKeys(table, row, id);
    this.computed(table, row);
    row.createdon = now;
    row.modifiedon = now;
    row.versionnumber = this.version + 1;
    this.put(table, row);
    return row;
  }

  update(table: Table, id: string, body: Record<string, unknown>, ctx: WriteContext, ifMatch?: string): Row {
    const current = this.existing(table, id, ifMatch);
    const row: Row = { ...current };
    const { [table.primaryId]: _ignored, ...rest } = body;
    this.apply(table, row, rest, ctx, false);
    this.checkTransition(table, current, row, ctx);
    this.requireColumns(table, row);
    this.checkKeys(table, row, String(current[table.primaryId]));
    this.computed(table, row);
    row.modifiedon = this.now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
    row.versionnumber = this.version + 1;
    this.put(table, row);
    return row;
  }

  /** The row to change, after the optimistic-concurrency check of `If-Match` (reference §A.10). */
  private existing(table: Table, id: string, ifMatch: string | undefined): Row {
    const current = this.get(table, id);
    if (!current) throw notFound(table.name, id);
    if (ifMatch && ifMatch !== '*' && ifMatch !== etagOf(current)) {
      throw new DataverseError(
        412,
        CODES.concurrency,
        "The version of the existing record doesn't match the RowVersion property provided.",
      );
    }
    return current;
  }

  remove(table: Table, id: string, ifMatch?: string): void {
    const current = this.existing(table, id, ifMatch);
    this.put(table, current, true);
    // Cascade: rows whose lookup points here are deleted (solution rows, connections) or cleared.
    for (const other of this.schema.tables.values()) {
      for (const column of other.columns.values()) {
        if (column.kind !== 'lookup' || !column.targets?.includes(table.name)) continue;
        for (const row of this.matching(other, column.name, [id])) {
          const value = row[column.name];
          if (!isLookup(value) || value.table !== table.name || value.id !== norm(id)) continue;
          const cascade = other.name === 'connection' || (other.custom && column.required);
          if (cascade) this.put(other, row, true);
          else this.put(other, { ...row, [column.name]: null });
        }
      }
    }
  }

  // ---- validation ----------------------------------------------------------------------------------------

  private apply(
    table: Table,
    row: Row,
    body: Record<string, unknown>,
    ctx: WriteContext,
    creating: boolean,
  ): void {
    for (const [key, raw] of Object.entries(body)) {
      if (key.startsWith('@odata.')) continue;
      if (key.endsWith('@odata.bind')) {
        const nav = key.slice(0, -'@odata.bind'.length);
        const { column, target } = this.navigation(table, nav);
        if (column.readOnly && !ctx.stateChangeAllowed) throw readOnly(table, column);
        if (raw === null) {
          row[column.name] = null;
          continue;
        }
        if (typeof raw !== 'string')
          throw badRequest(`${key} must be an entity URL such as /accounts(<guid>).`);
        row[column.name] = { table: target, id: this.resolveBinding(raw, target, ctx) };
        continue;
      }
      if (key.includes('@')) continue;
      const column = table.columns.get(key);
      if (!column) {
        throw badRequest(
          `Invalid property '${key}' was found in entity 'Microsoft.Dynamics.CRM.${table.name}'.`,
          CODES.invalidPayload,
        );
      }
      if (column.kind === 'lookup') {
        throw badRequest(
          `Lookup '${key}' cannot be set directly: use "${navigationNames(column)[0]?.nav}@odata.bind": "/<entityset>(<guid>)".`,
          CODES.invalidPayload,
        );
      }
      if (column.readOnly || column.kind === 'id') {
        if (creating && column.kind === 'id') continue;
        throw readOnly(table, column);
      }
      row[key] = this.coerce(table, column, raw);
    }
  }

  private navigation(table: Table, nav: string): { column: Column; target: string } {
    for (const column of table.columns.values()) {
      if (column.kind !== 'lookup') continue;
      const match = navigationNames(column).find((n) => n.nav === nav);
      if (match) return { column, target: match.target };
    }
    const lower = [...table.columns.values()].find(
      (c) => c.kind === 'lookup' && navigationNames(c).some((n) => n.nav.toLowerCase() === nav.toLowerCase()),
    );
    const hint = lower
      ? ` Navigation property names are case-sensitive: did you mean '${navigationNames(lower)
          .map((n) => n.nav)
          .join("' or '")}'?`
      : '';
    throw badRequest(
      `An undeclared property '${nav}' which only has property annotations in the payload but no property value ` +
        `was found in the payload.${hint}`,
      CODES.invalidPayload,
    );
  }

  /** `/accounts(<guid>)`, `accounts(<guid>)`, an absolute URL, an alternate key, or `$1` in a change set. */
  private resolveBinding(raw: string, target: string, ctx: WriteContext): string {
    let ref = raw;
    if (ref.startsWith('$')) {
      const resolved = ctx.contentIds?.get(ref.slice(1));
      if (!resolved)
        throw badRequest(
          `Content-ID reference '${ref}' does not name an earlier request of this change set.`,
        );
      ref = resolved;
    }
    const match = /([A-Za-z_][A-Za-z0-9_]*)\(([^)]*)\)\s*$/.exec(ref);
    if (!match) throw badRequest(`'${raw}' is not an entity reference such as /accounts(<guid>).`);
    const table = this.tableBySet(match[1]!);
    if (table.name !== target) {
      throw badRequest(`'${raw}' names a ${table.name}, but this navigation property binds a ${target}.`);
    }
    const row = this.find(table, parseKey(match[2]!, table));
    if (!row) throw notFound(table.name, match[2]!);
    return String(row[table.primaryId]);
  }

  private coerce(table: Table, column: Column, raw: unknown): Value {
    if (raw === null) return null;
    const invalid = (expected: string) =>
      badRequest(
        `Cannot convert the literal '${JSON.stringify(raw)}' to the expected type '${expected}' of ${table.name}.${column.name}.`,
        CODES.invalidPayload,
      );
    switch (column.kind) {
      case 'string':
      case 'memo': {
        if (typeof raw !== 'string') throw invalid('Edm.String');
        if (column.maxLength !== undefined && raw.length > column.maxLength) {
          throw badRequest(
            `A validation error occurred. The length of the '${column.name}' attribute of the '${table.name}' entity ` +
              `exceeded the maximum allowed length of '${column.maxLength}'.`,
            CODES.validation,
          );
        }
        return raw;
      }
      case 'bool':
        if (typeof raw !== 'boolean') throw invalid('Edm.Boolean');
        return raw;
      case 'int':
      case 'state':
      case 'status':
      case 'choice': {
        if (typeof raw !== 'number' || !Number.isInteger(raw)) throw invalid('Edm.Int32');
        if (column.kind === 'choice' && column.options && !column.options.some((o) => o.value === raw)) {
          throw badRequest(
            `A validation error occurred. The value ${raw} of '${column.name}' on record of type '${table.name}' ` +
              'is outside the valid range. Accepted Values: ' +
              column.options.map((o) => o.value).join(','),
            CODES.validation,
          );
        }
        return raw;
      }
      case 'money':
      case 'decimal':
        if (typeof raw !== 'number' || !Number.isFinite(raw)) throw invalid('Edm.Decimal');
        // A money column's range in Dataverse (MinValue/MaxValue of MoneyAttributeMetadata).
        if (column.kind === 'money' && Math.abs(raw) > MONEY_MAX) {
          throw badRequest(
            `A validation error occurred. The value ${raw} of '${column.name}' on record of type '${table.name}' ` +
              `is outside the valid range. Accepted range: -${MONEY_MAX} to ${MONEY_MAX}`,
            CODES.validation,
          );
        }
        return raw;
      case 'date':
        if (typeof raw !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(raw) || Number.isNaN(Date.parse(raw)))
          throw invalid('Edm.Date');
        return raw;
      case 'datetime':
        if (typeof raw !== 'string' || Number.isNaN(Date.parse(raw))) throw invalid('Edm.DateTimeOffset');
        return new Date(raw).toISOString().replace(/\.\d{3}Z$/, 'Z');
      default:
        throw readOnly(table, column);
    }
  }

  private checkTransition(table: Table, before: Row, after: Row, ctx: WriteContext): void {
    if (table.states) {
      const state = Number(after.statecode);
      const allowed = table.states[state];
      if (!allowed) {
        throw badRequest(
          `A validation error occurred. The value ${state} of 'statecode' on record of type '${table.name}' is outside the valid range.`,
          CODES.validation,
        );
      }
      if (after.statecode !== before.statecode && after.statuscode === before.statuscode) {
        after.statuscode = allowed[0]!;
      }
      if (!allowed.includes(Number(after.statuscode))) {
        throw badRequest(
          `${after.statuscode} is not a valid status code for state code ${table.name}State.${state} on ${table.name} ` +
            `with Id ${before[table.primaryId]}. Valid status codes: ${allowed.join(', ')}.`,
          CODES.invalidArgument,
        );
      }
      const closing = after.statecode !== before.statecode && state !== 0;
      if (closing && !ctx.stateChangeAllowed) {
        if (table.name === 'opportunity') {
          throw badRequest(
            `This message can not be used to set the state of opportunity to ${state === 1 ? 'Won' : 'Lost'}. ` +
              `In order to set state of opportunity to ${state === 1 ? 'Won' : 'Lost'} use the ` +
              `${state === 1 ? 'WinOpportunityRequest' : 'LoseOpportunityRequest'} message instead.`,
            CODES.invalidArgument,
          );
        }
        if (table.name === 'lead' && state === 1) {
          throw badRequest(
            'This message can not be used to set the state of lead to Qualified. In order to set state of lead to ' +
              'Qualified use the QualifyLeadRequest message instead.',
            CODES.invalidArgument,
          );
        }
      }
    }
    // The solution's business rule: a referral made visible to Microsoft cannot be hidden again.
    for (const column of table.columns.values()) {
      if (
        !column.custom ||
        column.optionSet === undefined ||
        !column.optionSet.endsWith('_referralvisibility')
      )
        continue;
      const visible = column.options?.find((o) => /^visible/i.test(o.label))?.value;
      if (visible !== undefined && before[column.name] === visible && after[column.name] !== visible) {
        throw badRequest(
          `${column.displayName ?? column.name}: a referral visible to Microsoft cannot be made invisible again.`,
          CODES.validation,
        );
      }
    }
  }

  private requireColumns(table: Table, row: Row): void {
    for (const column of table.columns.values()) {
      if (!column.required) continue;
      const value = row[column.name];
      if (value === undefined || value === null || value === '') {
        throw badRequest(
          `Required field '${column.name}' of ${table.name} is missing or empty.`,
          CODES.invalidArgument,
        );
      }
    }
  }

  private checkKeys(table: Table, row: Row, id: string): void {
    for (const key of table.keys) {
      const values = key.columns.map((c) => row[c]);
      if (values.some((v) => v === undefined || v === null || v === '')) continue;
      const clash = this.matching(table, key.columns[0]!, [values[0]]).find(
        (other) =>
          other[table.primaryId] !== id &&
          key.columns.every(
            (c, i) => String(other[c] ?? '').toLowerCase() === String(values[i]).toLowerCase(),
          ),
      );
      if (clash) {
        throw new DataverseError(
          412,
          CODES.duplicateKey,
          `A record that has the attribute values ${values.join(', ')} already exists. The entity key ${key.name} ` +
            'requires that this set of attributes contains unique values. Select unique values and try again.',
        );
      }
    }
  }

  private computed(table: Table, row: Row): void {
    if (table.name === 'contact' || table.name === 'lead') {
      row.fullname =
        [row.firstname, row.lastname].filter((x) => typeof x === 'string' && x).join(' ') || null;
    }
    if (table.name === 'connection') {
      const other = row.record2id;
      if (isLookup(other)) {
        const target = this.schema.tables.get(other.table);
        const related = target ? this.get(target, other.id) : undefined;
        row.name = related && target ? String(related[target.primaryName] ?? '') : null;
      }
    }
  }

  private baseCurrencyId(): string | undefined {
    const organization = this.all(this.table('organization'))[0];
    const base = organization?.basecurrencyid;
    return isLookup(base) ? base.id : undefined;
  }

  grantRole(userId: string, roleId: string): void {
    const roles = this.userRoles.get(norm(userId)) ?? new Set<string>();
    roles.add(norm(roleId));
    this.userRoles.set(norm(userId), roles);
  }

  revokeRole(userId: string, roleId: string): void {
    this.userRoles.get(norm(userId))?.delete(norm(roleId));
  }

  /** Platform writes (actions) that bypass the API's closing rule, inside the same journal. */
  platformUpdate(table: Table, id: string, body: Record<string, unknown>, ctx: WriteContext): Row {
    return this.update(table, id, body, { ...ctx, stateChangeAllowed: true });
  }
}

function readOnly(table: Table, column: Column): DataverseError {
  return badRequest(
    `The '${column.name}' attribute of ${table.name} is read-only (set by the platform).`,
    CODES.invalidPayload,
  );
}

export function etagOf(row: Row): string {
  return `W/"${row.versionnumber}"`;
}

/** The part inside `accounts(...)`: a GUID, or `k='v'` pairs with doubled quotes (reference §A.3). */
export function parseKey(text: string, table: Table): RecordRef {
  const trimmed = text.trim();
  if (isGuid(trimmed)) return { id: trimmed };
  const key: Record<string, string> = {};
  const pair = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:'((?:[^']|'')*)'|([^,']+))\s*(?:,|$)/y;
  let pos = 0;
  while (pos < trimmed.length) {
    pair.lastIndex = pos;
    const m = pair.exec(trimmed);
    if (!m) {
      throw badRequest(
        `Bad key '${text}' for ${table.name}: use a GUID or alternate key values such as ` +
          `(${table.keys[0]?.columns[0] ?? 'name'}='value'), doubling quotes inside values.`,
      );
    }
    key[m[1]!] = m[2] !== undefined ? m[2].replace(/''/g, "'") : m[3]!.trim();
    pos = pair.lastIndex;
  }
  if (Object.keys(key).length === 0) throw badRequest(`Empty key for ${table.name}.`);
  return { key };
}
