/** In-memory record tables of the emulated org, with savepoints for allOrNone rollback, equality indexes (a
 *  look-up by an external id or a parent id costs what Salesforce's indexed fields cost, not a scan of the org)
 *  and whole-store snapshots for persistence. */

export type FieldValue = string | number | boolean | null;

export interface StoredRecord {
  id: string;
  type: string;
  /** Canonical field name → value (dates `YYYY-MM-DD`, datetimes `2026-11-20T22:53:56.000+0000`). */
  values: Record<string, FieldValue>;
  isDeleted: boolean;
  deletedDate?: string;
}

export interface StoreState {
  sequence: number;
  autoNumbers: Record<string, number>;
  records: StoredRecord[];
}

/** What an all-or-none request changed, to undo it: each touched record as it was (undefined: it was new). */
export interface Savepoint {
  sequence: number;
  autoNumbers: Map<string, number>;
  before: Map<string, { type: string; id: string; record: StoredRecord | undefined }>;
}

/** The key a value is indexed under; it must equal the key of every literal the value matches (so a field's
 *  index keys are its comparison form: lower-cased text, 18-character ids). Null: not indexed. */
export type IndexKeyOf = (value: FieldValue) => string | null;

/** Equality index of one field of one object: built on first use, then kept current. */
interface FieldIndex {
  keyOf: IndexKeyOf;
  ids: Map<string, Set<string>>;
  /** Record id → the key it is indexed under now. */
  keys: Map<string, string>;
}

export class RecordStore {
  private tables = new Map<string, Map<string, StoredRecord>>();
  /** object → field → index. */
  private indexes = new Map<string, Map<string, FieldIndex>>();
  /** `type|id` of records written since the indexes last looked (writes change records in place). */
  private unindexed = new Set<string>();
  /** Insertion position of each record, so an indexed look-up lists records in the order a scan would. */
  private positions = new Map<string, number>();
  private inserted = 0;
  private sequence = 0;
  private autoNumbers = new Map<string, number>();
  /** Open while all-or-none requests run (a collection inside a composite nests one): rolling back costs what
   *  the request wrote, not a copy of the org. */
  private savepoints: Savepoint[] = [];

  /** Starts remembering what each write replaces, until `rollback` or `end`. */
  begin(): Savepoint {
    const savepoint = { sequence: this.sequence, autoNumbers: new Map(this.autoNumbers), before: new Map() };
    this.savepoints.push(savepoint);
    return savepoint;
  }

  /** Undoes every write since `begin`. */
  rollback(savepoint: Savepoint): void {
    for (const { type, id, record } of savepoint.before.values()) {
      if (record) this.table(type).set(id, record);
      else this.tables.get(type)?.delete(id);
      this.changed(type, id);
    }
    this.sequence = savepoint.sequence;
    this.autoNumbers = savepoint.autoNumbers;
    this.end(savepoint);
  }

  end(savepoint: Savepoint): void {
    this.savepoints = this.savepoints.filter((s) => s !== savepoint);
  }

  /** Call before changing a stored record in place: each open savepoint keeps it as it was. */
  touch(record: Pick<StoredRecord, 'type' | 'id'>): void {
    this.changed(record.type, record.id);
    if (this.savepoints.length === 0) return;
    const key = `${record.type}|${record.id}`;
    const stored = this.tables.get(record.type)?.get(record.id);
    for (const savepoint of this.savepoints) {
      if (savepoint.before.has(key)) continue;
      savepoint.before.set(key, {
        type: record.type,
        id: record.id,
        record: stored ? structuredClone(stored) : undefined,
      });
    }
  }

  nextSequence(): number {
    this.sequence += 1;
    return this.sequence;
  }

  nextAutoNumber(type: string): number {
    const next = (this.autoNumbers.get(type) ?? 0) + 1;
    this.autoNumbers.set(type, next);
    return next;
  }

  private table(type: string): Map<string, StoredRecord> {
    let table = this.tables.get(type);
    if (!table) {
      table = new Map();
      this.tables.set(type, table);
    }
    return table;
  }

  get(type: string, id: string): StoredRecord | undefined {
    return this.tables.get(type)?.get(id);
  }

  /** Finds a record of any type by its 18-char id. */
  getById(id: string): StoredRecord | undefined {
    for (const table of this.tables.values()) {
      const record = table.get(id);
      if (record) return record;
    }
    return undefined;
  }

  put(record: StoredRecord): void {
    this.touch(record);
    const table = this.table(record.type);
    if (!table.has(record.id)) this.positions.set(record.id, this.inserted++);
    table.set(record.id, record);
  }

  private changed(type: string, id: string): void {
    if (this.indexes.has(type)) this.unindexed.add(`${type}|${id}`);
  }

  /**
   * Records of one type whose `field` has one of `keys` (deleted ones included: the caller filters), in insertion
   * order. The first look-up of a field indexes it; `keyOf` must be the same function on every call for it.
   */
  lookup(type: string, field: string, keys: readonly string[], keyOf: IndexKeyOf): StoredRecord[] {
    return this.lookupAny(type, [{ field, keys, keyOf }]);
  }

  /** Records of one type matching any of `conditions` (a WHERE of ORs, each branch indexed), in insertion order. */
  lookupAny(
    type: string,
    conditions: readonly { field: string; keys: readonly string[]; keyOf: IndexKeyOf }[],
  ): StoredRecord[] {
    const table = this.tables.get(type);
    const found = new Set<string>();
    for (const { field, keys, keyOf } of conditions) {
      const index = this.index(type, field, keyOf);
      for (const key of keys) for (const id of index.ids.get(key) ?? []) found.add(id);
    }
    return [...found]
      .map((id) => table?.get(id))
      .filter((r): r is StoredRecord => r !== undefined)
      .sort((a, b) => (this.positions.get(a.id) ?? 0) - (this.positions.get(b.id) ?? 0));
  }

  private index(type: string, field: string, keyOf: IndexKeyOf): FieldIndex {
    let fields = this.indexes.get(type);
    if (!fields) {
      fields = new Map();
      this.indexes.set(type, fields);
    }
    this.catchUp();
    let index = fields.get(field);
    if (!index) {
      index = { keyOf, ids: new Map(), keys: new Map() };
      fields.set(field, index);
      for (const record of this.tables.get(type)?.values() ?? []) reindex(index, field, record.id, record);
    }
    return index;
  }

  /** Re-indexes the records written since the last look-up. */
  private catchUp(): void {
    for (const entry of this.unindexed) {
      const bar = entry.indexOf('|');
      const type = entry.slice(0, bar);
      const id = entry.slice(bar + 1);
      const record = this.tables.get(type)?.get(id);
      for (const [field, index] of this.indexes.get(type) ?? []) reindex(index, field, id, record);
    }
    this.unindexed.clear();
  }

  /** Records of one type in insertion order; deleted ones only when asked (queryAll). */
  list(type: string, options: { includeDeleted?: boolean } = {}): StoredRecord[] {
    const out: StoredRecord[] = [];
    for (const record of this.tables.get(type)?.values() ?? []) {
      if (options.includeDeleted || !record.isDeleted) out.push(record);
    }
    return out;
  }

  snapshot(): StoreState {
    const records: StoredRecord[] = [];
    for (const table of this.tables.values())
      for (const record of table.values()) records.push(structuredClone(record));
    return { sequence: this.sequence, autoNumbers: Object.fromEntries(this.autoNumbers), records };
  }

  restore(state: StoreState): void {
    this.tables.clear();
    this.indexes.clear();
    this.unindexed.clear();
    this.positions.clear();
    this.sequence = state.sequence;
    this.autoNumbers = new Map(Object.entries(state.autoNumbers));
    for (const record of state.records) this.put(structuredClone(record));
  }

  clear(): void {
    this.restore({ sequence: 0, autoNumbers: {}, records: [] });
  }
}

function reindex(index: FieldIndex, field: string, id: string, record: StoredRecord | undefined): void {
  const before = index.keys.get(id);
  const after = record ? index.keyOf(record.values[field] ?? null) : null;
  if (before === after) return;
  if (before !== undefined) {
    const ids = index.ids.get(before);
    ids?.delete(id);
    if (ids?.size === 0) index.ids.delete(before);
    index.keys.delete(id);
  }
  if (after !== null) {
    let ids = index.ids.get(after);
    if (!ids) {
      ids = new Set();
      index.ids.set(after, ids);
    }
    ids.add(id);
    index.keys.set(id, after);
  }
}
