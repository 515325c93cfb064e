// `cosell demo` (what `npm start` runs with no config): the real cosell service against the built-in
// emulators. Stdout begins with each emulator's start-up JSON line exactly as `cosell emulate` prints them
// (scripts parse those), then a guide: what the seeded story did, with ids, and what to try next.
//
// Nothing is special-cased for the demo: the config goes through the same schema, the device-code login
// through the same DelegatedTokenProvider (the emulator approves it), webhooks are registered through the
// Webhooks API and verified against the emulator's CA with 127.0.0.1 allow-listed.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import pino from 'pino';
import { configFromObject } from '../../config/load.ts';
import type { Config } from '../../config/schema.ts';
import { createLogger } from '../../server/logger.ts';
import { TOKEN_CACHE_SECRET } from '../../store/cache-plugin.ts';
import { openStore } from '../../store/open.ts';
import {
  type DemoCrm,
  DYNAMICS_DEMO,
  SALESFORCE_DEMO,
  type StoryIds,
  sendMicrosoftReferral,
} from '../demo-story.ts';
import { CliError } from '../errors.ts';
import type { RunningService } from '../service.ts';
import { stopOnSignals } from '../signals.ts';
import { storeTokenProvider } from '../store-tokens.ts';
import { type RunningEmulator, startEmulator } from './emulate.ts';

const CRMS = ['salesforce', 'dynamics'] as const;
const WAIT_MS = 30_000;

interface DemoOptions {
  crm: string;
}

type Info = Record<string, string>;

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'Run cosell against the built-in emulators with a small seeded story (what `npm start` runs when there is no config).',
    )
    .option('--crm <crm>', `CRM to demo: ${CRMS.join(' | ')}`, 'salesforce')
    .action(async (options: DemoOptions) => {
      if (!(CRMS as readonly string[]).includes(options.crm)) {
        throw new CliError(`Unknown CRM '${options.crm}'.`, `Use --crm ${CRMS.join(' or --crm ')}.`);
      }
      await runDemo(options.crm as (typeof CRMS)[number]);
    });
}

async function runDemo(kind: (typeof CRMS)[number]): Promise<void> {
  const crm = kind === 'dynamics' ? DYNAMICS_DEMO : SALESFORCE_DEMO;
  const startedAt = performance.now();
  const emulators: RunningEmulator[] = [];
  let service: RunningService | undefined;
  let workDir: string | undefined;
  let stopped = false;
  const stopAll = async () => {
    if (stopped) return;
    stopped = true;
    await service?.stop().catch(() => {});
    await Promise.allSettled(emulators.map((emulator) => emulator.close()));
    if (workDir) await rm(workDir, { recursive: true, force: true });
  };
  stopOnSignals(stopAll);

  try {
    emulators.push(await startEmulator('partner-center', { port: 0, host: '127.0.0.1' }));
    emulators.push(await startEmulator(kind, { port: 0, host: '127.0.0.1' }));
    // The start-up lines come first and exactly as `cosell emulate` prints them, so scripts can parse them.
    for (const emulator of emulators) process.stdout.write(`${JSON.stringify(emulator.info)}\n`);
    const pc = emulators[0]!.info as Info;
    const crmInfo = emulators[1]!.info as Info;

    workDir = await mkdtemp(join(tmpdir(), 'cosell-demo-'));
    const logFile = join(workDir, 'cosell.log');
    const logger = createLogger({
      level: 'info',
      destination: pino.destination({ dest: logFile, sync: true }),
    });
    const config = await demoConfig(pc, crm, crmInfo, workDir);
    const tokenKey = randomBytes(32);
    await signIn(config, tokenKey);

    const { startService } = await import('../service.ts');
    service = await startService(config, { logger, tokenKey });
    const tenant = service.tenants[0]!;
    await tenant.webhooks.register({ url: tenant.webhookUrl!, force: true });
    await tenant.checkWebhook();
    const readyMs = performance.now() - startedAt;

    const story = await playStory(service, pc, crm, crmInfo);
    process.stdout.write(guide({ pc, crm, crmInfo, service, workDir, logFile, readyMs, story }));
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The same config a deployment writes, pointing at the emulators; validated by the same schema. */
async function demoConfig(pc: Info, crm: DemoCrm, crmInfo: Info, workDir: string): Promise<Config> {
  const crmSection = crm.config(crmInfo);
  const caPem = await (await fetch(pc['caCertificateUrl']!)).text();
  await writeFile(join(workDir, 'emulator-ca.pem'), caPem);
  return configFromObject(
    {
      store: { url: join(workDir, 'cosell.db') },
      partnerCenter: {
        tenantId: pc['tenantId'],
        clientId: pc['clientId'],
        referralsUrl: pc['referrals'],
        webhooksUrl: pc['webhooks'],
        authorityHost: pc['authorityHost'],
        webhook: {
          // The emulator's certificate server, host and port exactly (never any port of the host).
          allowedCertificateHosts: [new URL(String(pc['certificateUrl'])).host],
          trustAnchors: ['emulator-ca.pem'],
        },
      },
      crm: crmSection.crm,
      // Snappier than production so the story plays out in seconds; same code paths.
      engine: {
        worker: { pollIntervalMs: 500 },
        crmPoll: { minIntervalMs: 1_000, maxIntervalMs: 3_000 },
        revalidateFailedEveryMs: 10_000,
      },
      server: { host: '127.0.0.1', port: 0 },
    },
    crmSection.env,
    { file: 'demo (built-in config)', baseDir: workDir },
  );
}

/** `cosell login` in-process: the device code is approved by the emulator as its demo Referrals Admin. */
async function signIn(config: Config, tokenKey: Buffer): Promise<void> {
  const store = await openStore({ url: config.store.url, tenantId: config.tenantId });
  try {
    await store.deleteSecret(TOKEN_CACHE_SECRET);
    const tokens = storeTokenProvider(config, store, tokenKey);
    await tokens.login({ onDeviceCode: () => {} });
    await tokens.getToken('referrals');
    await tokens.getToken('webhooks');
  } finally {
    await store.close();
  }
}

interface Outcome {
  ok: boolean;
  /** Milliseconds from the action to the synced state, when it was reached. */
  ms?: number;
  crmId?: string;
  referralId?: string;
  name?: string;
  audit?: string;
}

interface Story {
  ids: StoryIds;
  referral: Outcome;
  shared: Outcome;
  missingCountry: Outcome;
}

async function waitFor<T>(read: () => Promise<T | undefined>, timeoutMs = WAIT_MS): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value !== undefined || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function playStory(service: RunningService, pc: Info, crm: DemoCrm, crmInfo: Info): Promise<Story> {
  const pcControl = pc['control']!;
  const crmControl = crmInfo['control']!;
  const solutionId = await crm.addCatalogueSolution(crmControl);

  const t0 = performance.now();
  const referral = await sendMicrosoftReferral(pcControl);
  const sharedAt = performance.now();
  const shared = await crm.shareSellerOpportunity(crmControl, {
    name: 'Fabrikam Analytics Modernisation',
    accountName: 'Fabrikam Inc',
    country: 'United States',
    solutionId,
  });
  const missingAt = performance.now();
  const missing = await crm.shareSellerOpportunity(crmControl, {
    name: 'Northwind Data Estate',
    accountName: 'Northwind Traders',
    country: null,
    solutionId,
  });
  const ids: StoryIds = {
    referral,
    shared: { opportunityId: shared.opportunityId, name: 'Fabrikam Analytics Modernisation' },
    missingCountry: {
      opportunityId: missing.opportunityId,
      accountId: missing.accountId,
      name: 'Northwind Data Estate',
      accountName: 'Northwind Traders',
    },
  };

  const [referralOutcome, sharedOutcome, missingOutcome] = await Promise.all([
    waitFor(async () => {
      const link = await service.tenants[0]!.store.linkByReferral(referral.id);
      if (!link?.crmId) return undefined;
      const record = await crm.readOpportunity(crmControl, link.crmId).catch(() => undefined);
      return { ok: true, ms: performance.now() - t0, crmId: link.crmId, name: record?.name ?? '' };
    }),
    waitFor(async () => {
      const record = await crm.readOpportunity(crmControl, shared.opportunityId);
      if (!record.referralId || !record.name.endsWith('✔')) return undefined;
      return { ok: true, ms: performance.now() - sharedAt, name: record.name, referralId: record.referralId };
    }),
    waitFor(async () => {
      const record = await crm.readOpportunity(crmControl, missing.opportunityId);
      if (!record.name.endsWith('✖')) return undefined;
      return { ok: true, ms: performance.now() - missingAt, name: record.name, audit: record.audit ?? '' };
    }),
  ]);
  return {
    ids,
    referral: referralOutcome ?? { ok: false },
    shared: sharedOutcome ?? { ok: false },
    missingCountry: missingOutcome ?? { ok: false },
  };
}

const seconds = (ms: number | undefined) => (ms === undefined ? '' : ` in ${(ms / 1000).toFixed(1)} s`);

function guide(input: {
  pc: Info;
  crm: DemoCrm;
  crmInfo: Info;
  service: RunningService;
  workDir: string;
  logFile: string;
  readyMs: number;
  story: Story;
}): string {
  const { pc, crm, crmInfo, service, story } = input;
  const pcc = pc['control'];
  const crmc = crmInfo['control']!;
  const other = crm === DYNAMICS_DEMO ? 'salesforce' : 'dynamics';
  const { ids } = story;
  const lastAuditLine = (audit: string | undefined) =>
    (audit ?? '').trim().split('\n').filter(Boolean).at(-1) ?? '(no audit line yet)';
  const line = (outcome: Outcome, ok: string, waiting: string) =>
    outcome.ok ? `  ${ok}` : `  … ${waiting} (not synced within ${WAIT_MS / 1000} s; see the log)`;

  return `
cosell demo — running on EMULATORS: nothing here talks to Microsoft or ${crm.label}.

  ▶ Open the dashboard: ${service.dashboardUrl}
    Find the ✖ record under Failures, read why it did not sync, fix the country in the emulator
    (first command under "Try next"), click Resubmit, and watch ✔ appear.

  Partner Center emulator  ${pc['referrals']}/referrals   control: ${pcc}
  ${`${crm.label} emulator`.padEnd(24)} ${crm.apiUrl(crmInfo)}   control: ${crmc}
  (the same story on the other CRM: npm start -- --crm ${other})
  cosell service           ${service.url}   webhook: ${service.tenants[0]?.webhookUrl}   health: ${service.url}/healthz
                           admin API: ${service.url}/api/overview (OpenAPI: ${service.url}/api/openapi.json)   metrics: ${service.url}/metrics
  store and log            ${input.workDir} (log: ${input.logFile}; removed when the demo stops)

What happened (cosell ready ${seconds(input.readyMs).trim()}):
${line(
  story.referral,
  `✔ A Microsoft seller sent referral "${ids.referral.name}" (${ids.referral.id})\n      -> ${crm.label} opportunity ${story.referral.crmId} "${story.referral.name}"${seconds(story.referral.ms)}`,
  `Microsoft referral ${ids.referral.id} is not in ${crm.label} yet`,
)}
${line(
  story.shared,
  `✔ A seller ticked Sync on opportunity ${ids.shared.opportunityId} "${ids.shared.name}"\n      -> Partner Center referral ${story.shared.referralId}, name now "${story.shared.name}"${seconds(story.shared.ms)}`,
  `opportunity ${ids.shared.opportunityId} has no referral yet`,
)}
${line(
  story.missingCountry,
  `✖ Co-sell opportunity ${ids.missingCountry.opportunityId} "${ids.missingCountry.name}": account ${ids.missingCountry.accountName} (${ids.missingCountry.accountId}) has no country,\n      so nothing was sent to Microsoft${seconds(story.missingCountry.ms)}. Its Audit field says:\n      ${lastAuditLine(story.missingCountry.audit)}`,
  `opportunity ${ids.missingCountry.opportunityId} has not been marked ✖ yet`,
)}

Try next (in another terminal):
${crm.tryNext(crmc, { accountId: ids.missingCountry.accountId, missingId: ids.missingCountry.opportunityId, sharedId: ids.shared.opportunityId }).join('\n')}
  curl -s ${pcc}/referrals/${story.shared.referralId ?? '<referral id>'}

  # A Microsoft seller sends another referral: it arrives as an opportunity within seconds.
  curl -s -X POST ${pcc}/incoming-referrals -H 'content-type: application/json' \\
       -d '{"name":"Woodgrove expansion","customerProfile":{"name":"Woodgrove Bank","address":{"city":"London","postalCode":"EC2N 1AR","country":"GB"},"team":[{"firstName":"Sam","lastName":"Ng","email":"sam@woodgrove.example"}]},"details":{"dealValue":90000,"currency":"USD"}}'

  # What cosell did: API calls per endpoint, the webhook deliveries, every referral.
  curl -s ${crmc}/calls ; curl -s ${pcc}/calls ; curl -s ${pcc}/webhooks/deliveries ; curl -s ${pcc}/referrals

Emulator interfaces: emulators/partner-center/README.md, ${crm.readme}
Ctrl-C stops cosell and the emulators.
`;
}
