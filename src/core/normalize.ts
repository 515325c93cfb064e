// Value normalisation for the 3-way diff (DESIGN.md §3): two values that mean the same must compare equal,
// whichever side wrote them and however the wire spelled them. Every function is total: bad input gives
// null (or undefined for "no mapping"), never an exception.

export type DatePrecision = 'day' | 'second';

export interface DateNormalization {
  precision: DatePrecision;
  /** 'UTC': convert to UTC before taking the day. Omitted: the calendar day as written in the value's own
   *  offset ("2026-12-31T23:30:00-05:00" is 2026-12-31). Second precision is always rendered in UTC. */
  timeZone?: 'UTC';
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
// Partner Center writes 7 fractional digits; JavaScript keeps milliseconds, so the rest is cut here.
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function isRealDay(year: number, month: number, day: number): boolean {
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

function utcDay(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

function utcSecond(ms: number): string {
  const d = new Date(ms);
  return `${utcDay(ms)}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}Z`;
}

function offsetMinutes(zone: string | undefined): number {
  if (!zone || zone.toUpperCase() === 'Z') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
  if (!m) return Number.NaN;
  const minutes = Number(m[2]) * 60 + Number(m[3] ?? 0);
  return m[1] === '-' ? -minutes : minutes;
}

/**
 * A date as a canonical string: 'YYYY-MM-DD' (day) or 'YYYY-MM-DDTHH:MM:SSZ' (second, UTC, truncated).
 * Accepts ISO strings with any number of fractional digits, with or without offset (none = UTC),
 * 'YYYY-MM-DD' (midnight UTC), and Date objects. Anything else, or an impossible date, gives null.
 */
export function normalizeDate(value: unknown, options: DateNormalization): string | null {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) return null;
    return options.precision === 'day' ? utcDay(ms) : utcSecond(ms);
  }
  if (typeof value !== 'string') return null;
  const text = value.trim();
  const dateOnly = DATE_ONLY.exec(text);
  if (dateOnly) {
    const [y, mo, d] = [Number(dateOnly[1]), Number(dateOnly[2]), Number(dateOnly[3])];
    if (!isRealDay(y, mo, d)) return null;
    return options.precision === 'day' ? text : `${text}T00:00:00Z`;
  }
  const m = DATE_TIME.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (!isRealDay(y, mo, d) || h > 23 || mi > 59 || s > 59) return null;
  const offset = offsetMinutes(m[8]);
  if (Number.isNaN(offset)) return null;
  const millis = Number((m[7] ?? '0').slice(0, 3).padEnd(3, '0'));
  const utcMs = Date.UTC(y, mo - 1, d, h, mi, s, millis) - offset * 60_000;
  if (options.precision === 'second') return utcSecond(utcMs);
  return options.timeZone === 'UTC' ? utcDay(utcMs) : `${m[1]}-${m[2]}-${m[3]}`;
}

// Doubles carry 15-17 significant digits; 15 is the most that always round-trips, so 0.1 + 0.2 -> '0.3'.
const NUMBER_SIGNIFICANT_DIGITS = 15;
const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i;

/** Rewrites a decimal literal (optionally with exponent) without exponent, sign noise or extra zeros. */
function canonicalDecimal(literal: string): string | null {
  const m = DECIMAL.exec(literal);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return null;
  const sign = m[1] === '-' ? '-' : '';
  const fractionIn = m[3] ?? '';
  let digits = (m[2] ?? '') + fractionIn;
  let point = (m[2] ?? '').length + Number(m[4] ?? 0);
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  }
  if (point > digits.length) digits = digits.padEnd(point, '0');
  const integer = digits.slice(0, point).replace(/^0+/, '') || '0';
  const fraction = digits.slice(point).replace(/0+$/, '');
  const body = fraction ? `${integer}.${fraction}` : integer;
  return body === '0' ? '0' : sign + body;
}

/**
 * Money as a canonical decimal string: 1000.5, '1000.50' and ' 1000.500 ' all give '1000.5'.
 * Partner Center sends numbers but accepts numeric strings (reference §2); CRMs send numbers.
 * Strings keep every digit they carry; numbers are read to 15 significant digits to drop float noise.
 * Null, empty and non-numeric input give null.
 */
export function normalizeMoney(value: unknown): string | null {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return null;
    return canonicalDecimal(value.toPrecision(NUMBER_SIGNIFICANT_DIGITS));
  }
  if (typeof value !== 'string') return null;
  const text = value.trim();
  return text === '' ? null : canonicalDecimal(text);
}

/**
 * Text with layout noise removed: trimmed, runs of spaces/tabs collapsed to one space, line endings
 * unified to \n and blanks around them dropped. Line breaks themselves are kept: notes are multi-line
 * and flattening them would rewrite a seller's text on the other side. Empty gives null.
 */
export function normalizeText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return null;
  const text = String(value)
    .replace(/\r\n?/g, '\n')
    .replace(/[^\S\n]+/g, ' ')
    .replace(/ ?\n ?/g, '\n')
    .trim();
  return text === '' ? null : text;
}

/** Booleans from CRM checkboxes and strings: true/false, 'true'/'false', 'yes'/'no', 1/0. Else null. */
export function normalizeBoolean(value: unknown): boolean | null {
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === 0) return value === 1;
  if (typeof value !== 'string') return null;
  const text = value.trim().toLowerCase();
  if (['true', 'yes', 'y', '1'].includes(text)) return true;
  if (['false', 'no', 'n', '0'].includes(text)) return false;
  return null;
}

/** The marks written to a deal name after a sync (R20). */
export const STATUS_MARKS = { ok: '✔', error: '✖' } as const;
export type StatusMark = keyof typeof STATUS_MARKS;

// Also strips look-alikes a user may type or a CRM may substitute, and the emoji variation selector.
const MARK_CHARS = '✔✖✓✗✘✅❌\uFE0F';
const LEADING_MARKS = new RegExp(`^[\\s${MARK_CHARS}]+`, 'u');
const TRAILING_MARKS = new RegExp(`[\\s${MARK_CHARS}]+$`, 'u');

/** A deal name without ✔/✖ marks (and their spacing) at either end. Marks inside the name are kept. */
export function stripStatusMarks(name: string): string {
  return name.replace(TRAILING_MARKS, '').replace(LEADING_MARKS, '');
}

/** Which mark a stored name ends with, if any ('Contoso ✖' -> 'error'). */
export function statusMarkOf(name: string): StatusMark | undefined {
  const trimmed = name.replace(/(?:\s|\uFE0F)+$/u, '');
  if (trimmed.endsWith(STATUS_MARKS.ok)) return 'ok';
  if (trimmed.endsWith(STATUS_MARKS.error)) return 'error';
  return undefined;
}

/**
 * The name with exactly one mark at the end ('Contoso deal ✔'), or none for null. When `maxLength` is
 * given (Salesforce Opportunity.Name holds 120 characters), the name is shortened so the mark still fits.
 */
export function withStatusMark(name: string, mark: StatusMark | null, maxLength?: number): string {
  const base = stripStatusMarks(name);
  const suffix = mark ? ` ${STATUS_MARKS[mark]}` : '';
  if (maxLength === undefined || base.length + suffix.length <= maxLength) return base + suffix;
  return base.slice(0, Math.max(0, maxLength - suffix.length)).trimEnd() + suffix;
}

export type PicklistDirection = 'toCrm' | 'toReferral';

/**
 * Translates a picklist value through a map written referral value -> CRM value.
 * 'toCrm' looks the key up; 'toReferral' finds the key whose CRM value matches (trimmed, any case).
 * Null stays null; a value with no entry gives undefined, so a caller can tell "unmapped" from "empty".
 */
export function mapPicklist(
  value: string | null | undefined,
  valueMap: Readonly<Record<string, string>>,
  direction: PicklistDirection,
): string | null | undefined {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  if (direction === 'toCrm') return Object.hasOwn(valueMap, text) ? valueMap[text] : undefined;
  const wanted = text.toLowerCase();
  for (const [referralValue, crmValue] of Object.entries(valueMap)) {
    if (crmValue.trim().toLowerCase() === wanted) return referralValue;
  }
  return undefined;
}

/** JSON with sorted keys, normalised strings and null/empty members dropped, for equality only. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonicalValue(value)) ?? 'null';
}

function canonicalValue(value: unknown): unknown {
  if (typeof value === 'string') return normalizeText(value);
  if (Array.isArray(value)) return value.length === 0 ? null : value.map(canonicalValue);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = canonicalValue((value as Record<string, unknown>)[key]);
      if (v !== null && v !== undefined) out[key] = v;
    }
    return Object.keys(out).length === 0 ? null : out;
  }
  return value ?? null;
}
