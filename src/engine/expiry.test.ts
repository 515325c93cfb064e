import { describe, expect, it } from 'vitest';
import { isDueForWarning } from './expiry.ts';

const now = new Date('2026-12-05T12:00:00Z');
const DAY = 24 * 3_600_000;

describe('isDueForWarning', () => {
  it('R30 warns about a waiting referral whose deadline falls inside the window, and nothing else', () => {
    const due = '2026-12-07T12:00:00Z';
    expect(isDueForWarning({ status: 'Pending', responseDeadline: due }, now, 3 * DAY)).toBe(due);
    expect(isDueForWarning({ status: 'Received', responseDeadline: due }, now, 3 * DAY)).toBe(due);
    // Outside the window, already passed, answered, or no deadline: nothing to say.
    expect(isDueForWarning({ status: 'Pending', responseDeadline: due }, now, DAY)).toBeNull();
    expect(
      isDueForWarning({ status: 'Pending', responseDeadline: '2026-12-05T11:00:00Z' }, now, DAY),
    ).toBeNull();
    expect(isDueForWarning({ status: 'Accepted', responseDeadline: due }, now, 3 * DAY)).toBeNull();
    expect(isDueForWarning({ status: 'Pending', responseDeadline: null }, now, 3 * DAY)).toBeNull();
    expect(isDueForWarning(null, now, 3 * DAY)).toBeNull();
  });
});
