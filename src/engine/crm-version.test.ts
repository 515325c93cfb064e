import { describe, expect, it } from 'vitest';
import type { DealChange } from '../crm/port.ts';
import { crmVersionOf, STAMP_SETTLE_MS } from './crm-version.ts';
import { SeenChanges } from './intake.ts';

const STAMP = '2026-12-07T11:03:26.000+0000';
const at = (msAfterStamp: number) => new Date(Date.parse(STAMP) + msAfterStamp);

describe('which CRM version a sync read (crm-version.ts)', () => {
  it('R26 a row version names one version whenever it was read', () => {
    expect(crmVersionOf({ id: 'a', version: '42', modifiedAt: STAMP }, at(0))).toBe('a@42');
  });

  it('R26 a second-granular stamp names a version only once its second is over: read within it, a later save in that second would share it', () => {
    expect(crmVersionOf({ id: 'a', modifiedAt: STAMP }, at(300))).toBeNull();
    expect(crmVersionOf({ id: 'a', modifiedAt: STAMP }, at(STAMP_SETTLE_MS))).toBe(`a@${STAMP}`);
    expect(crmVersionOf({ id: 'a', modifiedAt: 'not a time' }, at(60_000))).toBeNull();
  });

  it('R26 the change feed looks once more at a stamp-only change it queued within its second, once that second is over', () => {
    const change: DealChange = { kind: 'opportunity', id: 'a', reason: 'deal', modifiedAt: STAMP };
    const seen = new SeenChanges();
    expect(seen.isNew(change, at(200))).toBe(true);
    seen.remember(change, at(200));
    expect(seen.isNew(change, at(400))).toBe(false);
    expect(seen.isNew(change, at(STAMP_SETTLE_MS))).toBe(true);
    seen.remember(change, at(STAMP_SETTLE_MS));
    expect(seen.isNew(change, at(60_000))).toBe(false);
    const versioned: DealChange = { ...change, id: 'b', version: '7' };
    seen.remember(versioned, at(0));
    expect(seen.isNew(versioned, at(0))).toBe(false);
  });
});
