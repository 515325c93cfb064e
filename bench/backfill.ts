// Backfill (issue 12 §1.4): `cosell backfill` as an admin runs it the first time, a separate process against the
// emulators (also separate processes), with the engine's defaults. Partner Center holds N referrals Microsoft
// sent before cosell ran (seeded in one control call: no events, no webhook), or the CRM holds N opportunities a
// seller shared; the figures are the wall time, the requests each API counted and the process's peak RSS.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crmSide } from '../reliability/crm-side.ts';
import { type Deployment, startDeployment } from '../reliability/deployment.ts';
import { control } from '../src/cli/demo-story.ts';
import type { CrmKind } from '../src/crm/port.ts';
import { COSELL_BIN } from '../test/helpers/cli.ts';
import { type Cost, costOf, readCounters, resetCounters } from './lib/counters.ts';

export type BackfillDirection = 'pc-to-crm' | 'crm-to-pc';

export interface BackfillRow {
  crm: CrmKind;
  direction: BackfillDirection;
  records: number;
  synced: number;
  failed: number;
  wallSeconds: number;
  perSecond: number;
  peakRssMb: number;
  partnerCenter: Cost;
  crmCost: Cost;
  /** Records imported per CRM request that wrote (a composite graph or `$batch` writes many): how well the
   *  writes are batched. */
  recordsPerCrmWrite: number;
}

const SEED_CHUNK = 10_000;
const MICROSOFT = { organizationId: 'msft', organizationName: 'Microsoft' };

/** A referral as Partner Center holds one a Microsoft seller sent (the seed fills ids, times and eTag). */
function sentByMicrosoft(i: number, closing: string): Record<string, unknown> {
  return {
    name: `Backfill referral ${i}`,
    direction: 'Incoming',
    type: 'Shared',
    qualification: 'SalesQualified',
    customerProfile: {
      name: `Backfill customer ${i}`,
      size: '251to1000employees',
      address: {
        addressLine1: '1 Microsoft Way',
        city: 'Redmond',
        state: 'WA',
        postalCode: '98052',
        country: 'US',
      },
      team: [{ firstName: 'Dana', lastName: `Customer ${i}`, email: `dana.${i}@backfill.example` }],
      ids: [],
    },
    consent: {
      consentToContact: true,
      consentToToShareInfoWithOthers: true,
      consentToShareReferralWithMicrosoftSellers: true,
      consentToMicrosoftToContactSpecificPartners: true,
    },
    details: {
      notes: 'Seeded for the backfill bench.',
      dealValue: 10_000 + i,
      currency: 'USD',
      closingDateTime: closing,
      requirements: { solutions: [] },
    },
    team: [],
    inviteContext: { assistanceRequestCode: 'GeneralOrOther', invitedBy: MICROSOFT },
  };
}

async function seedReferrals(d: Deployment, n: number): Promise<void> {
  const closing = new Date(Date.now() + 90 * 86_400_000).toISOString();
  for (let from = 0; from < n; from += SEED_CHUNK) {
    const referrals = Array.from({ length: Math.min(SEED_CHUNK, n - from) }, (_, k) =>
      sentByMicrosoft(from + k, closing),
    );
    await control(d.pc.control, 'POST', '/seed', { referrals });
  }
}

async function seedOpportunities(d: Deployment, n: number): Promise<void> {
  const crm = crmSide(d.crm, d.crmInfo['control']!);
  const solutionId = await crm.addCatalogueSolution();
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      await crm.share({ name: `Backfill deal ${i}`, accountName: `Backfill account ${i}`, solutionId });
    }
  };
  await Promise.all(Array.from({ length: 16 }, lane));
}

interface Summary {
  synced: number;
  failed: number;
  left: number;
}

/** `cosell backfill --json` under GNU time, for its peak RSS (`%M`, KiB). */
async function runBackfill(
  d: Deployment,
  direction: BackfillDirection,
  profileDir: string | undefined,
): Promise<{ summary: Summary; seconds: number; peakRssKb: number }> {
  const timeFile = join(d.dir, `time-${direction}.txt`);
  const child = spawn(
    '/usr/bin/time',
    [
      '-f',
      '%M',
      '-o',
      timeFile,
      process.execPath,
      ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
      COSELL_BIN,
      'backfill',
      '--direction',
      direction,
      '--json',
      '--config',
      d.configFile,
    ],
    { cwd: d.dir, env: { ...process.env, ...d.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    // Logs only: kept short, for the error below.
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const started = performance.now();
  const [code] = (await once(child, 'exit')) as [number | null];
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`cosell backfill --direction ${direction} exited ${code}: ${stderr}`);
  const summary = JSON.parse(stdout) as Summary;
  const peakRssKb = Number((await readFile(timeFile, 'utf8')).trim().split('\n').at(-1));
  return { summary, seconds, peakRssKb };
}

/** Backfills `records` in one direction into a fresh deployment of `crm`. */
export async function measureBackfill(
  crm: CrmKind,
  direction: BackfillDirection,
  records: number,
  say: (line: string) => void,
  /** Where `cosell backfill` writes a V8 CPU profile (open it in Chrome DevTools), if anywhere. */
  profileDir?: string,
): Promise<BackfillRow> {
  const d = await startDeployment(crm, { engine: {} });
  try {
    say(`${crm}: seeding ${records} ${direction === 'pc-to-crm' ? 'referrals' : 'shared opportunities'}`);
    if (direction === 'pc-to-crm') await seedReferrals(d, records);
    else await seedOpportunities(d, records);
    const crmControl = d.crmInfo['control']!;
    await Promise.all([resetCounters(d.pc.control), resetCounters(crmControl)]);
    say(`${crm}: cosell backfill --direction ${direction}`);
    const run = await runBackfill(d, direction, profileDir);
    const [pc, crmCounters] = await Promise.all([readCounters(d.pc.control), readCounters(crmControl)]);
    const crmCost = costOf(crmCounters);
    // Requests that wrote: writes sent on their own, and composite, graph or $batch requests carrying a write.
    const writeRequests = Object.values(crmCounters.endpoints).reduce(
      (sum, e) => sum + (e.kind === 'write' ? e.direct : e.kind === 'batch' ? (e.writing ?? 0) : 0),
      0,
    );
    return {
      crm,
      direction,
      records,
      synced: run.summary.synced,
      failed: run.summary.failed,
      wallSeconds: round(run.seconds, 1),
      perSecond: round(records / run.seconds, 0),
      peakRssMb: round(run.peakRssKb / 1024, 0),
      partnerCenter: costOf(pc),
      crmCost,
      recordsPerCrmWrite: writeRequests > 0 ? round(run.summary.synced / writeRequests, 1) : 0,
    };
  } finally {
    await d.close();
  }
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;
