// The emulators' one counter shape (`GET {control}/counters`, emulators/shared/calls.ts), read over HTTP as any
// script would, and the difference of two readings.
import type { Counters } from '../../emulators/shared/calls.ts';

export type { Counters };

/** What a change cost on one API: HTTP requests, and reads and writes counted one by one inside batches. */
export interface Cost {
  requests: number;
  reads: number;
  writes: number;
  /** Records written (an sObject collection call writes many in one operation). */
  recordsWritten: number;
  /** `"<METHOD> <endpoint>"` → operations, for the tables' detail. */
  endpoints: Record<string, number>;
}

export const ZERO: Cost = { requests: 0, reads: 0, writes: 0, recordsWritten: 0, endpoints: {} };

export async function readCounters(control: string): Promise<Counters> {
  const response = await fetch(`${control}/counters`);
  if (!response.ok) throw new Error(`GET ${control}/counters answered ${response.status}`);
  return (await response.json()) as Counters;
}

export async function resetCounters(control: string): Promise<void> {
  const response = await fetch(`${control}/counters`, { method: 'DELETE' });
  if (!response.ok) throw new Error(`DELETE ${control}/counters answered ${response.status}`);
}

export function costOf(counters: Counters): Cost {
  const endpoints: Record<string, number> = {};
  let recordsWritten = 0;
  for (const [key, count] of Object.entries(counters.endpoints)) {
    if (count.kind === 'token') continue;
    endpoints[key] = count.direct + count.batched;
    if (count.kind === 'write') recordsWritten += count.records;
  }
  return {
    requests: counters.requests,
    reads: counters.reads,
    writes: counters.writes,
    recordsWritten,
    endpoints,
  };
}

export function add(a: Cost, b: Cost, sign = 1): Cost {
  const endpoints = { ...a.endpoints };
  for (const [key, n] of Object.entries(b.endpoints)) {
    endpoints[key] = (endpoints[key] ?? 0) + sign * n;
    if (endpoints[key] === 0) delete endpoints[key];
  }
  return {
    requests: a.requests + sign * b.requests,
    reads: a.reads + sign * b.reads,
    writes: a.writes + sign * b.writes,
    recordsWritten: a.recordsWritten + sign * b.recordsWritten,
    endpoints,
  };
}

export function scale(cost: Cost, factor: number): Cost {
  const round = (n: number) => Math.round(n * factor * 100) / 100;
  return {
    requests: round(cost.requests),
    reads: round(cost.reads),
    writes: round(cost.writes),
    recordsWritten: round(cost.recordsWritten),
    endpoints: Object.fromEntries(Object.entries(cost.endpoints).map(([k, n]) => [k, round(n)])),
  };
}
