// A call that gets no answer is abandoned after engine.requestTimeoutMs and retried (DESIGN.md §3), on
// Salesforce and on Dynamics 365. The emulators hold the request past the timeout and then carry it out, as a
// slow server behind a hung connection does: the write happened, cosell did not hear about it. The record
// still arrives exactly once. A CRM call is retried inside its client first, so the CRM suite holds every
// attempt of one adapter call and reads the error it ends with.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrmError } from '../../src/crm/port.ts';
import type { Run } from '../../src/store/store.ts';
import { until } from '../helpers/until.ts';
import {
  CRMS,
  crmControl,
  type Harness,
  pcControl,
  startHarness,
  TEST_ENGINE_SETTINGS,
} from './engine-harness.ts';

const TIMEOUT_MS = 1_500;
/** Long enough that the client has given up, short enough that the write lands while the engine retries. */
const HANG_MS = 3_000;
const LONG_HANG_MS = 15_000;
const CRM_NAME = { salesforce: 'Salesforce', dynamics: 'Dataverse' } as const;

describe.each(CRMS)('calls with no answer on $crm (engine over HTTP)', ({ crm }) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(TEST_ENGINE_SETTINGS, { crm, requestTimeoutMs: TIMEOUT_MS });
    await h.engine.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  const failedRuns = async (query: { referralId?: string; crmId?: string }): Promise<Run[]> =>
    (await h.store.listRuns({ ...query, limit: 500 })).runs.filter((run) => run.error !== null);
  const faultsLeft = async (control: string) =>
    (await (await fetch(`${control}/faults`)).json()) as unknown[];

  it('R26 R27 Partner Center holds the create of a referral past the timeout and then makes it: the opportunity gets exactly one referral, and the run history names the call that got no answer', async () => {
    await pcControl(h).fault({
      method: 'POST',
      path: '/v1.0/engagements/referrals',
      delayMs: HANG_MS,
      count: 1,
    });
    const hungFrom = Date.now();
    const { opportunityId } = await h.desk.opportunity({});

    await until(
      async () => {
        const o = await h.desk.read(opportunityId);
        return Boolean(o.referralId) && o.name.endsWith('✔');
      },
      30_000,
      'the opportunity synced after the hung create',
    );
    expect(await faultsLeft(h.pc.info.control)).toEqual([]);
    await until(
      async () =>
        Date.now() > hungFrom + HANG_MS + 500 &&
        (await h.store.listJobs({ state: ['pending', 'running'] })).length === 0,
      10_000,
      'the hung create landed and the engine is idle',
    );
    const all = await pcControl(h).all();
    expect(all.filter((r) => r.externalReferenceId === opportunityId)).toHaveLength(1);
    const failures = await failedRuns({ crmId: opportunityId });
    expect(failures.map((run) => run.error?.message).join('\n')).toMatch(
      `no answer within ${TIMEOUT_MS / 1000} s`,
    );
  });
});

describe.each(CRMS)('a $crm call with no answer (adapter over HTTP)', ({ crm }) => {
  let h: Harness;

  beforeAll(async () => {
    // The engine stays stopped: only the test's own call meets the held requests.
    h = await startHarness(TEST_ENGINE_SETTINGS, { crm, requestTimeoutMs: TIMEOUT_MS });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('R25 R27 a read the CRM never answers is given up on after the timeout with a retryable error that names the CRM, the wait and the setting', async () => {
    // Every attempt the client makes is held far longer than the timeout.
    await crmControl(h).fault({ delayMs: LONG_HANG_MS, count: 100 });
    const startedAt = Date.now();
    const error = await h.crm.findDeal({ kind: 'opportunity', referralId: 'held-read' }).then(
      () => undefined,
      (e: unknown) => e as CrmError,
    );
    const waitedMs = Date.now() - startedAt;
    await crmControl(h).clearFaults();

    expect(error).toBeInstanceOf(CrmError);
    expect(error).toMatchObject({ code: 'TIMEOUT', retryable: true });
    expect(error?.message).toMatch(new RegExp(`^${CRM_NAME[crm]} .*no answer within ${TIMEOUT_MS / 1000} s`));
    expect(error?.fix).toMatch(/engine\.requestTimeoutMs/);
    // Abandoned, not waited out.
    expect(waitedMs).toBeLessThan(LONG_HANG_MS);
  });
});
