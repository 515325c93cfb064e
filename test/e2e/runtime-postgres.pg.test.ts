// `cosell login` and `cosell start` with the store on PostgreSQL (COSELL_STORE_URL, a password in it), the
// emulators as `cosell emulate` processes: a referral a Microsoft seller sends arrives in Salesforce, and two
// services on one database import it once. Run by `npm run test:pg` (its global setup starts the server).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendMicrosoftReferral } from '../../src/cli/demo-story.ts';
import { openStore } from '../../src/store/open.ts';
import { testStoreUrl } from '../../src/store/test-support.ts';
import { type LongRunning, runCli } from '../helpers/cli.ts';
import { until } from '../helpers/until.ts';
import {
  type Emulators,
  type StartLine,
  secretsFor,
  sfQuery,
  startCosell,
  startEmulators,
  writeEmulatorConfig,
} from './runtime-support.ts';

const PASSWORD = 'pg-pa55word-never-logged';

let emulators: Emulators;
let dir: string;
let configFile: string;
let env: NodeJS.ProcessEnv;
let storeUrl: string;
const services: { process: LongRunning; line: StartLine }[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cosell-runtime-pg-'));
  const url = new URL(await testStoreUrl({ dir, file: () => join(dir, 'unused.db') }));
  // The test server trusts loopback, so any password works: it only has to never show anywhere.
  url.password = PASSWORD;
  storeUrl = url.toString();
  emulators = await startEmulators();
  env = { ...secretsFor(emulators.sf), COSELL_STORE_URL: storeUrl };
  configFile = await writeEmulatorConfig(dir, emulators);
});

afterAll(async () => {
  for (const service of services) await service.process.stop('SIGKILL');
  await emulators?.stop();
  await rm(dir, { recursive: true, force: true });
});

const opportunitiesOf = (referralId: string) =>
  sfQuery<{ Id: string }>(
    emulators.sf,
    `SELECT Id FROM Opportunity WHERE Referral_Identifier__c = '${referralId}'`,
  );

describe('cosell on a PostgreSQL store', () => {
  it('R3 R4 R23 login, start and a Microsoft-sent referral arriving in Salesforce, with the store on PostgreSQL; its password never shows', async () => {
    const login = await runCli(['login', '--config', configFile], { env, cwd: dir });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain('encrypted in the store');
    services.push(await startCosell(configFile, env, dir));
    const service = services[0]!;
    expect(await (await fetch(service.line.healthz)).json()).toEqual({ status: 'ok', store: 'ok' });
    const register = await runCli(['webhooks', 'register', service.line.webhookUrl, '--config', configFile], {
      env,
      cwd: dir,
    });
    expect(register.code, register.stderr).toBe(0);

    const referral = await sendMicrosoftReferral(emulators.pc.control);
    await until(async () => (await opportunitiesOf(referral.id)).length === 1, 15_000, 'the opportunity');

    // Nothing went to a SQLite file, and the link is in PostgreSQL.
    const store = await openStore({ url: storeUrl });
    try {
      expect(await store.linkByReferral(referral.id)).toMatchObject({ crmKind: 'salesforce' });
    } finally {
      await store.close();
    }
    for (const text of [
      service.process.stderr(),
      service.process.lines.join('\n'),
      login.stdout,
      login.stderr,
    ])
      expect(text).not.toContain(PASSWORD);
  });

  it('R26 a second service on the same database: the referral sent next is imported once', async () => {
    services.push(await startCosell(configFile, env, dir));
    const referral = await sendMicrosoftReferral(emulators.pc.control);
    await until(async () => (await opportunitiesOf(referral.id)).length > 0, 15_000, 'the opportunity');
    // Both services poll and both may hear of it; one job per link across processes keeps it one record.
    const store = await openStore({ url: storeUrl });
    try {
      await until(
        async () => (await store.jobCounts()).running === 0 && (await store.jobCounts()).pending === 0,
        15_000,
        'the queue to empty',
      );
    } finally {
      await store.close();
    }
    expect(await opportunitiesOf(referral.id)).toHaveLength(1);
  });
});
