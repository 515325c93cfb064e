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

/**
 * The Referrals client counting one call per request: get, create, update and each page of a list. Other
 * methods (applyChange, findRecent…, listRelated) are built on these and run with `this` = the wrapper,
 * so their requests are counted too.
 */
export function countReferralCalls(
  client: ReferralsClient,
  onCall: (n: number) => void = () => {},
): ReferralsClient {
  const single = new Set(['get', 'create', 'update']);
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => unknown;
      if (single.has(String(prop))) {
        return (...args: unknown[]) => {
          add(PARTNER_CENTER_REFERRALS, 1);
          onCall(1);
          return fn.apply(receiver, args);
        };
      }
      if (prop === 'listPages') {
        return async function* (...args: unknown[]) {
          const pages = fn.apply(target, args) as AsyncGenerator<unknown>;
          for (;;) {
            const next = await pages.next();
            if (next.done) return;
            add(PARTNER_CENTER_REFERRALS, 1);
            onCall(1);
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
): CrmAdapter {
  const callCount = () => adapter.apiCallCount();
  return new Proxy(adapter, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || prop === 'apiCallCount') return value;
      const fn = value as (...args: unknown[]) => unknown;
      return async (...args: unknown[]) => {
        const before = callCount();
        try {
          return await fn.apply(target, args);
        } finally {
          const n = callCount() - before;
          add(key, n);
          if (n > 0) onCall(n);
        }
      };
    },
  });
}
