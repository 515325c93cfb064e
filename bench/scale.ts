// `npm run bench -- --scale`: throughput of one deployment with 1, 2 and 4 worker processes on one PostgreSQL store
// (issue 13). Three partner tenants (Salesforce, Dynamics 365, Salesforce), each with its own emulators; the
// Dynamics 365 tenant's environment has service protection limits set low (Dataverse's documented 429 +
// Retry-After), so one tenant meets its API's ceiling while the others do not. The emulators answer after a
// delay like the real APIs' round trips (Partner Center 400 ms, the CRMs 200 ms; `--latency 0` drops it and
// the run measures the machine's cores instead). Each run: a fresh database and fresh emulators, one web
// process, N workers; every tenant's referrals are sent at once as Microsoft would, and the clock stops when
// every one is in its CRM with nothing queued. Prints a table, writes bench/results/scale.json.
//   --workers 1,2,4   --referrals N (per tenant, default 150)   --latency 1 (scale of the delays)   --out DIR
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { control } from '../src/cli/demo-story.ts';
import { openStore } from '../src/store/open.ts';
import { type Fleet, startFleet } from '../test/e2e/fleet.ts';
import type { LongRunning } from '../test/helpers/cli.ts';
import { startPostgres } from '../test/helpers/postgres.ts';
import { until } from '../test/helpers/until.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const WORKERS = (arg('workers') ?? '1,2,4').split(',').map(Number);
if (!WORKERS.every((n) => Number.isInteger(n) && n >= 1))
  throw new Error(`--workers takes whole numbers ≥ 1 separated by commas, not '${arg('workers')}'.`);
const REFERRALS = Number(arg('referrals') ?? 150);
const LATENCY_SCALE = Number(arg('latency') ?? 1);
/** Round trips of the real APIs, roughly: what makes a sync wait rather than compute. */
const LATENCY = { partnerCenterMs: 400 * LATENCY_SCALE, crmMs: 200 * LATENCY_SCALE };
/** Where each emulator's API is (a fault's path matches a substring): the token endpoints answer at once. */
const API_PATH = { salesforce: '/services/data/', dynamics: '/api/data/' } as const;
const OUT = arg('out') ?? join(import.meta.dirname, 'results');
const TENANTS = [
  { id: 'acme', crm: 'salesforce' },
  { id: 'globex', crm: 'dynamics' },
  { id: 'initech', crm: 'salesforce' },
] as const;
/** The Dynamics tenant's service protection: Dataverse's rate (6,000 requests per 5 minutes, here 1,200 per
 *  minute) and 4 requests at once instead of 52, so the ceiling shows at this scale. */
const DATAVERSE_LIMITS = { requestsPerWindow: 1_200, windowMs: 60_000, concurrent: 4 };
/** Each worker runs 2 jobs of each tenant at once; the Dynamics tenant at most 4 across all workers
 *  (engine.worker.maxRunning = what its environment allows at once), the Salesforce tenants as many as there are. */
const engineFor = (tenant: { crm: string }) => ({
  worker: {
    pollIntervalMs: 200,
    leaseMs: 10_000,
    concurrency: 2,
    maxRunning: tenant.crm === 'dynamics' ? DATAVERSE_LIMITS.concurrent : null,
  },
  reconcile: { intervalMs: 60_000 },
});

/** A fault that never runs out: every call of the API waits. */
const FOREVER = 100_000_000;

const log = (line: string) =>
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} bench scale: ${line}\n`);

/** CPU seconds a process has used (user + system), from /proc. */
function cpuSeconds(process: LongRunning): number {
  try {
    const fields = readFileSync(`/proc/${process.child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

interface TenantFigures {
  tenant: string;
  crm: string;
  referrals: number;
  /** When the tenant's last referral was in its CRM, from the first send. */
  seconds: number;
  perSecond: number;
  /** 429s the tenant's CRM answered (Dataverse service protection). */
  throttled: number;
}

interface RunFigures {
  workers: number;
  referrals: number;
  seconds: number;
  perSecond: number;
  /** Throughput per worker against one worker's: 1.0 is linear. */
  efficiency: number | null;
  /** The same for the tenants under no API limit of ours (Salesforce here): what cosell itself scales to. */
  unlimitedEfficiency: number | null;
  /** CPU seconds used by cosell's processes (web + workers) and by everything else on the machine's cores. */
  cosellCpuSeconds: number;
  tenants: TenantFigures[];
}

async function oneRun(workers: number, storeUrl: string): Promise<RunFigures> {
  const fleet: Fleet = await startFleet({
    tenants: [...TENANTS],
    storeUrl,
    engine: engineFor,
    configureCrm: async ({ crm, control: url }) => {
      if (crm === 'dynamics') await control(url, 'PUT', '/limits', DATAVERSE_LIMITS);
      if (LATENCY.crmMs > 0)
        await control(url, 'POST', '/faults', {
          path: API_PATH[crm],
          delayMs: LATENCY.crmMs,
          count: FOREVER,
        });
    },
  });
  if (LATENCY.partnerCenterMs > 0) {
    for (const tenant of fleet.tenants)
      await control(tenant.pc.control, 'POST', '/faults', {
        delayMs: LATENCY.partnerCenterMs,
        count: FOREVER,
      });
  }
  const store = await openStore({ url: storeUrl });
  try {
    const web = await fleet.start('web');
    await fleet.registerWebhooks(web.line);
    const processes = [web.process];
    for (let i = 0; i < workers; i++) processes.push((await fleet.start('worker')).process);
    const cpuBefore = processes.reduce((sum, p) => sum + cpuSeconds(p), 0);
    log(`${workers} worker(s): sending ${REFERRALS} referrals to each of ${TENANTS.length} tenants`);
    const t0 = performance.now();
    const done = new Map<string, number>();
    await Promise.all(fleet.tenants.map((tenant) => fleet.sendReferrals(tenant, REFERRALS, 8)));
    await until(
      async () => {
        const verdicts = await fleet.verdicts();
        for (const [i, verdict] of verdicts.entries()) {
          const tenant = fleet.tenants[i]!;
          if (done.has(tenant.id) || verdict.problems.length > 0) continue;
          const counts = await store.forTenant(tenant.id).jobCounts();
          if (counts.pending + counts.running === 0) done.set(tenant.id, (performance.now() - t0) / 1000);
        }
        return done.size === fleet.tenants.length;
      },
      1_800_000,
      'every referral in its CRM',
      1_000,
    );
    const seconds = Math.max(...done.values());
    const cosellCpuSeconds = processes.reduce((sum, p) => sum + cpuSeconds(p), 0) - cpuBefore;
    const tenants: TenantFigures[] = [];
    for (const tenant of fleet.tenants) {
      const limits =
        tenant.crm === 'dynamics'
          ? await control<{ refused: Record<string, number> }>(tenant.crmControl, 'GET', '/limits')
          : { refused: {} };
      const tenantSeconds = done.get(tenant.id)!;
      tenants.push({
        tenant: tenant.id,
        crm: tenant.crm,
        referrals: REFERRALS,
        seconds: round(tenantSeconds),
        perSecond: round(REFERRALS / tenantSeconds),
        throttled: Object.values(limits.refused).reduce((a, b) => a + b, 0),
      });
    }
    const total = REFERRALS * TENANTS.length;
    return {
      workers,
      referrals: total,
      seconds: round(seconds),
      perSecond: round(total / seconds),
      efficiency: null,
      unlimitedEfficiency: null,
      cosellCpuSeconds: round(cosellCpuSeconds),
      tenants,
    };
  } finally {
    await store.close();
    await fleet.close();
  }
}

const round = (n: number) => Math.round(n * 10) / 10;

export async function runScaleBench(): Promise<void> {
  const postgres = await startPostgres();
  const runs: RunFigures[] = [];
  try {
    for (const workers of WORKERS) {
      const figures = await oneRun(
        workers,
        await postgres.createDatabase(`bench_scale_${workers}_${Date.now()}`),
      );
      log(
        `${workers} worker(s): ${figures.referrals} referrals in ${figures.seconds} s (${figures.perSecond}/s)`,
      );
      runs.push(figures);
    }
  } finally {
    await postgres.stop();
  }
  const base = runs.find((r) => r.workers === 1);
  const unlimited = (run: RunFigures) =>
    run.tenants.filter((t) => t.crm !== 'dynamics').reduce((sum, t) => sum + t.perSecond, 0);
  for (const run of runs) {
    if (!base) continue;
    run.efficiency = Math.round((run.perSecond / (run.workers * base.perSecond)) * 100) / 100;
    run.unlimitedEfficiency = Math.round((unlimited(run) / (run.workers * unlimited(base))) * 100) / 100;
  }
  const machine = { node: process.versions.node, cpus: cpus().length };
  const lines = [
    `Scale-out: ${TENANTS.length} tenants × ${REFERRALS} referrals, 1 web process + N workers on PostgreSQL, ${machine.cpus} cores, API round trips ${LATENCY.partnerCenterMs} ms (Partner Center) / ${LATENCY.crmMs} ms (CRMs)`,
    '',
    '| workers | wall (slowest tenant) | referrals/s | acme (Salesforce) /s | initech (Salesforce) /s | efficiency, Salesforce tenants | globex (Dynamics, limited) /s | globex 429s | cosell CPU s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...runs.map((r) => {
      const t = (id: string) => r.tenants.find((x) => x.tenant === id)!;
      return `| ${r.workers} | ${r.seconds} s | ${r.perSecond} | ${t('acme').perSecond} | ${t('initech').perSecond} | ${r.unlimitedEfficiency ?? '–'} | ${t('globex').perSecond} | ${t('globex').throttled} | ${r.cosellCpuSeconds} |`;
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(OUT, { recursive: true });
  const file = join(OUT, 'scale.json');
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        startedAt: new Date().toISOString(),
        machine,
        latency: LATENCY,
        dataverseLimits: DATAVERSE_LIMITS,
        runs,
      },
      null,
      2,
    )}\n`,
  );
  process.stdout.write(`figures written to ${file}\n`);
}
