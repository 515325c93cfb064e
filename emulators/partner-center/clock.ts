// Server-set values: Partner Center timestamps (7 fractional digits + 'Z'), ids and eTags.
import { randomBytes, randomUUID } from 'node:crypto';

/** 100 ns ticks, the resolution Partner Center timestamps show. */
const TICKS_PER_MS = 10_000;

/**
 * A clock whose readings strictly increase, so two writes in the same millisecond still get distinct
 * `updatedDateTime` values (clients order and deduplicate by them).
 */
export class MonotonicClock {
  private lastTicks = 0;

  constructor(private readonly nowMs: () => number = Date.now) {}

  /** The current time as Partner Center writes it, e.g. `2026-11-20T10:00:00.1234567Z`. */
  timestamp(): string {
    const ticks = Math.max(this.nowMs() * TICKS_PER_MS, this.lastTicks + 1);
    this.lastTicks = ticks;
    return formatTicks(ticks);
  }
}

function formatTicks(ticks: number): string {
  const ms = Math.floor(ticks / TICKS_PER_MS);
  const rest = ticks - ms * TICKS_PER_MS;
  const iso = new Date(ms).toISOString(); // 2026-11-20T10:00:00.123Z
  return `${iso.slice(0, -1)}${String(rest).padStart(4, '0')}Z`;
}

/** Any ISO time as Partner Center writes it (7 fractional digits + 'Z'). */
export function toPartnerCenterTime(date: Date): string {
  return formatTicks(date.getTime() * TICKS_PER_MS);
}

export function addDays(timestamp: string, days: number): string {
  return toPartnerCenterTime(new Date(Date.parse(timestamp) + days * 86_400_000));
}

export const newId = (): string => randomUUID();

/** Cosmos-style quoted eTag, e.g. `"2500ec5a-0000-0000-0000-5bf4967d0000"` (quotes included, as documented). */
export function newETag(): string {
  const a = randomBytes(4).toString('hex');
  const b = randomBytes(4).toString('hex');
  return `"${a}-0000-0000-0000-${b}0000"`;
}

/** Compares an `If-Match` header with an eTag, ignoring quoting and weak markers. */
export function eTagMatches(ifMatch: string, eTag: string): boolean {
  const bare = (value: string) =>
    value
      .trim()
      .replace(/^W\//, '')
      .replace(/^"+|"+$/g, '');
  if (ifMatch.trim() === '*') return true;
  return ifMatch.split(',').some((candidate) => bare(candidate) === bare(eTag));
}

/** An MSX opportunity id as Microsoft sellers see it, e.g. `7-3KX9PQ2M7B`. */
export function newMsxId(): string {
  const alphabet = '0123456789ABCDEFGHJKLMNPQRSTUVWXYZ';
  const bytes = randomBytes(10);
  let id = '7-';
  for (const byte of bytes) id += alphabet[byte % alphabet.length];
  return id;
}
