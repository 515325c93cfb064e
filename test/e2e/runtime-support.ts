// What the runtime suites share: the emulators as `cosell emulate` child processes, a config file pointing
// at them (as an admin would write it), and small HTTP helpers for the control APIs and Salesforce SOQL.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { control } from '../../src/cli/demo-story.ts';
import { type LongRunning, runCli, startCli } from '../helpers/cli.ts';

/** JSON calls to an emulator's control API: the demo's own helper. */
export { control };

export interface PartnerCenterLine {
  emulator: 'partner-center';
  referrals: string;
  webhooks: string;
  authorityHost: string;
  tenantId: string;
  control: string;
  clientId: string;
  certificateUrl: string;
  caCertificateUrl: string;
}

export interface SalesforceLine {
  emulator: 'salesforce';
  loginUrl: string;
  instanceUrl: string;
  control: string;
  apiVersion: string;
  clientId: string;
  clientSecret: string;
}

export interface Emulators {
  pc: PartnerCenterLine;
  sf: SalesforceLine;
  stop(): Promise<void>;
}

export async function startEmulators(): Promise<Emulators> {
  const ready = (lines: string[]) => lines.length > 0;
  const [pcProcess, sfProcess] = await Promise.all([
    startCli(['emulate', 'partner-center', '--port', '0'], ready),
    startCli(['emulate', 'salesforce', '--port', '0'], ready),
  ]);
  return {
    pc: JSON.parse(pcProcess.lines[0]!) as PartnerCenterLine,
    sf: JSON.parse(sfProcess.lines[0]!) as SalesforceLine,
    async stop() {
      await Promise.all([pcProcess.stop(), sfProcess.stop()]);
    },
  };
}

/** A suite's runtime after `cosell login`: the emulators, a scratch folder, its config file and the env. */
export interface LoggedIn {
  emulators: Emulators;
  dir: string;
  configFile: string;
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** The emulators, a config for them in a new scratch folder (`name` in its name) and `cosell login` done. */
export async function startLoggedIn(name: string): Promise<LoggedIn> {
  const dir = await mkdtemp(join(tmpdir(), `cosell-${name}-`));
  const emulators = await startEmulators();
  const stop = async () => {
    await emulators.stop();
    await rm(dir, { recursive: true, force: true });
  };
  const env = secretsFor(emulators.sf);
  const configFile = await writeEmulatorConfig(dir, emulators);
  const login = await runCli(['login', '--config', configFile], { env, cwd: dir });
  if (login.code !== 0) {
    await stop();
    throw new Error(`cosell login failed: ${login.stderr}`);
  }
  return { emulators, dir, configFile, env, stop };
}

/** Env of every cosell child: the two secrets, never in the file. */
export function secretsFor(sf: SalesforceLine): NodeJS.ProcessEnv {
  return { COSELL_TOKEN_KEY: randomBytes(32).toString('base64'), COSELL_SF_CLIENT_SECRET: sf.clientSecret };
}

/** The Partner Center section of a config for the emulator, with its CA saved in `dir` as the trust anchor. */
export async function partnerCenterSection(dir: string, pc: PartnerCenterLine): Promise<string> {
  await writeFile(join(dir, 'emulator-ca.pem'), await (await fetch(pc.caCertificateUrl)).text());
  return `partnerCenter:
  tenantId: ${pc.tenantId}
  clientId: ${pc.clientId}
  referralsUrl: ${pc.referrals}
  webhooksUrl: ${pc.webhooks}
  authorityHost: ${pc.authorityHost}
  webhook:
    allowedCertificateHosts: ['${new URL(pc.certificateUrl).host}']
    trustAnchors: [emulator-ca.pem]
`;
}

/** A config file for the emulators, written the way the starter config asks an admin to. */
export async function writeEmulatorConfig(dir: string, emulators: Emulators): Promise<string> {
  const { pc, sf } = emulators;
  const partnerCenter = await partnerCenterSection(dir, pc);
  const file = join(dir, 'cosell.config.yaml');
  await writeFile(
    file,
    `# Runtime e2e: cosell against the emulators.
store:
  url: data/cosell.db
${partnerCenter}crm:
  kind: salesforce
  salesforce:
    connection:
      loginUrl: ${sf.loginUrl}
      apiVersion: "${sf.apiVersion}"
      auth: { grant: client-credentials, clientId: ${sf.clientId} }
engine:
  worker: { pollIntervalMs: 200, leaseMs: 3000 }
  crmPoll: { minIntervalMs: 500, maxIntervalMs: 1000 }
server:
  host: 127.0.0.1
  port: 0
log:
  level: info
`,
  );
  return file;
}

export interface StartLine {
  cosell: 'started';
  url: string;
  webhookUrl: string;
  healthz: string;
}

/** `cosell start --config file`, resolved once its start-up line is printed. */
export async function startCosell(
  config: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<{ process: LongRunning; line: StartLine }> {
  const child = await startCli(
    ['start', '--config', config],
    (lines) => lines.some((l) => l.includes('"cosell":"started"')),
    { env, cwd },
  );
  const line = JSON.parse(child.lines.find((l) => l.includes('"cosell":"started"'))!) as StartLine;
  return { process: child, line };
}

/** The service's log lines (pino JSON on stderr) of one `event`, in order. */
export function loggedEvents(service: LongRunning, event: string): Record<string, unknown>[] {
  return service
    .stderr()
    .split('\n')
    .filter((line) => line.startsWith('{') && line.endsWith('}'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry['event'] === event);
}

/** SOQL over the Salesforce REST API with the demo connected app (client credentials). */
export async function sfQuery<T = Record<string, unknown>>(sf: SalesforceLine, soql: string): Promise<T[]> {
  const token = (await (
    await fetch(`${sf.loginUrl}/services/oauth2/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: sf.clientId,
        client_secret: sf.clientSecret,
      }),
    })
  ).json()) as { access_token: string };
  const response = await fetch(
    `${sf.instanceUrl}/services/data/v${sf.apiVersion}/query?q=${encodeURIComponent(soql)}`,
    { headers: { authorization: `Bearer ${token.access_token}` } },
  );
  if (!response.ok) throw new Error(`SOQL ${soql}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { records: T[] }).records;
}

export interface EmulatorReferral {
  id: string;
  name: string;
  externalReferenceId?: string | null;
  direction: string;
  target?: { type: string; id: string }[] | null;
}

export async function allReferrals(pc: PartnerCenterLine): Promise<EmulatorReferral[]> {
  return (await control<{ value: EmulatorReferral[] }>(pc.control, 'GET', '/referrals')).value;
}

/** `GET /metrics`, checked line by line as Prometheus text (HELP/TYPE comments, `name{labels} value` samples);
 *  returns each sample's value by its `name{labels}` as printed. */
export async function readMetrics(url: string): Promise<Map<string, number>> {
  const response = await fetch(`${url}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  if (!String(response.headers.get('content-type')).startsWith('text/plain'))
    throw new Error(`/metrics content-type ${response.headers.get('content-type')}`);
  const samples = new Map<string, number>();
  const sample =
    /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?) (-?[0-9.e+-]+|NaN|[+-]Inf)$/;
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
    const m = sample.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    samples.set(m[1]!, Number(m[2]));
  }
  return samples;
}

/** The sum of every sample of `name` whose labels include all of `labels` (e.g. {result: "accepted"}). */
export function metricSum(
  samples: Map<string, number>,
  name: string,
  labels: Record<string, string> = {},
): number {
  let sum = 0;
  for (const [key, value] of samples) {
    if (key !== name && !key.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => key.includes(`${k}="${v}"`))) sum += value;
  }
  return sum;
}

/** Every page of the dashboard and every admin API answer a user can reach, plus the probes, as text. */
export async function everyAnswer(base: string, headers: Record<string, string> = {}): Promise<string[]> {
  const paths = [
    '/',
    '/records',
    '/records?state=failing',
    '/failures',
    '/settings',
    '/api/overview',
    '/api/records',
    '/api/failures',
    '/api/settings',
    '/api/openapi.json',
    '/metrics',
    '/healthz',
    '/readyz',
  ];
  const records = (await (await fetch(`${base}/api/records?limit=20`, { headers })).json()) as {
    records: { id: number }[];
  };
  for (const { id } of records.records) paths.push(`/records/${id}`, `/api/records/${id}`);
  const bodies: string[] = [];
  for (const path of paths) {
    const response = await fetch(`${base}${path}`, { headers });
    if (response.status >= 500) throw new Error(`${path} answered ${response.status}`);
    bodies.push(await response.text());
  }
  return bodies;
}

/** The secrets found in any of the texts, by name (empty: none leaked). */
export function leakedSecrets(
  texts: readonly string[],
  secrets: Record<string, string | undefined>,
): string[] {
  return Object.entries(secrets)
    .filter(([, value]) => value && value.length >= 8 && texts.some((text) => text.includes(value)))
    .map(([name]) => name);
}

/**
 * Every text a running service shows a user (pages, API answers, probes), its run records (`cosell runs --json`)
 * and its log so far, searched for the given secrets; returns what `expect` needs to say what leaked.
 */
export async function sweepForSecrets(input: {
  url: string;
  configFile: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  log: string;
  secrets: Record<string, string | undefined>;
}): Promise<{ answers: number; runs: number; texts: string[]; leaked: string[] }> {
  const bodies = await everyAnswer(input.url);
  const runs = await runCli(['runs', '--json', '--limit', '500', '--config', input.configFile], {
    env: input.env,
    cwd: input.cwd,
  });
  if (runs.code !== 0) throw new Error(`cosell runs --json: ${runs.stderr}`);
  const texts = [...bodies, runs.stdout, input.log];
  return {
    answers: bodies.length,
    runs: (JSON.parse(runs.stdout) as unknown[]).length,
    texts,
    leaked: leakedSecrets(texts, input.secrets),
  };
}
