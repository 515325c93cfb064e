// Scale-out as an operator runs it (issue 13): one PostgreSQL store, one `cosell start --role web` process taking
// every tenant's webhooks, three `cosell start --role worker` processes, three partner tenants (two on Salesforce,
// one on Dynamics 365), each with its own Partner Center and CRM emulator. A few thousand events, one worker
// SIGKILLed midway. Every referral and every shared opportunity ends up synced once, with the last value written
// (per-link order), and no tenant sees another's records. Run by `npm run test:pg` (its global setup starts the
// server); SCALE_OUT_REFERRALS sets the referrals per tenant (default 200).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crmSide } from '../../reliability/crm-side.ts';
import { control } from '../../src/cli/demo-story.ts';
import { openStore } from '../../src/store/open.ts';
import { testStoreUrl } from '../../src/store/test-support.ts';
import type { LongRunning } from '../helpers/cli.ts';
import { until } from '../helpers/until.ts';
import { type Fleet, inParallel, startFleet } from './fleet.ts';
import { loggedEvents } from './runtime-support.ts';

const REFERRALS = Number(process.env['SCALE_OUT_REFERRALS'] ?? 200);
// Short leases and polls, so the killed worker's jobs are taken over within seconds.
const ENGINE = {
  requestTimeoutMs: 10_000,
  worker: { pollIntervalMs: 200, leaseMs: 4_000, concurrency: 8 },
  crmPoll: { minIntervalMs: 500, maxIntervalMs: 1_000 },
  reconcile: { intervalMs: 10_000 },
};

let fleet: Fleet;
let storeUrl: string;

beforeAll(async () => {
  const scratch = `scale-out-${process.pid}`;
  storeUrl = await testStoreUrl({ dir: scratch, file: () => join(scratch, 'unused.db') });
  fleet = await startFleet({
    tenants: [
      { id: 'acme', crm: 'salesforce' },
      { id: 'globex', crm: 'dynamics' },
      { id: 'initech', crm: 'salesforce' },
    ],
    storeUrl,
    engine: ENGINE,
  });
}, 180_000);

afterAll(async () => {
  await fleet?.close();
});

describe('scale-out: 1 web process, 3 workers, 3 tenants on one PostgreSQL store', () => {
  it('R2 R26 R23 every referral and shared opportunity syncs exactly once with its last value, through a worker SIGKILL; tenants stay apart', async () => {
    const web = await fleet.start('web');
    expect(web.line.role).toBe('web');
    await fleet.registerWebhooks(web.line);
    const workers: LongRunning[] = [];
    for (let i = 0; i < 3; i++) workers.push((await fleet.start('worker')).process);

    // The workload, every tenant at once: Microsoft sends referrals and sellers share opportunities; midway one
    // worker is killed; then every referral's value changes twice and every shared deal's once.
    const total = fleet.tenants.length * REFERRALS;
    let sent = 0;
    let killed = false;
    const killMidway = async () => {
      sent++;
      if (killed || sent < total / 2) return;
      killed = true;
      await workers[0]!.stop('SIGKILL');
    };
    await Promise.all(
      fleet.tenants.map(async (tenant) => {
        const crm = crmSide(tenant.crm, tenant.crmControl);
        const solutionId = await crm.addCatalogueSolution();
        await fleet.sendReferrals(tenant, REFERRALS, 6, async () => {
          if (tenant.expectations.size % 5 === 0) {
            const n = tenant.expectations.size;
            const id = await crm.share({
              name: `${tenant.id} deal ${n}`,
              accountName: `${tenant.id} account ${n}`,
              solutionId,
            });
            tenant.expectations.set(id, { kind: 'shared', crmId: id, value: 120_000 });
          }
          await killMidway();
        });
        await inParallel([...tenant.expectations.values()], 6, async (e) => {
          if (e.kind === 'incoming') {
            // Two changes in a row: the CRM must end with the second (a later event never loses to an earlier).
            for (const value of [e.value + 100_000, e.value + 200_000]) {
              await control(tenant.pc.control, 'PATCH', `/referrals/${e.referralId}`, {
                details: { dealValue: value },
              });
              tenant.expectations.set(e.referralId, { ...e, value });
            }
          } else {
            const value = 300_000 + tenant.expectations.size;
            await crm.setValue(e.crmId, value);
            tenant.expectations.set(e.crmId, { ...e, value });
          }
        });
      }),
    );
    expect(killed).toBe(true);
    // Created referrals and opportunities, plus two referral changes and one deal change each.
    const events = fleet.tenants.reduce((n, t) => n + 2 * t.expectations.size, 0) + total;
    expect(events).toBeGreaterThan(total * 3);

    const store = await openStore({ url: storeUrl });
    try {
      await until(
        async () => {
          const open = await Promise.all(fleet.tenants.map((t) => store.forTenant(t.id).jobCounts()));
          if (open.some((c) => c.pending + c.running > 0)) return false;
          return (await fleet.verdicts()).every((v) => v.problems.length === 0);
        },
        600_000,
        'every tenant synced with nothing queued',
        3_000,
      ).catch(async (error) => {
        const problems = (await fleet.verdicts()).flatMap((v, i) =>
          v.problems.map((p) => `${fleet.tenants[i]!.id}: ${p}`),
        );
        throw new Error(`${(error as Error).message}\n${problems.slice(0, 20).join('\n')}`);
      });
      for (const verdict of await fleet.verdicts())
        expect(verdict).toMatchObject({ lost: 0, duplicated: 0, wrongValue: 0, problems: [] });

      // Tenants apart: each store view holds its own links only, and each admin token sees its own records.
      for (const tenant of fleet.tenants) {
        expect((await store.forTenant(tenant.id).recordCounts()).linked).toBe(tenant.expectations.size);
        const listed = await (
          await fetch(`${web.line.url}/api/records?limit=200`, {
            headers: { authorization: `Bearer ${tenant.adminToken}` },
          })
        ).text();
        expect(listed).toContain(`${tenant.id} `);
        for (const other of fleet.tenants) if (other !== tenant) expect(listed).not.toContain(`${other.id} `);
      }
    } finally {
      await store.close();
    }
    // The surviving workers shared the work; the web process ran none of it.
    const synced = workers.slice(1).map((w) => loggedEvents(w, 'sync').length);
    expect(
      synced.every((n) => n > 0),
      `syncs per surviving worker: ${synced.join(', ')}`,
    ).toBe(true);
    expect(loggedEvents(web.process, 'sync')).toEqual([]);
  }, 900_000);
});
