import { describe, expect, it } from 'vitest';
import type { Referral } from '../core/referral.ts';
import { alreadySeen, OwnChanges } from './own-changes.ts';

const written = (id: string, updatedDateTime: string) => ({ id, updatedDateTime }) as unknown as Referral;
const EVENT = '2026-12-07T06:00:00.1230000+00:00';

describe('webhooks for changes cosell has already seen (issue 12)', () => {
  it("R25 an event no later than cosell's own write is seen; a later one is not", () => {
    const own = new OwnChanges();
    own.note(written('r1', '2026-12-07T06:00:00.123Z'));
    expect(alreadySeen(own, 'r1', EVENT, null)).toBe(true);
    expect(alreadySeen(own, 'r1', '2026-12-07T06:00:00.1240000+00:00', null)).toBe(false);
    expect(alreadySeen(own, 'r2', EVENT, null)).toBe(false);
  });

  it("R25 after a restart the snapshot's stamp answers, but never for a failed link or an unreadable date", () => {
    const own = new OwnChanges();
    const snapshot = { referralUpdatedAt: '2026-12-07T06:00:01.000Z', error: null };
    expect(alreadySeen(own, 'r1', EVENT, snapshot)).toBe(true);
    expect(alreadySeen(own, 'r1', EVENT, { ...snapshot, error: { rule: 'x', message: 'y' } })).toBe(false);
    expect(alreadySeen(own, 'r1', 'yesterday', snapshot)).toBe(false);
    expect(alreadySeen(own, 'r1', EVENT, { referralUpdatedAt: null, error: null })).toBe(false);
  });

  it('R25 keeps the newest referrals written, up to its limit', () => {
    const own = new OwnChanges(2);
    own.note(written('a', '2026-12-07T06:00:00.123Z'));
    own.note(written('b', '2026-12-07T06:00:00.123Z'));
    own.note(written('c', '2026-12-07T06:00:00.123Z'));
    expect(alreadySeen(own, 'a', EVENT, null)).toBe(false);
    expect(alreadySeen(own, 'c', EVENT, null)).toBe(true);
    own.note(null);
  });
});
