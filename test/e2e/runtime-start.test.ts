// `cosell start --config` as an admin runs it: the emulators as `cosell emulate` processes, `cosell login
// --config` (token cache into the store), `cosell webhooks register --config`, then the service — and a real
// SIGKILL in the middle of a Partner Center create, followed by a restart.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  type StartLine,
  secretsFor,
  sfQuery,
  startCosell,
  startEmulators,
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

  it('R4 R2 a Microsoft-sent referral arrives in Salesforce through the signed webhook', async () => {
    const referral = await sendMicrosoftReferral(emulators.pc.control);
    await until(async () => (await opportunityOf(referral.id)) !== undefined, 15_000, 'the opportunity');
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

  it('stops cleanly on SIGTERM', async () => {
    const code = await cosell!.process.stop('SIGTERM');
    expect(code).toBe(143);
    expect(cosell!.process.stderr()).toContain('cosell stopped');
    cosell = undefined;
  });
});
