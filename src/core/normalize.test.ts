import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  mapPicklist,
  normalizeBoolean,
  normalizeDate,
  normalizeMoney,
  normalizeText,
  statusMarkOf,
  stripStatusMarks,
  withStatusMark,
} from './normalize.ts';

describe('normalizeDate (DESIGN §3 dates to a precision and time-zone rule)', () => {
  it.each([
    // input, precision, timeZone, expected
    ['2026-11-20T10:00:00.1234567Z', 'second', undefined, '2026-11-20T10:00:00Z'],
    ['2026-11-20T10:00:00.9999999Z', 'second', undefined, '2026-11-20T10:00:00Z'],
    ['2026-11-20T10:00:00.1234567Z', 'day', undefined, '2026-11-20'],
    ['2026-11-20T10:00:00+02:00', 'second', undefined, '2026-11-20T08:00:00Z'],
    ['2026-11-20T10:00:00.5485487+00:00', 'second', undefined, '2026-11-20T10:00:00Z'],
    ['2026-12-31T23:30:00-05:00', 'day', undefined, '2026-12-31'],
    ['2026-12-31T23:30:00-05:00', 'day', 'UTC', '2027-01-01'],
    ['2026-12-31T00:30:00+0100', 'day', 'UTC', '2026-12-30'],
    ['2026-11-20T22:53:56.000+0000', 'second', undefined, '2026-11-20T22:53:56Z'],
    ['2026-11-20T10:00', 'second', undefined, '2026-11-20T10:00:00Z'],
    ['2026-11-20', 'day', undefined, '2026-11-20'],
    ['2026-11-20', 'day', 'UTC', '2026-11-20'],
    ['2026-11-20', 'second', undefined, '2026-11-20T00:00:00Z'],
    [' 2026-11-20 ', 'day', undefined, '2026-11-20'],
    [new Date('2026-11-20T10:00:00.123Z'), 'second', undefined, '2026-11-20T10:00:00Z'],
    [new Date('2026-11-20T23:59:59Z'), 'day', 'UTC', '2026-11-20'],
  ] as const)('%s at %s precision (%s) -> %s', (input, precision, timeZone, expected) => {
    expect(normalizeDate(input, timeZone ? { precision, timeZone } : { precision })).toBe(expected);
  });

  it.each([
    null,
    undefined,
    '',
    'tomorrow',
    '2026-02-30',
    '2026-13-01T00:00:00Z',
    '2026-11-20T25:00:00Z',
    '20/11/2026',
    new Date('nope'),
    12345,
  ])('%s is not a date -> null', (input) => {
    expect(normalizeDate(input, { precision: 'day' })).toBeNull();
  });
});

describe('normalizeMoney (DESIGN §3 money as decimal from number or string)', () => {
  it.each([
    [1000.5, '1000.5'],
    ['1000.50', '1000.5'],
    [' 1000.500 ', '1000.5'],
    [1000.5, '1000.5'],
    ['10000', '10000'],
    [10000, '10000'],
    [0.1 + 0.2, '0.3'],
    [1.005 * 1000, '1005'],
    ['-0.00', '0'],
    [-0, '0'],
    ['007.10', '7.1'],
    ['.5', '0.5'],
    ['5.', '5'],
    ['1e3', '1000'],
    [1e21, '1000000000000000000000'],
    ['+12.30', '12.3'],
    ['-12.30', '-12.3'],
    ['12345678901234567890.123456789', '12345678901234567890.123456789'],
  ])('%s -> %s', (input, expected) => {
    expect(normalizeMoney(input)).toBe(expected);
  });

  it.each([
    null,
    undefined,
    '',
    '  ',
    'abc',
    '1,000.50',
    '12.3.4',
    Number.NaN,
    Number.POSITIVE_INFINITY,
    true,
  ])('%s -> null', (input) => {
    expect(normalizeMoney(input)).toBeNull();
  });

  it('an echo of the same amount as number and string compares equal', () => {
    expect(normalizeMoney(1000.5)).toBe(normalizeMoney('1000.50'));
  });
});

describe('normalizeText', () => {
  it.each([
    ['  Contoso  ', 'Contoso'],
    ['Contoso   Ltd', 'Contoso Ltd'],
    ['a\tb', 'a b'],
    ['line 1  \r\n  line 2\rline 3', 'line 1\nline 2\nline 3'],
    ['', null],
    ['   ', null],
    [null, null],
    [undefined, null],
    [42, '42'],
    [{}, null],
  ])('%j -> %j', (input, expected) => {
    expect(normalizeText(input)).toBe(expected);
  });
});

describe('normalizeBoolean', () => {
  it.each([
    [true, true],
    [false, false],
    ['true', true],
    ['Yes', true],
    ['no', false],
    [1, true],
    [0, false],
    ['maybe', null],
    [null, null],
  ])('%j -> %j', (input, expected) => {
    expect(normalizeBoolean(input)).toBe(expected);
  });
});

describe('status marks (R20)', () => {
  it.each([
    ['Contoso deal ✔', 'Contoso deal'],
    ['Contoso deal ✖', 'Contoso deal'],
    ['Contoso deal✔', 'Contoso deal'],
    ['Contoso deal ✔ ✖', 'Contoso deal'],
    ['✔ Contoso deal', 'Contoso deal'],
    ['Contoso deal ✔️', 'Contoso deal'],
    ['Contoso deal ❌', 'Contoso deal'],
    ['Contoso ✔ deal', 'Contoso ✔ deal'],
    ['Contoso deal', 'Contoso deal'],
  ])('R20 stripStatusMarks(%j) -> %j', (input, expected) => {
    expect(stripStatusMarks(input)).toBe(expected);
  });

  it.each([
    ['Contoso deal', 'ok', 'Contoso deal ✔'],
    ['Contoso deal ✔', 'error', 'Contoso deal ✖'],
    ['Contoso deal ✖', 'ok', 'Contoso deal ✔'],
    ['Contoso deal ✖', null, 'Contoso deal'],
  ] as const)('R20 withStatusMark(%j, %s) -> %j (replaces the other mark)', (name, mark, expected) => {
    expect(withStatusMark(name, mark)).toBe(expected);
  });

  it('R20 withStatusMark shortens the name so the mark fits the field', () => {
    const result = withStatusMark('x'.repeat(120), 'ok', 120);
    expect(result).toHaveLength(120);
    expect(result.endsWith(' ✔')).toBe(true);
  });
});

describe('mapPicklist (R22 value maps, both directions)', () => {
  const map = { ProofOfConceptOrDemo: 'Proof of concept or demo', GeneralOrOther: 'General or other' };
  it.each([
    ['ProofOfConceptOrDemo', 'toCrm', 'Proof of concept or demo'],
    ['Proof of concept or demo', 'toReferral', 'ProofOfConceptOrDemo'],
    [' proof of CONCEPT or demo ', 'toReferral', 'ProofOfConceptOrDemo'],
    ['Nope', 'toCrm', undefined],
    ['Nope', 'toReferral', undefined],
    [null, 'toCrm', null],
  ] as const)('%j %s -> %j', (value, direction, expected) => {
    expect(mapPicklist(value, map, direction)).toBe(expected);
  });

  it('does not treat Object.prototype keys as mapped', () => {
    expect(mapPicklist('toString', map, 'toCrm')).toBeUndefined();
  });
});

describe('canonicalJson', () => {
  it('ignores key order, null members, empty lists and string padding', () => {
    expect(canonicalJson({ b: ' x ', a: null, c: [] })).toBe(canonicalJson({ b: 'x' }));
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: 2 }));
  });
});

describe('statusMarkOf', () => {
  it.each([
    ['Contoso ✔', 'ok'],
    ['Contoso ✖ ', 'error'],
    ['Contoso ✔\uFE0F', 'ok'],
    ['Contoso', undefined],
    ['✔ inside name', undefined],
  ])('R20 reads the mark of %j as %s', (name, mark) => {
    expect(statusMarkOf(name)).toBe(mark);
  });
});
