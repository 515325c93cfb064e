// The fault catalogue of the live phase (issue 11 §2), each injected through an emulator's control API exactly
// as a user testing their own receiver would. A fault counts as injected once the API really answered with it.
import { control } from '../src/cli/demo-story.ts';
import type { Deployment } from './deployment.ts';
import type { Rng } from './rng.ts';

export const FAULT_KINDS = [
  'partner-center 429 + Retry-After',
  'partner-center 503',
  'partner-center slow answers',
  'partner-center connection reset',
  'crm 503',
  'crm slow answers',
  'crm connection reset',
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

export type FaultTally = Record<string, { injected: number; callsFaulted: number }>;

export interface Injected {
  kind: FaultKind;
  /** Where its remainder can be read: an API's /faults, the webhook behaviour, or nowhere (one-shot). */
  source: 'pc' | 'crm' | 'webhook' | 'limits' | 'once';
  count: number;
}

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
      return fault('pc', { delayMs: rng.int(1_000, 4_000), count: rng.int(1, 3) });
    case 'partner-center connection reset':
      return fault('pc', { reset: true, count: rng.int(1, 3) });
    case 'crm 503':
      return fault('crm', { status: 503, count: rng.int(2, 5) });
    case 'crm slow answers':
      return fault('crm', { delayMs: rng.int(1_000, 4_000), count: rng.int(1, 3) });
    case 'crm connection reset':
      return fault('crm', { reset: true, count: rng.int(1, 3) });
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
      // Few requests per short window and two at a time: 429s with Retry-After and the documented codes.
      await control(crm, 'PUT', '/limits', {
        requestsPerWindow: rng.int(20, 60),
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
    await control(d.crmInfo['control']!, 'PUT', '/limits', DATAVERSE_DEFAULT_LIMITS);
    return injected.count;
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
