import { describe, expect, it } from 'vitest';
import { type IndexKeyOf, RecordStore, type StoredRecord } from './store.ts';

const lower: IndexKeyOf = (v) => (v === null ? null : String(v).toLowerCase());
const opportunity = (id: string, ref: string | null): StoredRecord => ({
  id,
  type: 'Opportunity',
  values: { Id: id, Referral_Identifier__c: ref },
  isDeleted: false,
});
const ids = (records: StoredRecord[]) => records.map((r) => r.id);

describe('the Salesforce emulator store: equality indexes', () => {
  it('an indexed look-up follows in-place writes, inserts, and an allOrNone rollback, in insertion order', () => {
    const store = new RecordStore();
    store.put(opportunity('b', 'R-1'));
    store.put(opportunity('a', 'r-1'));
    store.put(opportunity('c', 'R-2'));
    const find = (key: string) => ids(store.lookup('Opportunity', 'Referral_Identifier__c', [key], lower));
    expect(find('r-1')).toEqual(['b', 'a']);

    // Writes change records in place after touch (dml.ts): the index sees the new value.
    const c = store.get('Opportunity', 'c')!;
    store.touch(c);
    c.values = { ...c.values, Referral_Identifier__c: 'R-1' };
    expect(find('r-1')).toEqual(['b', 'a', 'c']);
    expect(find('r-2')).toEqual([]);

    const savepoint = store.begin();
    store.put(opportunity('d', 'R-1'));
    const b = store.get('Opportunity', 'b')!;
    store.touch(b);
    b.values = { ...b.values, Referral_Identifier__c: null };
    expect(find('r-1')).toEqual(['a', 'c', 'd']);
    store.rollback(savepoint);
    expect(find('r-1')).toEqual(['b', 'a', 'c']);

    // Restoring a saved org rebuilds from what was saved.
    const saved = store.snapshot();
    store.clear();
    expect(find('r-1')).toEqual([]);
    store.restore(saved);
    expect(find('r-1')).toEqual(['b', 'a', 'c']);
  });

  it('a look-up of several fields (an OR of equalities) lists each match once, in insertion order', () => {
    const store = new RecordStore();
    store.put(opportunity('b', 'R-1'));
    store.put(opportunity('a', 'R-2'));
    store.put(opportunity('c', 'R-3'));
    const found = store.lookupAny('Opportunity', [
      { field: 'Referral_Identifier__c', keys: ['r-3', 'r-1'], keyOf: lower },
      { field: 'Id', keys: ['b', 'a'], keyOf: lower },
    ]);
    expect(ids(found)).toEqual(['b', 'a', 'c']);
  });
});
