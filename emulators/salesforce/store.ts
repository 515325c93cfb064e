/** In-memory record tables of the emulated org, with savepoints for allOrNone rollback and whole-store snapshots
 *  for persistence. */

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

export class RecordStore {
  private tables = new Map<string, Map<string, StoredRecord>>();
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
    this.table(record.type).set(record.id, record);
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
    this.sequence = state.sequence;
    this.autoNumbers = new Map(Object.entries(state.autoNumbers));
    for (const record of state.records) this.put(structuredClone(record));
  }

  clear(): void {
    this.restore({ sequence: 0, autoNumbers: {}, records: [] });
  }
}
