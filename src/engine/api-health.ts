// What each API's real traffic says about it (`/readyz`, `/metrics`, the dashboard's connections): calls by how
// they ended, the last success and the last failure. Read from the calls the sync makes anyway, so checking
// health costs no API budget.
import { type CallStatus, callStatusOf } from './api-calls.ts';
import type { ApiName } from './errors.ts';

export interface ApiHealthReport {
  api: ApiName;
  /** Calls since the service started, by how they ended. */
  calls: Partial<Record<CallStatus, number>>;
  lastOkAt: Date | null;
  lastFailure: { at: Date; status: CallStatus; message: string } | null;
  /** False when the last call could not reach the API (network, 5xx) and nothing succeeded since. */
  reachable: boolean;
}

const DOWN: readonly CallStatus[] = ['unreachable', 'server-error'];

export class ApiHealth {
  private readonly state = new Map<ApiName, Omit<ApiHealthReport, 'api' | 'reachable'> & { down: boolean }>();

  constructor(private readonly now: () => Date) {}

  /** `n` calls of one client method; when `error` is given, the last of them failed with it. */
  record(api: ApiName, n: number, error?: unknown): void {
    const entry = this.entry(api);
    const ok = error === undefined ? n : Math.max(0, n - 1);
    if (ok > 0) {
      entry.calls.ok = (entry.calls.ok ?? 0) + ok;
      entry.lastOkAt = this.now();
      entry.down = false;
    }
    if (error === undefined) return;
    const status = callStatusOf(error);
    entry.calls[status] = (entry.calls[status] ?? 0) + 1;
    entry.lastFailure = { at: this.now(), status, message: (error as Error)?.message ?? String(error) };
    // Only a call that never reached the API (or found it failing) says it is down; a 4xx or 429 answered.
    entry.down = DOWN.includes(status);
  }

  report(): ApiHealthReport[] {
    return (['partner-center', 'crm'] as const).map((api) => {
      const { down, ...entry } = this.entry(api);
      return { api, ...entry, calls: { ...entry.calls }, reachable: !down };
    });
  }

  private entry(api: ApiName) {
    let entry = this.state.get(api);
    if (!entry) {
      entry = { calls: {}, lastOkAt: null, lastFailure: null, down: false };
      this.state.set(api, entry);
    }
    return entry;
  }
}
