/** In-memory record tables of the emulated org, with whole-store snapshots for allOrNone rollback. */

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

export class RecordStore {
  private tables = new Map<string, Map<string, StoredRecord>>();
  private sequence = 0;
  private autoNumbers = new Map<string, number>();

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
