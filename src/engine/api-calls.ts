// API calls per run (R25), without the clients knowing about runs: the engine wraps them once, and every
// call made inside a run's async context is added to that run's counters.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { CrmAdapter } from '../crm/port.ts';
import type { ReferralsClient } from '../partner-center/referrals.ts';

export type CallCounters = Record<string, number>;

const current = new AsyncLocalStorage<CallCounters>();

/** Runs `work` with `calls` as the counters of every API call made inside it (also when it throws). */
export function withCallCounters<T>(calls: CallCounters, work: () => Promise<T>): Promise<T> {
  return current.run(calls, work);
}

function add(key: string, n: number): void {
  if (n <= 0) return;
  const calls = current.getStore();
  if (calls) calls[key] = (calls[key] ?? 0) + n;
}

export const PARTNER_CENTER_REFERRALS = 'partner-center.referrals';

/** How a call ended, as `/metrics` and `/readyz` report it (not the raw status: the CRMs' clients differ). */
export type CallStatus =
  | 'ok'
  | 'throttled'
  | 'unauthorized'
  | 'client-error'
  | 'server-error'
  | 'unreachable';

/** `n` calls made by one client method; when it threw, the last of them ended as `error` says. */
export type CallOutcome = (n: number, error?: unknown) => void;

export function callStatusOf(error: unknown): CallStatus {
  const e = error as { status?: unknown; authFailed?: unknown; name?: unknown } | null;
  if (e?.authFailed === true || e?.name === 'PartnerCenterAuthError') return 'unauthorized';
  const status = typeof e?.status === 'number' ? e.status : undefined;
  if (status === undefined) return 'unreachable';
  if (status === 429) return 'throttled';
  if (status === 401 || status === 403) return 'unauthorized';
  return status >= 500 ? 'server-error' : 'client-error';
}

/**
 * The Referrals client counting one call per request: get, create, update and each page of a list. Other
 * methods (applyChange, findRecent…, listRelated) are built on these and run with `this` = the wrapper,
 * so their requests are counted too.
 */
export function countReferralCalls(
  client: ReferralsClient,
  onCall: (n: number) => void = () => {},
  onOutcome: CallOutcome = () => {},
): ReferralsClient {
  const single = new Set(['get', 'create', 'update']);
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => unknown;
      if (single.has(String(prop))) {
        return async (...args: unknown[]) => {
          add(PARTNER_CENTER_REFERRALS, 1);
          onCall(1);
          try {
            const value = await fn.apply(receiver, args);
            onOutcome(1);
            return value;
          } catch (error) {
            onOutcome(1, error);
            throw error;
          }
        };
      }
      if (prop === 'listPages') {
        return async function* (...args: unknown[]) {
          const pages = fn.apply(target, args) as AsyncGenerator<unknown>;
          for (;;) {
            let next: IteratorResult<unknown>;
            try {
              next = await pages.next();
            } catch (error) {
              onOutcome(1, error);
              throw error;
            }
            if (next.done) return;
            add(PARTNER_CENTER_REFERRALS, 1);
            onCall(1);
            onOutcome(1);
            yield next.value;
          }
        };
      }
      return (...args: unknown[]) => fn.apply(receiver, args);
    },
  });
}

/**
 * The CRM adapter counting calls by the adapter's own counter (`apiCallCount`), read around each method. Under
 * worker concurrency a method's count can include calls another run started meanwhile: the figure is exact
 * with one worker and an upper bound otherwise.
 */
export function countCrmCalls(
  adapter: CrmAdapter,
  key: string,
  onCall: (n: number) => void = () => {},
  onOutcome: CallOutcome = () => {},
): CrmAdapter {
  const callCount = () => adapter.apiCallCount();
  return new Proxy(adapter, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || prop === 'apiCallCount') return value;
      const fn = value as (...args: unknown[]) => unknown;
      return async (...args: unknown[]) => {
        const before = callCount();
        let failure: { error: unknown } | undefined;
        try {
          return await fn.apply(target, args);
        } catch (error) {
          failure = { error };
          throw error;
        } finally {
          const n = callCount() - before;
          add(key, n);
          if (n > 0) onCall(n);
          if (failure) onOutcome(n, failure.error);
          else if (n > 0) onOutcome(n);
        }
      };
    },
  });
}
