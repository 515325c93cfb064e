// What the worker does with a failed sync: one classification of every error the activities can throw.
// Retry (bounded, honouring Retry-After), fail at once (the seller or admin must change something), or pause
// an API (credentials, budget) without spending the job's attempts on it.
import type { SyncDirection } from '../core/audit.ts';
import type { Deal } from '../core/deal.ts';
import { CrmError } from '../crm/port.ts';
import { isCredentialProblem, PartnerCenterAuthError, PartnerCenterError } from '../partner-center/errors.ts';
import { StoreError } from '../store/store.ts';

export type ApiName = 'partner-center' | 'crm';

/** A sync the rules refuse (validation, closed referral, unknown CRM id): final until someone changes it. */
export class SyncRefusal extends Error {
  override readonly name = 'SyncRefusal';
  constructor(
    /** The rule ids, comma-separated (snapshot error state). */
    readonly rule: string,
    message: string,
    readonly fix: string | null = null,
    /** The deal as just read, so the ✖ and audit line need no second read. */
    readonly context: { deal?: Deal; direction?: SyncDirection } = {},
  ) {
    super(message);
  }
}

export type ErrorVerdict =
  | {
      kind: 'pause';
      api: ApiName;
      reason: 'credentials' | 'budget' | 'throttled';
      pauseMs?: number;
      fix: string;
    }
  | { kind: 'retry'; retryAfterMs?: number }
  | { kind: 'fail'; rule: string | null; fix: string | null };

const RETRYABLE_PC_STATUSES = new Set([0, 408, 409, 412, 429, 500, 502, 503, 504]);

export function classifyError(error: unknown): ErrorVerdict {
  if (error instanceof SyncRefusal) return { kind: 'fail', rule: error.rule, fix: error.fix };
  if (error instanceof PartnerCenterAuthError || isCredentialProblem(error)) {
    const fix = (error as { fix?: string }).fix ?? 'Run `cosell login` again as a Referrals Admin user.';
    return { kind: 'pause', api: 'partner-center', reason: 'credentials', fix };
  }
  if (error instanceof PartnerCenterError) {
    if (error.status === 429 && error.retryAfterMs !== undefined) {
      return {
        kind: 'pause',
        api: 'partner-center',
        reason: 'throttled',
        pauseMs: error.retryAfterMs,
        fix: error.fix,
      };
    }
    if (error.code === 'outcomeUnknown' || RETRYABLE_PC_STATUSES.has(error.status)) {
      return error.retryAfterMs === undefined
        ? { kind: 'retry' }
        : { kind: 'retry', retryAfterMs: error.retryAfterMs };
    }
    return { kind: 'fail', rule: error.code, fix: error.fix };
  }
  if (error instanceof CrmError) {
    if (error.authFailed) return { kind: 'pause', api: 'crm', reason: 'credentials', fix: error.fix ?? '' };
    if (error.budgetExhausted) return { kind: 'pause', api: 'crm', reason: 'budget', fix: error.fix ?? '' };
    if (error.status === 429 && error.retryAfterMs !== undefined) {
      // Service protection counts every caller of the user together: one pause for all CRM work, not a retry
      // per job into the same limit.
      return {
        kind: 'pause',
        api: 'crm',
        reason: 'throttled',
        pauseMs: error.retryAfterMs,
        fix: error.fix ?? '',
      };
    }
    if (error.retryable) return { kind: 'retry' };
    return { kind: 'fail', rule: error.code ?? null, fix: error.fix ?? null };
  }
  if (error instanceof StoreError && error.code === 'linkConflict') {
    return { kind: 'fail', rule: error.code, fix: error.fix };
  }
  // Anything else is unexpected (a network error below the clients, a bug): bounded retries, then dead letter.
  return { kind: 'retry' };
}

/** The message an operator or seller reads, without a stack. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** What the Audit field and the run say about a failure: written for a seller, no stack, no secrets. */
export function describeFailure(error: unknown): { message: string; fix: string | null } {
  if (error instanceof SyncRefusal) return { message: error.message, fix: error.fix };
  if (error instanceof PartnerCenterError) {
    return {
      message: `Partner Center refused the change (${error.status || 'no response'} ${error.code}): ${sentence(error.providerMessage ?? 'no message')}`,
      fix: error.fix,
    };
  }
  if (error instanceof CrmError) return { message: error.message, fix: error.fix ?? null };
  return { message: messageOf(error), fix: null };
}

/** Ends a provider's message with exactly one full stop (most already carry theirs). */
function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}
