import { describe, expect, it } from 'vitest';
import { tokenAgeCheck } from './token-renewal.ts';

const DAY = 86_400_000;
const now = new Date('2026-12-05T12:00:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms);

describe('tokenAgeCheck', () => {
  it('R3 shows the age and the next renewal of a fresh token', () => {
    const check = tokenAgeCheck(ago(3 * 3_600_000), now, DAY);
    expect(check.ok).toBe(true);
    expect(check.message).toContain('last renewed 3 h ago');
    expect(check.message).toContain('next renewal at 2026-12-06T09:00:00.000Z');
  });

  it('R3 R28 fails 15 days before Entra drops an unused token, and once it has, with the login fix', () => {
    const close = tokenAgeCheck(ago(80 * DAY), now, DAY);
    expect(close).toMatchObject({ ok: false });
    expect(close.message).toContain('Entra drops it in 10 days');
    const gone = tokenAgeCheck(ago(91 * DAY), now, DAY);
    expect(gone).toMatchObject({ ok: false, fix: expect.stringContaining('cosell login') });
  });

  it('R3 an installation signed in before the renewal existed is not a failure', () => {
    expect(tokenAgeCheck(null, now, DAY).ok).toBe(true);
  });
});
