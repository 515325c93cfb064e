// A deployment as an admin runs it, every part its own process: `cosell emulate partner-center`, the CRM's
// emulator, a config file, `cosell login`, then `cosell start` (or `cosell backfill`) on one SQLite store that
// outlives every SIGKILL. The webhook URL stays the same across restarts (a fixed port), as in production.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { type DemoCrm, DYNAMICS_DEMO, SALESFORCE_DEMO } from '../src/cli/demo-story.ts';
import { type PartnerCenterLine, partnerCenterSection } from '../test/e2e/runtime-support.ts';
import { COSELL_BIN, type LongRunning, runCli, startCli } from '../test/helpers/cli.ts';

export type CrmKind = 'salesforce' | 'dynamics';
export const DEMO_CRMS: Record<CrmKind, DemoCrm> = { salesforce: SALESFORCE_DEMO, dynamics: DYNAMICS_DEMO };

export interface Deployment {
  crm: CrmKind;
  dir: string;
  configFile: string;
  env: NodeJS.ProcessEnv;
  pc: PartnerCenterLine;
  /** The CRM emulator's start-up line (control URL, client id and secret). */
  crmInfo: Record<string, string>;
  /** cosell's own base URL, the same after every restart. */
  url: string;
  webhookUrl: string;
  /** `cosell <args> --config` to completion. */
  cli(args: string[], timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

/** A port nothing listens on now (the services get fixed ports, so their URLs survive restarts). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Engine timings of the harness: short leases and sweeps, so a killed process's work is taken over quickly. */
/** Short, so the fault catalogue can hold calls past it without stalling the run. */
export const REQUEST_TIMEOUT_MS = 3_000;

const ENGINE = {
  requestTimeoutMs: REQUEST_TIMEOUT_MS,
  worker: { pollIntervalMs: 200, leaseMs: 3_000, concurrency: 4 },
  crmPoll: { minIntervalMs: 500, maxIntervalMs: 1_000 },
  reconcile: { intervalMs: 5_000 },
};

/** `engine`: the config's engine section (default: the harness's short timings; `{}` runs the defaults). */
export async function startDeployment(
  crm: CrmKind,
  options: { engine?: Record<string, unknown> } = {},
): Promise<Deployment> {
  const dir = await mkdtemp(join(tmpdir(), `cosell-reliability-${crm}-`));
  const ready = (lines: string[]) => lines.length > 0;
  const emulators: LongRunning[] = await Promise.all([
    startCli(['emulate', 'partner-center', '--port', '0'], ready),
    startCli(['emulate', crm, '--port', '0'], ready),
  ]);
  const pc = JSON.parse(emulators[0]!.lines[0]!) as PartnerCenterLine;
  const crmInfo = JSON.parse(emulators[1]!.lines[0]!) as Record<string, string>;
  const demo = DEMO_CRMS[crm].config(crmInfo);
  const port = await freePort();
  const env = { COSELL_TOKEN_KEY: randomBytes(32).toString('base64'), ...demo.env };
  const configFile = join(dir, 'cosell.config.yaml');
  await writeFile(
    configFile,
    `${await partnerCenterSection(dir, pc)}${stringify({
      store: { url: 'data/cosell.db' },
      crm: demo.crm,
      engine: options.engine ?? ENGINE,
      server: { host: '127.0.0.1', port },
      // The level operators run (the default): a 412 re-read is an info line.
      log: { level: 'info' },
    })}`,
  );
  const url = `http://127.0.0.1:${port}`;
  const cli = (args: string[], timeoutMs = 60_000) =>
    runCli([...args, '--config', configFile], { env, cwd: dir, timeoutMs });
  const login = await cli(['login']);
  if (login.code !== 0) throw new Error(`cosell login failed: ${login.stderr}`);
  return {
    crm,
    dir,
    configFile,
    env,
    pc,
    crmInfo,
    url,
    webhookUrl: `${url}/webhooks/partner-center`,
    cli,
    async close() {
      await Promise.all(emulators.map((e) => e.stop()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `cosell start` as a child process, resolved once it prints its start-up line. */
export function startService(d: Deployment): Promise<LongRunning> {
  return startCli(
    ['start', '--config', d.configFile],
    (lines) => lines.some((l) => l.includes('"cosell":"started"')),
    { env: d.env, cwd: d.dir, timeoutMs: 60_000 },
  );
}

export interface Spawned {
  child: ChildProcess;
  /** Resolves when the process has exited, with what it printed. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** `cosell <args> --config` as a child process, not awaited: the harness kills it or waits for its exit. */
export function spawnCosell(d: Deployment, args: string[]): Spawned {
  const child = spawn(process.execPath, [COSELL_BIN, ...args, '--config', d.configFile], {
    cwd: d.dir,
    env: { ...process.env, ...d.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const done = (once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>).then(
    ([code, signal]) => ({ code, signal, stdout, stderr }),
  );
  return { child, done };
}

/** The APIs cosell has paused, and why, from its admin API: what a long wait is waiting on. */
export async function pausedNow(url: string): Promise<{ text: string; until: number | null }> {
  try {
    const overview = (await (await fetch(`${url}/api/overview`)).json()) as {
      paused?: { api: string; reason: string; until: string }[];
    };
    const paused = overview.paused ?? [];
    if (paused.length === 0) return { text: 'nothing paused', until: null };
    return {
      text: paused.map((p) => `${p.api} paused (${p.reason}) until ${p.until.slice(11, 19)}`).join(', '),
      until: Math.max(...paused.map((p) => Date.parse(p.until))),
    };
  } catch (error) {
    return { text: `no overview (${(error as Error).message})`, until: null };
  }
}
