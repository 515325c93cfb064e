// Per-API circuits (R3, R27): an API whose credentials were refused, whose daily budget is used up or that keeps
// throttling is paused — its work waits, nothing is dropped or dead-lettered — and says why and until when.
// No I/O and no timers: the engine asks and probes; the clock is passed in, so tests skip time.
// Several workers on one store share their circuits (a 429 one of them got pauses all, the day's calls of all
// count against one budget): `SharedCircuits` is what the store keeps, `takeChanges` / `adopt` what the engine
// moves between it and this process, `mergeShared` the pure rule applied under the store's lock.
import type { Logger } from 'pino';
import { addUse, type BudgetState, DailyBudget, nextUtcMidnight } from '../lib/daily-budget.ts';
import type { ApiName, ErrorVerdict } from './errors.ts';

export interface PausedApi {
  api: ApiName;
  until: Date;
  reason: string;
  fix: string;
}

interface Pause {
  until: number;
  reason: string;
  fix: string;
  /** Consecutive refusals: the pause doubles while the probe keeps failing. */
  strikes: number;
  /** When this spell began (a close of the spell by another process removes only spells begun before it). */
  openedAt: number;
}

const APIS: readonly ApiName[] = ['partner-center', 'crm'];

/** What the store keeps for every process of a tenant: open pauses and the day's count of calls per API. */
export interface SharedCircuits {
  pauses: Partial<Record<ApiName, { until: number; reason: string; fix: string; openedAt: number }>>;
  budgets: Partial<Record<ApiName, BudgetState>>;
}

/** What one process changed since it last shared: pauses it opened or moved, pauses a success closed, calls. */
export interface CircuitChanges {
  opened: Partial<Record<ApiName, { until: number; reason: string; fix: string; openedAt: number }>>;
  closed: Partial<Record<ApiName, number>>;
  calls: Partial<Record<ApiName, BudgetState>>;
}

export function parseShared(text: string | null): SharedCircuits {
  try {
    const value = text ? (JSON.parse(text) as Partial<SharedCircuits>) : {};
    return { pauses: value.pauses ?? {}, budgets: value.budgets ?? {} };
  } catch {
    // An unreadable row starts the day's count again rather than stopping the service.
    return { pauses: {}, budgets: {} };
  }
}

/** The stored circuits after one process's changes: the later end of two pauses wins; a close removes only a
 *  spell begun before it; calls add up per UTC day. */
export function mergeShared(stored: SharedCircuits, changes: CircuitChanges): SharedCircuits {
  const pauses = { ...stored.pauses };
  const budgets = { ...stored.budgets };
  for (const api of APIS) {
    const closedAt = changes.closed[api];
    const existing = pauses[api];
    if (closedAt !== undefined && existing && existing.openedAt <= closedAt) delete pauses[api];
    const opened = changes.opened[api];
    const current = pauses[api];
    if (opened && (!current || current.until < opened.until)) pauses[api] = opened;
    const calls = changes.calls[api];
    if (calls) budgets[api] = addUse(budgets[api] ?? null, calls);
  }
  return { pauses, budgets };
}

export function hasChanges(changes: CircuitChanges): boolean {
  return [changes.opened, changes.closed, changes.calls].some((part) => Object.keys(part).length > 0);
}

export interface CircuitSettings {
  credentialPauseMs: number;
  budgetPauseMs: number;
  budgets: { partnerCenterPerDay: number | null; crmPerDay: number | null };
}

const BUDGET_KEY: Readonly<Record<ApiName, 'partnerCenterPerDay' | 'crmPerDay'>> = {
  'partner-center': 'partnerCenterPerDay',
  crm: 'crmPerDay',
};
const API_LABEL: Readonly<Record<ApiName, string>> = { 'partner-center': 'Partner Center', crm: 'CRM' };

export class Circuits {
  private readonly pauses = new Map<ApiName, Pause>();
  private readonly budgets: Record<ApiName, DailyBudget>;
  private opened: CircuitChanges['opened'] = {};
  private closed: CircuitChanges['closed'] = {};

  constructor(
    private readonly settings: CircuitSettings,
    private readonly now: () => Date,
    private readonly logger: Pick<Logger, 'warn'>,
  ) {
    this.budgets = {
      'partner-center': new DailyBudget(settings.budgets.partnerCenterPerDay),
      crm: new DailyBudget(settings.budgets.crmPerDay),
    };
  }

  isPaused(api: ApiName): boolean {
    const pause = this.pauses.get(api);
    return pause !== undefined && pause.until > this.now().getTime();
  }

  /** Opens the API's circuit for a pause verdict; returns when work may probe again. */
  pause(verdict: ErrorVerdict): number {
    const now = this.now().getTime();
    if (verdict.kind !== 'pause') return now;
    const previous = this.pauses.get(verdict.api);
    // Jobs already running when the circuit opened fail for the same cause: that is the same spell, not a refused
    // probe, so it does not double the pause.
    // Only a refusal of the same kind counts as another strike: a sign-in refused after a throttling spell is the
    // first strike of its own, not a doubled pause.
    const sameReason = previous !== undefined && previous.reason === verdict.reason;
    const sameSpell = sameReason && previous.until > now;
    const strikes = sameSpell ? previous.strikes : sameReason ? previous.strikes + 1 : 1;
    const base = verdict.reason === 'budget' ? this.settings.budgetPauseMs : this.settings.credentialPauseMs;
    const pauseMs = verdict.pauseMs ?? Math.min(base * 2 ** (strikes - 1), base * 16);
    // Within a spell only a later Retry-After moves the end (further out, never closer).
    const until = !sameSpell
      ? now + pauseMs
      : verdict.pauseMs !== undefined
        ? Math.max(previous.until, now + pauseMs)
        : previous.until;
    const openedAt = sameSpell ? previous.openedAt : now;
    this.pauses.set(verdict.api, { until, reason: verdict.reason, fix: verdict.fix, strikes, openedAt });
    if (!sameSpell || until !== previous.until) {
      this.opened[verdict.api] = { until, reason: verdict.reason, fix: verdict.fix, openedAt };
    }
    if (!previous || previous.until <= now) {
      this.logger.warn({
        event: 'api-paused',
        api: verdict.api,
        reason: verdict.reason,
        pauseMs,
        fix: verdict.fix,
      });
    }
    return until;
  }

  /** Pauses whose timer ran out, in the order they were opened: the engine probes credentials before work. */
  expired(): { api: ApiName; reason: string; fix: string }[] {
    const now = this.now().getTime();
    return [...this.pauses.entries()]
      .filter(([, p]) => p.until <= now)
      .map(([api, p]) => ({ api, reason: p.reason, fix: p.fix }));
  }

  /** True while any pause's timer runs: no job is claimed. */
  anyRunning(): boolean {
    const now = this.now().getTime();
    return [...this.pauses.values()].some((p) => p.until > now);
  }

  close(api: ApiName): void {
    if (this.pauses.delete(api)) this.markClosed(api);
  }

  /** A sync went through: refused credentials and throttling are over. A used-up budget is not: it lasts the day. */
  succeeded(): void {
    for (const [api, pause] of [...this.pauses.entries()]) {
      if (pause.reason === 'budget') continue;
      this.pauses.delete(api);
      this.markClosed(api);
    }
  }

  private markClosed(api: ApiName): void {
    delete this.opened[api];
    this.closed[api] = this.now().getTime();
  }

  paused(): PausedApi[] {
    const now = this.now().getTime();
    // A credentials pause lasts until a probe succeeds, not until its timer runs out: health must not flicker
    // green between two refused probes while nobody has signed in again.
    return [...this.pauses.entries()]
      .filter(([, p]) => p.until > now || p.reason === 'credentials')
      .map(([api, p]) => ({ api, until: new Date(p.until), reason: p.reason, fix: p.fix }));
  }

  // ---- daily budgets (R27) ---------------------------------------------------------------------------------

  /** Counts calls made; a used-up allowance pauses the API until midnight UTC. */
  spend(api: ApiName, n: number): void {
    this.budgets[api].add(n, this.now());
    this.checkBudget(api);
  }

  /** Calls made today (UTC) and the day's allowance (null: none), per API: what /metrics and the dashboard show. */
  usage(): { api: ApiName; usedToday: number; limit: number | null }[] {
    const now = this.now();
    return (['partner-center', 'crm'] as const).map((api) => ({
      api,
      usedToday: this.budgets[api].used(now),
      limit: this.budgets[api].limit,
    }));
  }

  // ---- sharing with the other processes of the tenant -----------------------------------------------------

  /** What changed here since the last call: to merge into the stored circuits (`mergeShared`). */
  takeChanges(): CircuitChanges {
    const now = this.now();
    const calls: CircuitChanges['calls'] = {};
    for (const api of APIS) {
      const taken = this.budgets[api].takePending(now);
      if (taken) calls[api] = taken;
    }
    const changes = { opened: this.opened, closed: this.closed, calls };
    this.opened = {};
    this.closed = {};
    return changes;
  }

  /** Changes the store did not take (it failed): shared again next time. */
  giveBack(changes: CircuitChanges): void {
    const now = this.now();
    this.opened = { ...changes.opened, ...this.opened };
    this.closed = { ...changes.closed, ...this.closed };
    for (const api of APIS) {
      const calls = changes.calls[api];
      if (calls) this.budgets[api].giveBack(calls, now);
    }
  }

  /** The stored circuits of every process: their calls count here, a pause one of them opened pauses here. */
  adopt(shared: SharedCircuits): void {
    const now = this.now();
    for (const api of APIS) {
      const budget = shared.budgets[api];
      if (budget) this.budgets[api].adopt(budget, now);
      this.checkBudget(api);
      const pause = shared.pauses[api];
      const local = this.pauses.get(api);
      if (!pause || pause.until <= now.getTime() || (local && local.until >= pause.until)) continue;
      this.pauses.set(api, { ...pause, strikes: local?.strikes ?? 1 });
      if (!local || local.until <= now.getTime()) {
        this.logger.warn({
          event: 'api-paused',
          api,
          reason: pause.reason,
          pauseMs: pause.until - now.getTime(),
          fix: pause.fix,
          sharedBy: 'another worker',
        });
      }
    }
  }

  private checkBudget(api: ApiName): void {
    const now = this.now();
    const budget = this.budgets[api];
    if (!budget.exhausted(now) || this.isPaused(api)) return;
    const until = nextUtcMidnight(now);
    const key = BUDGET_KEY[api];
    this.pause({
      kind: 'pause',
      api,
      reason: 'budget',
      pauseMs: until.getTime() - now.getTime(),
      fix: `cosell made ${budget.used(now)} ${API_LABEL[api]} calls today, its daily budget (engine.budgets.${key} = ${budget.limit}); work resumes at ${until.toISOString()} (midnight UTC) and nothing is dropped. Raise engine.budgets.${key} to go on sooner.`,
    });
  }
}
