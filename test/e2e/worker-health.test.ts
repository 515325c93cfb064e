// A worker process (`cosell start --role worker`) serves no webhooks and no dashboard; with --health-port it serves
// /healthz, /readyz and /metrics so a supervisor can probe it and Prometheus can scrape it. Real processes, the
// emulators as `cosell emulate`, the SQLite store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendMicrosoftReferral } from '../../src/cli/demo-story.ts';
import { type LongRunning, runCli, startCli } from '../helpers/cli.ts';
import { until } from '../helpers/until.ts';
import { type Emulators, type LoggedIn, type StartLine, sfQuery, startLoggedIn } from './runtime-support.ts';

let emulators: Emulators;
let dir: string;
let configFile: string;
let env: NodeJS.ProcessEnv;
let runtime: LoggedIn | undefined;
const running: LongRunning[] = [];

beforeAll(async () => {
  runtime = await startLoggedIn('worker-health');
  ({ emulators, dir, configFile, env } = runtime);
});

afterAll(async () => {
  for (const process of running) await process.stop('SIGKILL');
  await runtime?.stop();
});

const started = (lines: string[]) => lines.some((l) => l.includes('"cosell":"started"'));

describe('cosell start --role worker --health-port', () => {
  it('R23 R27 a worker answers /healthz, /readyz and /metrics on its health port, and nothing else; it syncs', async () => {
    // Sent before the worker starts: its start-up sweep of Partner Center brings it in.
    const referral = await sendMicrosoftReferral(emulators.pc.control);
    const worker = await startCli(
      ['start', '--role', 'worker', '--health-port', '0', '--config', configFile],
      started,
      { env, cwd: dir },
    );
    running.push(worker);
    const line = JSON.parse(worker.lines.find((l) => l.includes('"cosell":"started"'))!) as StartLine & {
      role: string;
      url: string;
      webhookUrl: string | null;
    };
    expect(line).toMatchObject({ role: 'worker', webhookUrl: null });
    expect(line.healthz).toBe(`${line.url}/healthz`);

    expect(await (await fetch(line.healthz)).json()).toEqual({ status: 'ok', store: 'ok' });
    const ready = await fetch(`${line.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', paused: [] });
    const metrics = await (await fetch(`${line.url}/metrics`)).text();
    expect(metrics).toContain('cosell_jobs{');
    // No dashboard, no admin API, no webhook endpoint on a worker.
    for (const path of ['/', '/api/records', '/webhooks/partner-center'])
      expect(
        (await fetch(`${line.url}${path}`, { method: path.startsWith('/webhooks') ? 'POST' : 'GET' })).status,
      ).toBe(404);

    await until(
      async () =>
        (
          await sfQuery(
            emulators.sf,
            `SELECT Id FROM Opportunity WHERE Referral_Identifier__c = '${referral.id}'`,
          )
        ).length,
      30_000,
      'the referral in Salesforce',
      250,
    );
  });

  it('R23 --health-port is refused on a web or all process and when it is not a port; nothing starts', async () => {
    for (const [args, says] of [
      [['--role', 'web', '--health-port', '9464'], 'is for --role worker'],
      [['--health-port', '9464'], 'is for --role worker'],
      [['--role', 'worker', '--health-port', 'ninety'], "--health-port 'ninety' is not a port"],
      [['--role', 'worker', '--health-port', '70000'], "--health-port '70000' is not a port"],
    ] as const) {
      const result = await runCli(['start', ...args, '--config', configFile], { env, cwd: dir });
      expect(result.code, result.stdout).not.toBe(0);
      expect(result.stderr).toContain(says);
      expect(result.stdout).not.toContain('"cosell":"started"');
    }
  });
});
