// The fault catalogue of the live phase (issue 11 §2), each injected through an emulator's control API exactly
// as a user testing their own receiver would. A fault counts as injected once the API really answered with it.
import { control } from '../src/cli/demo-story.ts';
import { type Deployment, REQUEST_TIMEOUT_MS } from './deployment.ts';
import type { Rng } from './rng.ts';

export const FAULT_KINDS = [
  'partner-center 429 + Retry-After',
  'partner-center 503',
  'partner-center slow answers',
  'partner-center connection reset',
  'partner-center no answer (timeout)',
  'partner-center 412 race (Microsoft edit)',
  'crm 503',
  'crm slow answers',
  'crm connection reset',
  'crm no answer (timeout)',
  'crm throttled / row lock',
  'crm session expired',
  'webhook dropped',
  'webhook duplicated',
  'webhook reordered',
  'webhook delayed',
  'dataverse service protection limits',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** Dataverse's service protection has no Salesforce counterpart (its daily allocation pauses until midnight UTC,
 *  which engine-budgets.test.ts covers in skipped time). */
export function faultKindsFor(crm: Deployment['crm']): FaultKind[] {
  return FAULT_KINDS.filter((k) => crm === 'dynamics' || k !== 'dataverse service protection limits');
}

export type FaultTally = Record<
  string,
  {
    injected: number;
    callsFaulted: number;
    /** Injections whose failed calls an operator can see: cosell logged the API and the cause (null: none). */
    seenInLog: number | null;
  }
>;

/** What cosell's log says for a call a fault failed: the API and a pattern of the cause. Faults that fail no
 *  call (slow answers under the timeout, webhook delivery tricks, a session renewed on the spot) need no line. */
export function logSignOf(
  kind: FaultKind,
  crm: Deployment['crm'],
): { api: 'pc' | 'crm'; cause: RegExp } | null {
  const reset = /reset|socket|closed|terminated|fetch failed|networkError|EPIPE/i;
  switch (kind) {
    case 'partner-center 429 + Retry-After':
      return { api: 'pc', cause: /\b429\b/ };
    case 'partner-center 503':
      return { api: 'pc', cause: /\b503\b/ };
    case 'partner-center connection reset':
      return { api: 'pc', cause: reset };
    case 'partner-center no answer (timeout)':
      return { api: 'pc', cause: /no answer within/ };
    case 'partner-center 412 race (Microsoft edit)':
      return { api: 'pc', cause: /\b412\b/ };
    case 'crm 503':
      return { api: 'crm', cause: /\b503\b/ };
    case 'crm connection reset':
      return { api: 'crm', cause: reset };
    case 'crm no answer (timeout)':
      return { api: 'crm', cause: /no answer within/ };
    case 'crm throttled / row lock':
      return { api: 'crm', cause: crm === 'salesforce' ? /UNABLE_TO_LOCK_ROW/ : /\b429\b|0x80072322/ };
    case 'dataverse service protection limits':
      return { api: 'crm', cause: /\b429\b|0x8007232\d/ };
    default:
      return null;
  }
}

/** One line of cosell's log as the operator reads it: which API it is about, and what it says. */
export interface LogSaying {
  time: number;
  api: 'pc' | 'crm';
  text: string;
}

/** The warnings and re-reads in cosell's log (pino JSON on stderr), each with the API it names. */
export function logSayings(stderr: string): LogSaying[] {
  const sayings: LogSaying[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{') || !line.endsWith('}')) continue;
    const entry = JSON.parse(line) as Record<string, unknown>;
    const time = Number(entry['time']);
    if (entry['event'] === 'api-retry') {
      const api = String(entry['api']).startsWith('partner-center') ? 'pc' : 'crm';
      sayings.push({ time, api, text: String(entry['cause']) });
    } else if (Number(entry['level']) >= 40 || entry['event'] === 'sync-reread') {
      const text = [entry['msg'], entry['reason']].filter((t) => typeof t === 'string').join(' ');
      const api = entry['api'] === 'partner-center' || /Partner Center/.test(text) ? 'pc' : 'crm';
      sayings.push({ time, api, text });
    }
  }
  return sayings;
}

export interface Injected {
  kind: FaultKind;
  /** Where its remainder can be read: an API's /faults, the webhook behaviour, or nowhere (one-shot). */
  source: 'pc' | 'crm' | 'webhook' | 'limits' | 'once';
  count: number;
}

/** Slow answers stay under the deployment's engine.requestTimeoutMs; held ones go past it. */
const SLOW_BELOW_TIMEOUT_MS = REQUEST_TIMEOUT_MS - 500;
const HELD_PAST_TIMEOUT_MS = REQUEST_TIMEOUT_MS + 1_000;

/** Dataverse's documented per-user limits (the emulator's defaults), restored after the fault. */
const DATAVERSE_DEFAULT_LIMITS = {
  requestsPerWindow: 6000,
  executionMsPerWindow: 1_200_000,
  concurrent: 52,
  windowMs: 300_000,
};

export async function injectFault(d: Deployment, kind: FaultKind, rng: Rng): Promise<Injected> {
  const pc = d.pc.control;
  const crm = d.crmInfo['control']!;
  const sf = d.crm === 'salesforce';
  const fault = async (where: 'pc' | 'crm', body: Record<string, unknown>): Promise<Injected> => {
    const base = where === 'pc' ? pc : crm;
    await control(base, 'DELETE', '/faults');
    await control(base, 'POST', '/faults', body);
    return { kind, source: where, count: Number(body['count']) };
  };
  const behaviour = async (body: Record<string, unknown>): Promise<Injected> => {
    await control(pc, 'POST', '/webhooks/behaviour', body);
    return { kind, source: 'webhook', count: Number(body['count']) };
  };
  switch (kind) {
    case 'partner-center 429 + Retry-After':
      return fault('pc', { status: 429, retryAfter: 1, count: rng.int(2, 6) });
    case 'partner-center 503':
      return fault('pc', { status: 503, count: rng.int(2, 5) });
    case 'partner-center slow answers':
      return fault('pc', { delayMs: rng.int(500, SLOW_BELOW_TIMEOUT_MS), count: rng.int(1, 3) });
    case 'partner-center connection reset':
      return fault('pc', { reset: true, count: rng.int(1, 3) });
    case 'partner-center no answer (timeout)':
      // Held past cosell's timeout, then carried out: a write cosell gave up on may still have happened.
      return fault('pc', {
        delayMs: rng.int(HELD_PAST_TIMEOUT_MS, 2 * HELD_PAST_TIMEOUT_MS),
        count: rng.int(1, 3),
      });
    case 'partner-center 412 race (Microsoft edit)':
      // A Microsoft seller saves the referral between cosell's read and its write: the write's If-Match is stale.
      return fault('pc', {
        method: 'PATCH',
        path: '/v1.0/engagements/referrals',
        microsoftEdit: { details: { notes: `Microsoft seller note ${rng.int(1, 1_000_000)}` } },
        count: rng.int(1, 3),
      });
    case 'crm 503':
      return fault('crm', { status: 503, count: rng.int(2, 5) });
    case 'crm slow answers':
      return fault('crm', { delayMs: rng.int(500, SLOW_BELOW_TIMEOUT_MS), count: rng.int(1, 3) });
    case 'crm connection reset':
      return fault('crm', { reset: true, count: rng.int(1, 3) });
    case 'crm no answer (timeout)':
      return fault('crm', {
        delayMs: rng.int(HELD_PAST_TIMEOUT_MS, 2 * HELD_PAST_TIMEOUT_MS),
        count: rng.int(1, 3),
      });
    case 'crm throttled / row lock':
      return sf
        ? fault('crm', { errorCode: 'UNABLE_TO_LOCK_ROW', count: rng.int(1, 3) })
        : fault('crm', { status: 429, code: '0x80072322', retryAfter: 1, count: rng.int(2, 4) });
    case 'crm session expired':
      if (sf) await control(crm, 'POST', '/tokens/expire');
      else await control(crm, 'POST', '/clock', { advanceMs: 3_700_000 });
      return { kind, source: 'once', count: 1 };
    case 'webhook dropped':
      return behaviour({ mode: 'drop', count: rng.int(1, 3) });
    case 'webhook duplicated':
      return behaviour({ mode: 'duplicate', count: rng.int(1, 3) });
    case 'webhook reordered':
      return behaviour({ mode: 'reorder', count: 3 });
    case 'webhook delayed':
      return behaviour({ mode: 'delay', count: rng.int(1, 3), delayMs: rng.int(500, 3_000) });
    case 'dataverse service protection limits':
      // All three limits, tight: few requests and little execution time per short window, two at a time. Each
      // answers 429 with Retry-After and its documented code (requests, execution time, concurrency).
      await control(crm, 'PUT', '/limits', {
        requestsPerWindow: rng.int(20, 60),
        executionMsPerWindow: rng.int(200, 1_000),
        windowMs: 5_000,
        concurrent: 2,
      });
      return { kind, source: 'limits', count: 1 };
  }
}

/** How many calls or events the fault hit; whatever it did not hit is cleared. */
export async function settleFault(d: Deployment, injected: Injected): Promise<number> {
  if (injected.source === 'once') return injected.count;
  if (injected.source === 'limits') {
    // The emulator counts the requests it refused since the PUT that tightened the limits: a spell in which cosell
    // happened to stay under them failed no call, and needs no log line.
    const status = await control<{ refused?: Record<string, number> }>(
      d.crmInfo['control']!,
      'GET',
      '/limits',
    );
    await control(d.crmInfo['control']!, 'PUT', '/limits', DATAVERSE_DEFAULT_LIMITS);
    return Object.values(status.refused ?? {}).reduce((sum, n) => sum + n, 0);
  }
  if (injected.source === 'webhook') {
    const now = await control<{ mode: string; remaining: number }>(
      d.pc.control,
      'GET',
      '/webhooks/behaviour',
    );
    // Setting 'normal' releases a partial reorder batch, as the emulator documents.
    await control(d.pc.control, 'POST', '/webhooks/behaviour', { mode: 'normal' });
    return now.mode === 'normal' ? injected.count : injected.count - now.remaining;
  }
  const base = injected.source === 'pc' ? d.pc.control : d.crmInfo['control']!;
  const listed = await control<unknown>(base, 'GET', '/faults');
  const pending = (Array.isArray(listed) ? listed : []) as { remaining?: number; count?: number }[];
  const left = pending.reduce((sum, f) => sum + (f.remaining ?? f.count ?? 0), 0);
  await control(base, 'DELETE', '/faults');
  return injected.count - left;
}

/** A held call fails a few seconds after its fault is cleared; its log line comes then. */
const LOG_GRACE_MS = 10_000;

/**
 * Counts, per fault kind, the injections an operator can see in cosell's log (a line naming the API and the cause
 * while the fault was on, or just after), and returns the kinds never seen although at least one of their
 * injections ran with no kill in it (a SIGKILL takes the calls in flight, and their log lines, with it).
 */
export function operatorSawFaults(
  faults: FaultTally,
  injections: { kind: FaultKind; from: number; to: number }[],
  killedAt: number[],
  sayings: LogSaying[],
  crm: Deployment['crm'],
): string[] {
  const undisturbed = new Set<FaultKind>();
  for (const { kind, from, to } of injections) {
    const sign = logSignOf(kind, crm);
    if (!sign) continue;
    const until = to + LOG_GRACE_MS;
    const seen = sayings.some(
      (s) => s.time >= from && s.time <= until && s.api === sign.api && sign.cause.test(s.text),
    );
    if (seen) faults[kind]!.seenInLog = (faults[kind]!.seenInLog ?? 0) + 1;
    if (!killedAt.some((t) => t >= from && t <= until)) undisturbed.add(kind);
  }
  return [...undisturbed].filter((kind) => faults[kind]!.seenInLog === 0);
}
