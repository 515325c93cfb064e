// Throttling storms and server-error bursts on all three APIs at once (DESIGN.md §3), on Salesforce and on
// Dynamics 365: Partner Center answers 429 with Retry-After and 503s, the CRM answers 5xx (Dataverse also 429
// with Retry-After), while referrals flow both ways. Nothing is lost, nothing is duplicated, nothing is
// dead-lettered, and every record ends with ✔.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/until.ts';
import { CRMS, crmControl, type Harness, pcControl, startHarness } from './engine-harness.ts';

const CRM_API_PATH = { salesforce: '/services/data', dynamics: '/api/data' } as const;

describe.each(CRMS)('429 storms and 5xx bursts with $crm (engine over HTTP)', ({ crm }) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(undefined, { crm });
    await h.engine.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('R27 R26 storms on Partner Center and the CRM while referrals flow both ways: every referral and opportunity arrives exactly once, no dead letter, all ✔', async () => {
    const pc = pcControl(h);
    const crmFaults = crmControl(h);
    await pc.fault({
      method: 'GET',
      path: '/v1.0/engagements/referrals',
      status: 429,
      retryAfter: 1,
      count: 4,
    });
    await pc.fault({ method: 'PATCH', path: '/v1.0/engagements/referrals', status: 503, count: 3 });
    await pc.fault({ method: 'POST', path: '/v1.0/engagements/referrals', status: 503, count: 2 });
    await crmFaults.fault({ path: CRM_API_PATH[crm], status: 503, count: 4 });
    if (crm === 'dynamics')
      await crmFaults.fault({ path: '/api/data', status: 429, retryAfter: 1, count: 3 });

    const incoming: string[] = [];
    for (let i = 1; i <= 3; i++) {
      incoming.push(
        String(
          (await pc.sendIncoming({ name: `Storm referral ${i}`, status: 'Active', substatus: 'Accepted' }))
            .id,
        ),
      );
    }
    const outgoing: string[] = [];
    for (let i = 0; i < 2; i++) outgoing.push((await h.desk.opportunity({})).opportunityId);

    await until(
      async () => {
        for (const id of incoming) if ((await h.desk.withReferral(id)).length !== 1) return false;
        for (const opportunityId of outgoing) {
          const o = await h.desk.read(opportunityId);
          if (!o.referralId || !o.name.endsWith('✔')) return false;
        }
        return true;
      },
      40_000,
      'every record through the storms',
    );
    const all = await pc.all();
    for (const opportunityId of outgoing) {
      expect(all.filter((r) => r.externalReferenceId === opportunityId)).toHaveLength(1);
    }
    for (const id of incoming) {
      const [recordId] = await h.desk.withReferral(id);
      expect((await h.desk.read(recordId!)).name).toMatch(/✔$/);
    }
    expect((await h.store.listJobs({})).filter((j) => j.state === 'dead')).toEqual([]);
    // The storms happened: every injected fault was answered.
    const left = async (control: string) => (await (await fetch(`${control}/faults`)).json()) as unknown[];
    expect(await left(h.pc.info.control)).toEqual([]);
    expect(await left(h.crmControl)).toEqual([]);
  });
});
