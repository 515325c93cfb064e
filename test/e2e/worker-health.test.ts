// A worker process (`cosell start --role worker`) serves no webhooks and no dashboard; with --health-port it serves
// /healthz, /readyz and /metrics so a supervisor can probe it and Prometheus can scrape it. Real processes, the
// emulators as `cosell emulate`, the SQLite store, on both CRMs.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { until } from '../helpers/until.ts';
import { CRMS } from './engine-harness.ts';
import { type Fleet, startFleet } from './fleet.ts';

describe.each(CRMS)('cosell start --role worker --health-port on $crm', ({ crm }) => {
  let fleet: Fleet;
  let scratch: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'cosell-worker-health-'));
    fleet = await startFleet({
      tenants: [{ id: 'acme', crm }],
      storeUrl: join(scratch, 'cosell.db'),
      engine: { worker: { pollIntervalMs: 200 } },
    });
  }, 120_000);

  afterAll(async () => {
    await fleet?.close();
    await rm(scratch, { recursive: true, force: true });
  });

  it('R23 R27 a worker answers /healthz, /readyz and /metrics on its health port, and nothing else; it syncs', async () => {
    // Sent before the worker starts: its start-up sweep of Partner Center brings it in.
    const tenant = fleet.tenants[0]!;
    await fleet.sendReferrals(tenant, 1, 1);
    const { line } = await fleet.start('worker', ['--health-port', '0']);
    expect(line).toMatchObject({ role: 'worker', webhookUrl: null });
    expect(line.healthz).toBe(`${line.url}/healthz`);

    expect(await (await fetch(line.healthz!)).json()).toEqual({ status: 'ok', store: 'ok' });
    const ready = await fetch(`${line.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', paused: [] });
    expect(await (await fetch(`${line.url}/metrics`)).text()).toContain('cosell_jobs{');
    // No dashboard, no admin API, no webhook endpoint on a worker.
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/api/records'],
      ['POST', '/webhooks/partner-center/acme'],
    ])
      expect((await fetch(`${line.url}${path}`, { method })).status, `${method} ${path}`).toBe(404);

    await until(
      async () => (await fleet.verdicts()).every((v) => v.problems.length === 0),
      30_000,
      `the referral in ${crm}`,
      250,
    );
    expect((await fleet.verdicts())[0]).toMatchObject({ expected: 1, lost: 0, duplicated: 0 });
  });
});

describe('cosell start --health-port refusals', () => {
  it('R23 --health-port is refused on a web or all process and when it is not a port; nothing starts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cosell-health-port-'));
    try {
      for (const [args, says] of [
        [['--role', 'web', '--health-port', '9464'], 'is for --role worker'],
        [['--health-port', '9464'], 'is for --role worker'],
        [['--role', 'worker', '--health-port', 'ninety'], "--health-port 'ninety' is not a port"],
        [['--role', 'worker', '--health-port', '70000'], "--health-port '70000' is not a port"],
      ] as const) {
        const result = await runCli(['start', ...args], { cwd: dir });
        expect(result.code, result.stdout).not.toBe(0);
        expect(result.stderr).toContain(says);
        expect(result.stdout).not.toContain('"cosell":"started"');
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
