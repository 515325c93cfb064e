// `cosell start --config` as an admin runs it: the emulators as `cosell emulate` processes, `cosell login
// --config` (token cache into the store), `cosell webhooks register --config`, then the service — and a real
// SIGKILL in the middle of a Partner Center create, followed by a restart.
import { statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../reliability/deployment.ts';
import {
  addCatalogueSolution,
  sendMicrosoftReferral,
  shareSellerOpportunity,
} from '../../src/cli/demo-story.ts';
import { type LongRunning, runCli } from '../helpers/cli.ts';
import { until } from '../helpers/until.ts';
import {
  allReferrals,
  control,
  type Emulators,
  loggedEvents,
  metricSum,
  readMetrics,
  type StartLine,
  secretsFor,
  sfQuery,
  startCosell,
  startEmulators,
  sweepForSecrets,
  writeEmulatorConfig,
} from './runtime-support.ts';

let emulators: Emulators;
let dir: string;
let configFile: string;
let env: NodeJS.ProcessEnv;
let cosell: { process: LongRunning; line: StartLine } | undefined;
let solutionId: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cosell-runtime-'));
  emulators = await startEmulators();
  env = secretsFor(emulators.sf);
  configFile = await writeEmulatorConfig(dir, emulators);
  solutionId = await addCatalogueSolution(emulators.sf.control);
});

afterAll(async () => {
  await cosell?.process.stop('SIGKILL');
  await emulators?.stop();
  await rm(dir, { recursive: true, force: true });
});

function inboxRowsMentioning(text: string): number {
  const db = new Database(join(dir, 'data/cosell.db'), { readonly: true });
  try {
    return (
      db.prepare('SELECT COUNT(*) AS n FROM inbox WHERE payload LIKE ?').get(`%${text}%`) as { n: number }
    ).n;
  } finally {
    db.close();
  }
}

const opportunityOf = async (referralId: string) =>
  (
    await sfQuery<{ Id: string; Name: string; Sync_with_Partner_Center__c: boolean; Amount: number }>(
      emulators.sf,
      `SELECT Id, Name, Sync_with_Partner_Center__c, Amount FROM Opportunity WHERE Referral_Identifier__c = '${referralId}'`,
    )
  )[0];

describe('cosell start --config against the emulators', () => {
  it('R3 R23 start refuses to run before `cosell login --config`, naming the command', async () => {
    const result = await runCli(['start', '--config', configFile], { env, cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`cosell login --config ${configFile}`);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('R23 R27 doctor --config waits for an answer no longer than engine.requestTimeoutMs, and says which call got none', async () => {
    const impatient = join(dir, 'impatient.yaml');
    await writeFile(
      impatient,
      (await readFile(configFile, 'utf8')).replace('engine:\n', 'engine:\n  requestTimeoutMs: 1000\n'),
    );
    // Every REST call is held 20 s; the token endpoint answers.
    await control(emulators.sf.control, 'POST', '/faults', {
      path: '/services/data',
      delayMs: 20_000,
      count: 1000,
    });
    try {
      const doctor = await runCli(['doctor', '--config', impatient], { env, cwd: dir, timeoutMs: 15_000 });
      expect(doctor.code).toBe(1);
      expect(doctor.stdout).toMatch(/FAIL salesforce [^:]+: .*no answer within 1 s/);
    } finally {
      await control(emulators.sf.control, 'DELETE', '/faults');
    }
  });

  it('R21 R23 start checks the org against the config first: a deal value field and an on-hold stage the org lacks are both listed in one run, with fixes, and nothing starts', async () => {
    const text = await readFile(configFile, 'utf8');
    const bad = join(dir, 'bad-org.yaml');
    await writeFile(
      bad,
      text.replace(
        /(auth: \{ grant: client-credentials[^\n]*\n)/,
        '$1    settings:\n      fields: { dealValue: Deal_Size__c }\n      stages: { onHold: Waiting for Microsoft }\n',
      ),
    );
    const result = await runCli(['start', '--config', bad], { env, cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/has \d+ problems/);
    expect(result.stderr).toContain('Deal_Size__c');
    expect(result.stderr).toContain('Waiting for Microsoft');
    expect(result.stderr).toContain('Nothing was started');
    expect(result.stdout).not.toContain('"cosell":"started"');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('R3 login --config keeps the token cache encrypted in the store, then start serves health checks', async () => {
    const login = await runCli(['login', '--config', configFile], { env, cwd: dir });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain('encrypted in the store');
    cosell = await startCosell(configFile, env, dir);
    expect(cosell.line.webhookUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/webhooks\/partner-center$/);
    expect(await (await fetch(cosell.line.healthz)).json()).toEqual({ status: 'ok', store: 'ok' });
    expect((await fetch(`${cosell.line.url}/readyz`)).status).toBe(200);

    const register = await runCli(['webhooks', 'register', cosell.line.webhookUrl, '--config', configFile], {
      env,
      cwd: dir,
    });
    expect(register.code, register.stderr).toBe(0);
    expect(register.stdout).toContain('created');
  });

  it('R4 R2 a Microsoft-sent referral arrives in Salesforce through the signed webhook; /metrics counts the event and the sync', async () => {
    const before = await readMetrics(cosell!.line.url);
    const referral = await sendMicrosoftReferral(emulators.pc.control);
    await until(async () => (await opportunityOf(referral.id)) !== undefined, 15_000, 'the opportunity');
    const after = await until(
      async () => {
        const m = await readMetrics(cosell!.line.url);
        return metricSum(m, 'cosell_sync_duration_seconds_count', { direction: 'toCrm' }) >
          metricSum(before, 'cosell_sync_duration_seconds_count', { direction: 'toCrm' })
          ? m
          : null;
      },
      10_000,
      'the sync in /metrics',
    );
    expect(metricSum(after, 'cosell_webhook_events_total', { result: 'accepted' })).toBeGreaterThan(
      metricSum(before, 'cosell_webhook_events_total', { result: 'accepted' }),
    );
    expect(metricSum(after, 'cosell_api_calls_today', { api: 'crm' })).toBeGreaterThan(0);
    expect(after.has('cosell_jobs{tenant="default",state="dead"}')).toBe(true);
    const opportunity = await opportunityOf(referral.id);
    expect(opportunity).toMatchObject({ Sync_with_Partner_Center__c: true, Amount: 250000 });
    expect(opportunity?.Name).toContain('Contoso Cloud Migration');
    const { deliveries } = await control<{ deliveries: { referralId: string; state: string }[] }>(
      emulators.pc.control,
      'GET',
      '/webhooks/deliveries',
    );
    expect(deliveries.filter((d) => d.referralId === referral.id).map((d) => d.state)).toContain('delivered');
  });

  it('R25 R26 a call Partner Center or Salesforce answers 503 is retried, and the log names the API, the call and the cause', async () => {
    const seen = loggedEvents(cosell!.process, 'api-retry').length;
    await control(emulators.pc.control, 'POST', '/faults', { method: 'GET', status: 503, count: 1 });
    await control(emulators.sf.control, 'POST', '/faults', {
      method: 'GET',
      path: '/services/data',
      status: 503,
      count: 1,
    });
    const referral = await sendMicrosoftReferral(emulators.pc.control);
    // Read Salesforce only after the retries: the test's own query would take the fault otherwise.
    const retries = await until(
      () => {
        const lines = loggedEvents(cosell!.process, 'api-retry').slice(seen);
        const pc = lines.find((l) => String(l['api']).startsWith('partner-center'));
        const crm = lines.find((l) => l['api'] === 'salesforce');
        return pc && crm ? { pc, crm } : null;
      },
      15_000,
      'a retry line for each API',
    );
    expect(retries.pc).toMatchObject({ level: 40, attempt: 1, cause: expect.stringMatching(/^HTTP 503 /) });
    expect(retries.pc['msg']).toMatch(
      /^partner-center referrals GET \/\S+: HTTP 503 \w+; retrying in [\d.]+ s/,
    );
    expect(retries.crm).toMatchObject({ level: 40, attempt: 1, cause: expect.stringMatching(/^HTTP 503/) });
    expect(retries.crm['msg']).toMatch(/^salesforce [^:]+: HTTP 503.*; retrying in [\d.]+ s/);
    await until(async () => (await opportunityOf(referral.id)) !== undefined, 15_000, 'the opportunity');
  });

  // Seven `cosell` command runs, each a process start: more than the default 30 s on a busy 2-core machine.
  it('R25 a create the CRM refuses is listed by `cosell runs --failed` with its error and fix; `cosell resubmit --all-failed` syncs it', {
    timeout: 90_000,
  }, async () => {
    await control(emulators.sf.control, 'POST', '/faults', {
      method: 'POST',
      path: '/composite',
      status: 400,
      errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
      message: 'Opportunities need a region (validation rule Region_Required).',
      // Every composite request until the admin "fixes the rule" (the faults are cleared below).
      count: 1000,
    });
    const referral = await sendMicrosoftReferral(emulators.pc.control);
    const cli = (args: string[]) => runCli([...args, '--config', configFile], { env, cwd: dir });
    const failed = await until(
      async () => {
        const result = await cli(['runs', '--failed', '--json']);
        const runs = JSON.parse(result.stdout) as {
          id: number;
          referralId: string;
          error: { message: string };
        }[];
        return runs.find((r) => r.referralId === referral.id) ?? null;
      },
      15_000,
      'the failed run',
    );
    expect(failed.error.message).toContain('Region_Required');
    const listed = await cli(['runs', '--failed', '--referral', referral.id]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(`#${failed.id} `);
    expect(listed.stdout).toMatch(/error: .*Region_Required/);
    expect(listed.stdout).toContain('cosell resubmit');
    expect(await opportunityOf(referral.id)).toBeUndefined();

    const bad = await cli(['runs', '--since', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('neither a date nor an age');

    await control(emulators.sf.control, 'DELETE', '/faults');
    const resubmit = await cli(['resubmit', `#${failed.id}`]);
    expect(resubmit.code, resubmit.stderr).toBe(0);
    expect(resubmit.stdout).toContain('Queued 1 record again');
    // Whatever else failed while the rule refused everything goes again in one command.
    const all = await cli(['resubmit', '--all-failed']);
    expect(all.code, all.stderr).toBe(0);
    await until(async () => (await opportunityOf(referral.id)) !== undefined, 15_000, 'the opportunity');
    const after = await cli(['runs', '--referral', referral.id, '--json']);
    const outcomes = (JSON.parse(after.stdout) as { outcome: string; trigger: string }[]).map(
      (r) => r.trigger,
    );
    expect(outcomes).toContain('resubmit');
  });

  it('R25 R23 no secret reaches a log line, a run record, a dashboard page or an admin API answer', async () => {
    const sweep = await sweepForSecrets({
      url: cosell!.line.url,
      configFile,
      env,
      cwd: dir,
      log: cosell!.process.stderr(),
      secrets: {
        COSELL_SF_CLIENT_SECRET: env.COSELL_SF_CLIENT_SECRET,
        COSELL_TOKEN_KEY: env.COSELL_TOKEN_KEY,
      },
    });
    expect(sweep.answers).toBeGreaterThan(15);
    expect(sweep.runs).toBeGreaterThan(2);
    expect(sweep.texts.join('\n')).toContain('[redacted: from COSELL_SF_CLIENT_SECRET]');
    expect(sweep.leaked).toEqual([]);
  });

  it('R2 a webhook with a bad signature is refused with 401 and nothing is stored', async () => {
    const body = JSON.stringify({
      EventName: 'referral-created',
      ResourceUri: 'https://api.partnercenter.microsoft.com/engagements/v1/referrals/forged-1',
      ResourceName: 'referral',
      AuditUri: null,
      ResourceChangeUtcDate: new Date().toISOString(),
    });
    const response = await fetch(cosell!.line.webhookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-ms-signature': `Signature ${Buffer.alloc(256, 7).toString('base64')}`,
        'x-ms-certificate-url': emulators.pc.certificateUrl,
        'x-ms-signature-algorithm': 'rsa-sha256',
      },
      body,
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: 'bad-signature' } });
    expect(inboxRowsMentioning('forged-1')).toBe(0);
    expect(inboxRowsMentioning('referral-created')).toBeGreaterThan(0);
    expect(cosell!.process.stderr()).toContain('webhook signature refused');
  });

  it('R10 a SIGKILL between the Partner Center POST and the link commit, then a restart, leaves exactly one referral', async () => {
    // Pinning the window: the emulator holds the referral POST for 3 s, so cosell is inside it with its
    // create-intent on disk; meanwhile the test takes the store's write lock, so when Partner Center has
    // created the referral cosell cannot commit the link. Then kill -9. (Killing during the delay alone is
    // not enough: the emulator drops a request whose client died before it read the body.)
    await control(emulators.pc.control, 'POST', '/faults', {
      method: 'POST',
      path: '/v1.0/engagements/referrals',
      delayMs: 3000,
      count: 1,
    });
    const { opportunityId } = await shareSellerOpportunity(emulators.sf.control, {
      name: 'Crash Test Dummies',
      accountName: 'Tailspin Toys',
      country: 'United States',
      solutionId,
    });
    await until(
      async () => (await control<unknown[]>(emulators.pc.control, 'GET', '/faults')).length === 0,
      15_000,
      'the Partner Center POST to be in flight',
    );
    const lock = new Database(join(dir, 'data/cosell.db'), { timeout: 10_000 });
    const ours = async () =>
      (await allReferrals(emulators.pc)).filter(
        (r) => r.externalReferenceId === opportunityId && !r.target?.some((t) => t.id === 'msft'),
      );
    try {
      lock.exec('BEGIN IMMEDIATE');
      await until(async () => (await ours()).length === 1, 10_000, 'Partner Center to create the referral');
      expect(await cosell!.process.stop('SIGKILL')).toBeNull();
    } finally {
      lock.exec('ROLLBACK');
      lock.close();
    }
    const created = (await ours())[0]!;
    const intents = new Database(join(dir, 'data/cosell.db'), { readonly: true });
    try {
      const intent = intents
        .prepare('SELECT state, referral_id AS referralId FROM create_intents WHERE crm_id = ?')
        .get(opportunityId);
      expect(intent, 'killed after the intent, before the link commit').toEqual({
        state: 'pending',
        referralId: null,
      });
    } finally {
      intents.close();
    }

    cosell = await startCosell(configFile, env, dir);
    const identifier = async () =>
      (
        await control<Record<string, unknown>>(
          emulators.sf.control,
          'GET',
          `/ui/Opportunity/${opportunityId}`,
        )
      )['Referral_Identifier__c'];
    await until(
      async () => (await identifier()) === created.id,
      20_000,
      'the restarted cosell to adopt the referral',
    );
    expect((await ours()).map((r) => r.id)).toEqual([created.id]);
    const row = await control<Record<string, unknown>>(
      emulators.sf.control,
      'GET',
      `/ui/Opportunity/${opportunityId}`,
    );
    expect(String(row['Name'])).toMatch(/✔$/);
  });

  // A start that waits out the connection's token retries, then two waits: more than 30 s on a busy machine.
  it('R25 R26 a restart while Salesforce gives no token keeps the service up, says why, and the referral sent meanwhile arrives once it answers', {
    timeout: 120_000,
  }, async () => {
    await cosell!.process.stop('SIGTERM');
    cosell = undefined;
    // Longer than the start-up check's one try and the connection's retries.
    await control(emulators.sf.control, 'POST', '/faults', {
      path: '/services/oauth2/token',
      status: 503,
      count: 10_000,
    });
    let referral: { id: string };
    try {
      cosell = await startCosell(configFile, env, dir);
      const tokenRetries = loggedEvents(cosell.process, 'api-retry').filter(
        (l) => l['api'] === 'salesforce' && l['operation'] === 'token',
      );
      expect(tokenRetries.length).toBeGreaterThan(0);
      expect(tokenRetries[0]!['msg']).toMatch(/^salesforce token: HTTP 503.*; retrying in/);
      referral = await sendMicrosoftReferral(emulators.pc.control);
      // The sync of the new referral meets the outage too: its warning names the referral and the cause.
      await until(
        () =>
          cosell!.process
            .stderr()
            .split('\n')
            .some((l) => l.includes(referral.id) && l.includes("Salesforce's token endpoint gave no token")),
        20_000,
        "the referral's sync waiting for Salesforce",
      );
    } finally {
      await control(emulators.sf.control, 'DELETE', '/faults');
    }
    expect(cosell!.process.child.exitCode).toBeNull();
    await until(async () => (await opportunityOf(referral.id)) !== undefined, 60_000, 'the opportunity');
  });

  // Five `cosell` process runs and two waits: more than the default 30 s on a busy 2-core machine.
  it('R3 R28 R23 revoked credentials: /readyz and doctor say Partner Center is paused and how to fix it; a login without any CRM secret resumes it', {
    timeout: 90_000,
  }, async () => {
    // The same deployment on a known port, so doctor can ask the running service.
    await cosell!.process.stop('SIGTERM');
    const port = await freePort();
    const fixed = join(dir, 'cosell.fixed-port.yaml');
    // A short credentials pause, so the resume after the new login is seen within the test (default 1 min).
    await writeFile(
      fixed,
      (await readFile(configFile, 'utf8'))
        .replace(/port: 0/, `port: ${port}`)
        .replace(/^engine:\n/m, 'engine:\n  credentialPauseMs: 500\n'),
    );
    cosell = await startCosell(fixed, env, dir);
    const readyz = `${cosell.line.url}/readyz`;
    expect((await fetch(readyz)).status).toBe(200);
    // Partner Center's webhook still points at the first run's port: point it here, so the referral below reaches
    // this run at once instead of waiting for a poll (the start-up sweep may already have run before the revoke).
    const register = await runCli(
      ['webhooks', 'register', cosell.line.webhookUrl, '--force', '--config', fixed],
      {
        env,
        cwd: dir,
      },
    );
    expect(register.code, register.stderr).toBe(0);

    await control(emulators.pc.control, 'POST', '/tokens/revoke');
    await sendMicrosoftReferral(emulators.pc.control);
    const paused = (await until(
      async () => {
        const response = await fetch(readyz);
        return response.status === 503 ? ((await response.json()) as Record<string, unknown>) : null;
      },
      20_000,
      '/readyz to report the paused API',
    )) as { status: string; paused: { api: string; reason: string; message: string; fix: string }[] };
    expect(paused.status).toBe('paused');
    expect(paused.paused).toEqual([
      expect.objectContaining({
        api: 'partner-center',
        reason: 'credentials',
        message: expect.stringContaining('Partner Center sync is paused'),
        fix: expect.stringContaining('cosell login'),
      }),
    ]);
    expect((await fetch(cosell.line.healthz)).status).toBe(200);

    const doctor = await runCli(['doctor', '--config', fixed], { env, cwd: dir });
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(
      /FAIL partner-center referrals api: Partner Center refused the credentials/,
    );
    expect(doctor.stdout).toContain(`fix: Run \`cosell login --config ${fixed}\``);
    expect(doctor.stdout).toMatch(/FAIL service partner-center paused: Partner Center sync is paused/);
    expect(doctor.stdout).toMatch(/ok {3}salesforce token/);

    // Signing in to Partner Center needs no Salesforce secret (R23): only the token key.
    const login = await runCli(['login', '--config', fixed], {
      env: { COSELL_TOKEN_KEY: env.COSELL_TOKEN_KEY, COSELL_SF_CLIENT_SECRET: '' },
      cwd: dir,
    });
    expect(login.code, login.stderr).toBe(0);
    await until(async () => (await fetch(readyz)).status === 200, 20_000, '/readyz to turn ready again');
    const healthy = await runCli(['doctor', '--config', fixed], { env, cwd: dir });
    expect(healthy.code, healthy.stdout).toBe(0);
    expect(healthy.stdout).toMatch(/ok {3}partner-center referrals api: Signed in as/);
    // R3: `cosell login` (and then the service) marked the refresh token as renewed just now.
    expect(healthy.stdout).toMatch(
      /ok {3}partner-center token age: The refresh token was last renewed under an hour ago/,
    );
    expect(healthy.stdout).toMatch(/ok {3}service running: .* is ready/);
  });

  it('R33 the store holds customer data: its files are readable by the owner only', () => {
    for (const name of ['cosell.db', 'cosell.db-wal']) {
      expect((statSync(join(dir, 'data', name)).mode & 0o777).toString(8), name).toBe('600');
    }
  });

  it('R33 `cosell purge --older-than` removes customer e-mail addresses from the stored runs and snapshots; the runs stay', async () => {
    const db = () => new Database(join(dir, 'data/cosell.db'), { readonly: true });
    const mentions = (maxRunId: number) => {
      const handle = db();
      try {
        const runs = handle
          .prepare(
            "SELECT COUNT(*) AS n FROM runs WHERE id <= ? AND diff_json LIKE '%avery.howard@contoso.example%'",
          )
          .get(maxRunId) as { n: number };
        return runs.n;
      } finally {
        handle.close();
      }
    };
    const handle = db();
    const { maxId, total } = handle.prepare('SELECT MAX(id) AS maxId, COUNT(*) AS total FROM runs').get() as {
      maxId: number;
      total: number;
    };
    handle.close();
    expect(mentions(maxId)).toBeGreaterThan(0);

    const usage = await runCli(['purge', '--config', configFile], { env, cwd: dir });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--older-than');
    const purge = await runCli(['purge', '--older-than', '0m', '--json', '--config', configFile], {
      env,
      cwd: dir,
    });
    expect(purge.code, purge.stderr).toBe(0);
    const counts = JSON.parse(purge.stdout) as { snapshots: number; runs: number };
    expect(counts.runs).toBeGreaterThan(0);
    expect(counts.snapshots).toBeGreaterThan(0);
    expect(mentions(maxId)).toBe(0);
    const after = db();
    expect(
      (after.prepare('SELECT COUNT(*) AS n FROM runs WHERE id <= ?').get(maxId) as { n: number }).n,
    ).toBe(total);
    after.close();
  });

  it('stops cleanly on SIGTERM', async () => {
    const code = await cosell!.process.stop('SIGTERM');
    expect(code).toBe(143);
    expect(cosell!.process.stderr()).toContain('cosell stopped');
    cosell = undefined;
  });

  it('R23 on a non-loopback address start refuses without COSELL_ADMIN_TOKEN; with it, the dashboard and admin API need the token and probes stay open', async () => {
    const exposed = join(dir, 'exposed.config.yaml');
    await writeFile(
      exposed,
      (await readFile(configFile, 'utf8')).replace('host: 127.0.0.1', 'host: 0.0.0.0'),
    );
    const refused = await runCli(['start', '--config', exposed], { env, cwd: dir });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/server\.host.*0\.0\.0\.0.*COSELL_ADMIN_TOKEN.*openssl rand/s);
    expect(refused.stderr).toContain('Nothing was started');

    const token = 'runtime-admin-token-0123456789abcdef';
    cosell = await startCosell(exposed, { ...env, COSELL_ADMIN_TOKEN: token }, dir);
    const base = cosell.line.url.replace('0.0.0.0', '127.0.0.1');
    expect((await fetch(`${base}/api/overview`)).status).toBe(401);
    const page = await fetch(`${base}/records`, { redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/login?next=%2Frecords');
    const overview = await fetch(`${base}/api/overview`, { headers: { authorization: `Bearer ${token}` } });
    expect(overview.status).toBe(200);
    expect(((await overview.json()) as { counts: { linked: number } }).counts.linked).toBeGreaterThan(0);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
    const code = await cosell.process.stop('SIGTERM');
    expect(code).toBe(143);
    cosell = undefined;
  });
});
