import { describe, expect, it } from 'vitest';
import { appendAuditLine, formatAuditLine } from './audit.ts';

const now = new Date('2026-11-20T10:00:00.123Z');

describe('formatAuditLine (R19)', () => {
  it.each([
    [
      { now, direction: 'CRM->PC', changes: ['deal value 1000 -> 1200', 'close date'] },
      '2026-11-20 10:00:00 UTC CRM->PC: deal value 1000 -> 1200; close date',
    ],
    [{ now, direction: 'PC->CRM' }, '2026-11-20 10:00:00 UTC PC->CRM: synced'],
    [
      {
        now,
        direction: 'CRM->PC',
        error: {
          message: 'Customer account country code is missing.\nSecond line',
          fix: 'Set US on the account.',
        },
      },
      '2026-11-20 10:00:00 UTC CRM->PC ✖ Customer account country code is missing. Second line Fix: Set US on the account.',
    ],
    [{ now, direction: 'PC->CRM', error: { message: 'Boom' } }, '2026-11-20 10:00:00 UTC PC->CRM ✖ Boom'],
  ] as const)('R19 one dated line: %j', (input, expected) => {
    const line = formatAuditLine(input);
    expect(line).toBe(expected);
    expect(line).not.toContain('\n');
  });
});

describe('appendAuditLine (R19 bounded to the field size)', () => {
  it('R19 appends newest last', () => {
    expect(appendAuditLine(null, 'a', 100)).toBe('a');
    expect(appendAuditLine('a\nb', 'c', 100)).toBe('a\nb\nc');
  });

  it('R19 drops the oldest whole lines to fit', () => {
    expect(appendAuditLine('line-1\nline-2\nline-3', 'line-4', 19)).toBe('line-3\nline-4');
    expect(appendAuditLine('line-1\nline-2\nline-3', 'line-4', 20)).toBe('line-2\nline-3\nline-4');
    const out = appendAuditLine('1111\n2222\n3333', '4444', 14);
    expect(out).toBe('2222\n3333\n4444');
    expect(out.length).toBeLessThanOrEqual(14);
  });

  it('R19 stays within 100000 characters over many syncs', () => {
    let audit = '';
    for (let i = 0; i < 1200; i++) {
      audit = appendAuditLine(
        audit,
        formatAuditLine({ now, direction: 'CRM->PC', changes: [`change ${i} ${'x'.repeat(80)}`] }),
        100_000,
      );
    }
    expect(audit.length).toBeLessThanOrEqual(100_000);
    expect(audit.split('\n').at(-1)).toContain('change 1199 ');
    expect(audit.split('\n')[0]).toMatch(/^2026-11-20 10:00:00 UTC CRM->PC: change \d+ x+$/);
  });

  it('a line longer than the field is cut', () => {
    expect(appendAuditLine('old', 'abcdefghij', 5)).toBe('abcd…');
  });
});
