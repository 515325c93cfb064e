// A Dynamics 365 deployment as an admin runs it, every part its own process: `cosell emulate partner-center`
// and `cosell emulate dynamics`, a config written from `cosell init --crm dynamics`'s shape with the secret in
// COSELL_D365_CLIENT_SECRET, `cosell login`, `cosell doctor --config`, `cosell webhooks register`, then
// `cosell start` syncing both ways.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DYNAMICS_DEMO, sendMicrosoftReferral } from '../../src/cli/demo-story.ts';
import { type LongRunning, runCli, startCli } from '../helpers/cli.ts';
import { until } from '../helpers/until.ts';
import {
  control,
  loggedEvents,
  metricSum,
  type PartnerCenterLine,
  partnerCenterSection,
  readMetrics,
  type StartLine,
  startCosell,
  sweepForSecrets,
} from './runtime-support.ts';

interface DynamicsLine {
  url: string;
  control: string;
  tenantId: string;
  authorityHost: string;
  clientId: string;
  clientSecret: string;
}

let dir: string;
let pc: PartnerCenterLine;
let dv: DynamicsLine;
let emulators: LongRunning[] = [];
let cosell: { process: LongRunning; line: StartLine } | undefined;
let configFile: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cosell-runtime-d365-'));
  const ready = (lines: string[]) => lines.length > 0;
  emulators = await Promise.all([
    startCli(['emulate', 'partner-center', '--port', '0'], ready),
    startCli(['emulate', 'dynamics', '--port', '0'], ready),
  ]);
  pc = JSON.parse(emulators[0]!.lines[0]!) as PartnerCenterLine;
  dv = JSON.parse(emulators[1]!.lines[0]!) as DynamicsLine;
  env = { COSELL_TOKEN_KEY: randomBytes(32).toString('base64'), COSELL_D365_CLIENT_SECRET: dv.clientSecret };
  const partnerCenter = await partnerCenterSection(dir, pc);
  configFile = join(dir, 'cosell.config.yaml');
  await writeFile(
    configFile,
    `store:
  url: data/cosell.db
${partnerCenter}crm:
  kind: dynamics
  dynamics:
    connection:
      url: ${dv.url}
      tenantId: ${dv.tenantId}
      authorityHost: ${dv.authorityHost}
      auth: { grant: client-secret, clientId: ${dv.clientId} }
engine:
  worker: { pollIntervalMs: 200, leaseMs: 3000 }
  crmPoll: { minIntervalMs: 500, maxIntervalMs: 1000 }
server:
  host: 127.0.0.1
  port: 0
`,
  );
});

afterAll(async () => {
  await cosell?.process.stop('SIGKILL');
  await Promise.all(emulators.map((e) => e.stop()));
  await rm(dir, { recursive: true, force: true });
});

describe('cosell on Dynamics 365, as separate processes', () => {
  it('R3 R18 R21 R23 R28 login, then doctor --config checks Partner Center and the environment and prints the effective settings', async () => {
    const login = await runCli(['login', '--config', configFile], { env, cwd: dir });
    expect(login.code, login.stderr).toBe(0);
    const doctor = await runCli(['doctor', '--config', configFile], { env, cwd: dir });
    expect(doctor.code, doctor.stdout).toBe(0);
    expect(doctor.stdout).toMatch(/ok {3}dynamics token/);
    expect(doctor.stdout).toMatch(
      /ok {3}dynamics schema: Every table, column, choice, key and environment variable/,
    );
    expect(doctor.stdout).toContain('dealValueField = estimatedvalue (environment variable (default value))');
    expect(doctor.stdout).toMatch(/ok {3}dynamics currencies: base USD/);
  });

  it('R23 R27 doctor --config waits for an answer no longer than engine.requestTimeoutMs, and says which call got none', async () => {
    const impatient = join(dir, 'impatient.yaml');
    await writeFile(
      impatient,
      (await readFile(configFile, 'utf8')).replace('engine:\n', 'engine:\n  requestTimeoutMs: 1000\n'),
    );
    // Every Web API call is held 20 s; the token endpoint answers.
    await control(dv.control, 'POST', '/faults', { path: '/api/data', delayMs: 20_000, count: 1000 });
    try {
      const doctor = await runCli(['doctor', '--config', impatient], { env, cwd: dir, timeoutMs: 15_000 });
      expect(doctor.code).toBe(1);
      expect(doctor.stdout).toMatch(/FAIL dynamics [^:]+: .*no answer within 1 s/);
    } finally {
      await control(dv.control, 'DELETE', '/faults');
    }
  });

  it('R21 R8 R23 start checks the environment against the config first: a deal value column and a decision column it lacks are both listed in one run, with fixes, and nothing starts', async () => {
    const text = await readFile(configFile, 'utf8');
    const bad = join(dir, 'bad-environment.yaml');
    await writeFile(
      bad,
      text.replace(
        /(auth: \{ grant: client-secret[^\n]*\n)/,
        '$1    settings:\n      dealValueField: new_dealsize\n      decision: { field: new_coselldecision, accept: 1, decline: 2 }\n',
      ),
    );
    const result = await runCli(['start', '--config', bad], { env, cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/has \d+ problems/);
    expect(result.stderr).toContain('new_dealsize');
    expect(result.stderr).toContain('new_coselldecision');
    expect(result.stderr).toContain('Nothing was started');
    expect(result.stdout).not.toContain('"cosell":"started"');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('R4 R10 start syncs a Microsoft referral into Dynamics 365 and a seller opportunity out to Partner Center; /metrics counts them', async () => {
    cosell = await startCosell(configFile, env, dir);
    const register = await runCli(['webhooks', 'register', cosell.line.webhookUrl, '--config', configFile], {
      env,
      cwd: dir,
    });
    expect(register.code, register.stderr).toBe(0);
    const test = await runCli(['webhooks', 'test', '--config', configFile, '--wait', '10'], {
      env,
      cwd: dir,
    });
    expect(test.code, test.stderr).toBe(0);
    expect(test.stdout).toMatch(
      /Test event .*: completed, sent to http:\/\/127\.0\.0\.1:\d+\/webhooks\/partner-center\n.* OK/,
    );

    // The admin loads the solution catalogue once, before referrals arrive.
    const solutionId = await DYNAMICS_DEMO.addCatalogueSolution(dv.control);
    const referral = await sendMicrosoftReferral(pc.control);
    const filter = encodeURIComponent(`cosell_referralidentifier eq '${referral.id}'`);
    const arrived = await until(
      async () =>
        (
          await control<{ value: { name: string; estimatedvalue: number }[] }>(
            dv.control,
            'GET',
            `/ui/opportunities?$filter=${filter}`,
          )
        ).value[0],
      15_000,
      'the opportunity in Dynamics 365',
    );
    expect(arrived).toMatchObject({ name: 'Contoso Cloud Migration ✔', estimatedvalue: 250000 });
    // /metrics (Prometheus text) counted the delivery and the sync that wrote the record.
    const metrics = await until(
      async () => {
        const m = await readMetrics(cosell!.line.url);
        return metricSum(m, 'cosell_sync_duration_seconds_count', { direction: 'toCrm' }) > 0 ? m : null;
      },
      10_000,
      'the sync in /metrics',
    );
    expect(metricSum(metrics, 'cosell_webhook_events_total', { result: 'accepted' })).toBeGreaterThan(0);
    expect(metricSum(metrics, 'cosell_api_calls_today', { api: 'crm' })).toBeGreaterThan(0);

    const { opportunityId } = await DYNAMICS_DEMO.shareSellerOpportunity(dv.control, {
      name: 'Fabrikam on Dynamics',
      accountName: 'Fabrikam Inc',
      country: 'US',
      solutionId,
    });
    const shared = await until(
      async () => {
        const o = await DYNAMICS_DEMO.readOpportunity(dv.control, opportunityId);
        return o.referralId && o.name.endsWith('✔') ? o : undefined;
      },
      15_000,
      'the referral id written back to Dynamics 365',
    );
    const created = await control<{ name: string; externalReferenceId: string }>(
      pc.control,
      'GET',
      `/referrals/${shared.referralId}`,
    );
    expect(created).toMatchObject({ name: 'Fabrikam on Dynamics', externalReferenceId: opportunityId });
  });

  /** Microsoft sends a referral; resolves once its opportunity is in Dynamics 365. */
  async function referralArrives(timeoutMs: number, what: string): Promise<void> {
    const referral = await sendMicrosoftReferral(pc.control);
    const filter = encodeURIComponent(`cosell_referralidentifier eq '${referral.id}'`);
    await until(
      async () =>
        (await control<{ value: unknown[] }>(dv.control, 'GET', `/ui/opportunities?$filter=${filter}`))
          .value[0],
      timeoutMs,
      what,
    );
  }

  it('R25 R26 a call Partner Center or Dynamics 365 answers 503 is retried, and the log names the API, the call and the cause', async () => {
    const seen = loggedEvents(cosell!.process, 'api-retry').length;
    await control(pc.control, 'POST', '/faults', { method: 'GET', status: 503, count: 1 });
    await control(dv.control, 'POST', '/faults', { method: 'GET', path: '/api/data', status: 503, count: 1 });
    await referralArrives(15_000, 'the opportunity in Dynamics 365');
    const retries = await until(
      () => {
        const lines = loggedEvents(cosell!.process, 'api-retry').slice(seen);
        const partnerCenter = lines.find((l) => String(l['api']).startsWith('partner-center'));
        const crm = lines.find((l) => l['api'] === 'dynamics');
        return partnerCenter && crm ? { partnerCenter, crm } : null;
      },
      15_000,
      'a retry line for each API',
    );
    expect(retries.partnerCenter).toMatchObject({
      level: 40,
      attempt: 1,
      cause: expect.stringMatching(/^HTTP 503 /),
    });
    expect(retries.partnerCenter['msg']).toMatch(
      /^partner-center referrals GET \/\S+: HTTP 503 \w+; retrying in [\d.]+ s/,
    );
    expect(retries.crm).toMatchObject({ level: 40, attempt: 1, cause: expect.stringMatching(/^HTTP 503/) });
    expect(retries.crm['msg']).toMatch(/^dynamics [^:]+: HTTP 503.*; retrying in [\d.]+ s/);
  });

  it("R25 R26 a request Dataverse's service protection throttles (429 with Retry-After) is retried after the asked wait, and the log names the limit's code", async () => {
    const seen = loggedEvents(cosell!.process, 'api-retry').length;
    await control(dv.control, 'POST', '/faults', {
      path: '/api/data',
      status: 429,
      code: '0x80072322',
      message: 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.',
      retryAfter: 1,
      count: 2,
    });
    await referralArrives(20_000, 'the opportunity in Dynamics 365 after the throttling');
    const throttled = loggedEvents(cosell!.process, 'api-retry')
      .slice(seen)
      .filter((l) => l['api'] === 'dynamics' && l['cause'] === 'HTTP 429 0x80072322');
    expect(throttled.length).toBeGreaterThan(0);
    expect(throttled[0]!['msg']).toMatch(/^dynamics [^:]+: HTTP 429 0x80072322; retrying in 1 s/);
  });

  // A start that waits out the connection's token retries, then two waits: more than 30 s on a busy machine.
  it('R25 R26 a restart while Entra gives no token for Dataverse (503) keeps the service up, says why, and the referral sent meanwhile arrives once it answers', {
    timeout: 120_000,
  }, async () => {
    await cosell!.process.stop('SIGTERM');
    cosell = undefined;
    // Longer than the start-up check's one try and the connection's retries. (Without Retry-After, msal holds
    // back every token request for 60 s after an unavailable answer.)
    await control(dv.control, 'POST', '/faults', {
      path: '/oauth2/v2.0/token',
      status: 503,
      retryAfter: 1,
      count: 10_000,
    });
    let referral: { id: string };
    try {
      cosell = await startCosell(configFile, env, dir);
      const tokenRetries = loggedEvents(cosell.process, 'api-retry').filter(
        (l) => l['api'] === 'dynamics' && l['operation'] === 'token',
      );
      expect(tokenRetries.length).toBeGreaterThan(0);
      expect(tokenRetries[0]!['msg']).toMatch(/^dynamics token: HTTP 503.*; retrying in/);
      referral = await sendMicrosoftReferral(pc.control);
      // The sync of the new referral meets the outage too: its warning names the referral and the cause.
      await until(
        () =>
          cosell!.process
            .stderr()
            .split('\n')
            .some((l) => l.includes(referral.id) && l.includes('Entra gave no token')),
        20_000,
        "the referral's sync waiting for Entra",
      );
    } finally {
      await control(dv.control, 'DELETE', '/faults');
    }
    expect(cosell!.process.child.exitCode).toBeNull();
    const filter = encodeURIComponent(`cosell_referralidentifier eq '${referral.id}'`);
    await until(
      async () =>
        (await control<{ value: unknown[] }>(dv.control, 'GET', `/ui/opportunities?$filter=${filter}`))
          .value[0],
      60_000,
      'the opportunity in Dynamics 365',
    );
  });

  it('R25 R23 no secret reaches a log line, a run record, a dashboard page or an admin API answer', async () => {
    const sweep = await sweepForSecrets({
      url: cosell!.line.url,
      configFile,
      env,
      cwd: dir,
      log: cosell!.process.stderr(),
      secrets: {
        COSELL_D365_CLIENT_SECRET: env.COSELL_D365_CLIENT_SECRET,
        COSELL_TOKEN_KEY: env.COSELL_TOKEN_KEY,
      },
    });
    expect(sweep.answers).toBeGreaterThan(15);
    expect(sweep.runs).toBeGreaterThan(1);
    expect(sweep.texts.join('\n')).toContain('[redacted: from COSELL_D365_CLIENT_SECRET]');
    expect(sweep.leaked).toEqual([]);
  });

  it('R23 a second cosell on the same store is refused naming the first one; on a port in use, one line says so', async () => {
    const second = await runCli(['start', '--config', configFile], { env, cwd: dir });
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/Another cosell \(pid \d+\) is already running on the store/);
    expect(second.stderr).not.toMatch(/\n\s+at /);

    const port = new URL(cosell!.line.url).port;
    const otherConfig = join(dir, 'other.config.yaml');
    const text = (await readFile(configFile, 'utf8'))
      .replace('url: data/cosell.db', 'url: data/other.db')
      .replace('port: 0', `port: ${port}`);
    await writeFile(otherConfig, text);
    expect((await runCli(['login', '--config', otherConfig], { env, cwd: dir })).code).toBe(0);
    const busy = await runCli(['start', '--config', otherConfig], { env, cwd: dir });
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain(`Port ${port} on 127.0.0.1 is already in use`);
    expect(busy.stderr).not.toMatch(/EADDRINUSE|\n\s+at /);
  });
});
