// Per-API circuits (R3, R27): an API whose credentials were refused, whose daily budget is used up or that keeps
// throttling is paused — its work waits, nothing is dropped or dead-lettered — and says why and until when.
// No I/O and no timers: the engine asks and probes; the clock is passed in, so tests skip time.
import type { Logger } from 'pino';
import { type BudgetState, DailyBudget, nextUtcMidnight } from '../lib/daily-budget.ts';
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
  private budgetsChanged = false;

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
    this.pauses.set(verdict.api, { until, reason: verdict.reason, fix: verdict.fix, strikes });
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
    this.pauses.delete(api);
  }

  /** A sync went through: refused credentials and throttling are over. A used-up budget is not: it lasts the day. */
  succeeded(): void {
    for (const [api, pause] of [...this.pauses.entries()])
      if (pause.reason !== 'budget') this.pauses.delete(api);
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
    this.budgetsChanged = true;
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

  /** The day's counts as stored, so a restart continues them (undefined: nothing changed since last asked). */
  budgetsToSave(): Partial<Record<ApiName, BudgetState>> | undefined {
    if (!this.budgetsChanged) return undefined;
    this.budgetsChanged = false;
    const now = this.now();
    return {
      'partner-center': this.budgets['partner-center'].snapshot(now),
      crm: this.budgets.crm.snapshot(now),
    };
  }

  restoreBudget(api: ApiName, state: BudgetState): void {
    this.budgets[api] = new DailyBudget(this.budgets[api].limit, state);
    this.checkBudget(api);
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
