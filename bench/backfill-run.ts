// `npm run bench:backfill`: the first import at two sizes on both CRMs, each direction into a fresh deployment
// (every part its own process, the engine's defaults). Prints a markdown table and the targets of issue 12, and
// writes bench/results/backfill.json. Apart from `npm run bench`: it takes about 25 minutes with the default
// sizes, most of it Dataverse's service protection windows (6,000 operations per 5 minutes, waited out as
// `cosell backfill` does). Larger runs: `--records 10000`, `100000` (Salesforce: about 95 records a second).
//   --crm salesforce|dynamics          one CRM only (default both)
//   --records 1000,3000                sizes (the largest is compared with the smallest)
//   --direction pc-to-crm|crm-to-pc    one direction only (default both)
//   --out DIR                          where to write backfill.json (default bench/results)
//   --profile DIR                      also write a CPU profile of each `cosell backfill` there (.cpuprofile)
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { CrmKind } from '../src/crm/port.ts';
import { type BackfillDirection, type BackfillRow, measureBackfill } from './backfill.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};

const crmArg = arg('crm');
if (crmArg && crmArg !== 'salesforce' && crmArg !== 'dynamics')
  throw new Error(`--crm takes salesforce or dynamics, not '${crmArg}'.`);
const CRMS: CrmKind[] = crmArg ? [crmArg as CrmKind] : ['salesforce', 'dynamics'];
const directionArg = arg('direction');
if (directionArg && directionArg !== 'pc-to-crm' && directionArg !== 'crm-to-pc')
  throw new Error(`--direction takes pc-to-crm or crm-to-pc, not '${directionArg}'.`);
const DIRECTIONS: BackfillDirection[] = directionArg
  ? [directionArg as BackfillDirection]
  : ['pc-to-crm', 'crm-to-pc'];
const SIZES = (arg('records') ?? '1000,3000').split(',').map((raw) => {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`--records takes whole numbers ≥ 1, comma-separated, not '${raw}'.`);
  return value;
});
const OUT = arg('out') ?? join(import.meta.dirname, 'results');
const PROFILE = arg('profile');

const log = (line: string) =>
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} bench: ${line}\n`);

const rows: BackfillRow[] = [];
for (const crm of CRMS) {
  for (const direction of DIRECTIONS) {
    for (const records of SIZES) {
      const row = await measureBackfill(crm, direction, records, log, PROFILE);
      rows.push(row);
      log(
        `${crm} ${direction} ${records}: ${row.wallSeconds} s, ${row.perSecond}/s, ${row.peakRssMb} MB, ${row.synced} synced, ${row.failed} failed`,
      );
    }
  }
}

interface Check {
  crm: CrmKind;
  direction: BackfillDirection;
  what: string;
  target: string;
  measured: string;
  holds: boolean;
}

const checks: Check[] = [];
for (const crm of CRMS) {
  for (const direction of DIRECTIONS) {
    const runs = rows.filter((r) => r.crm === crm && r.direction === direction);
    const small = runs.reduce((a, b) => (b.records < a.records ? b : a));
    const large = runs.reduce((a, b) => (b.records > a.records ? b : a));
    const all = (what: string, target: string, measured: string, holds: boolean) =>
      checks.push({ crm, direction, what, target, measured, holds });
    all(
      'every record imported once',
      'synced = records, 0 failed',
      runs.map((r) => `${r.synced}/${r.records}, ${r.failed} failed`).join('; '),
      runs.every((r) => r.synced === r.records && r.failed === 0),
    );
    if (large.records > small.records) {
      const factor = large.records / small.records;
      const timeRatio = large.wallSeconds / small.wallSeconds;
      all(
        `time linear in N (${large.records} vs ${small.records})`,
        `≤ ${(factor * 1.2).toFixed(0)}× (N ×${factor}, 20% slack)`,
        `${timeRatio.toFixed(1)}×`,
        timeRatio <= factor * 1.2,
      );
      const rssRatio = large.peakRssMb / small.peakRssMb;
      all(
        `peak RSS (${large.records} vs ${small.records})`,
        '≤ 1.5×',
        `${large.peakRssMb} vs ${small.peakRssMb} MB (${rssRatio.toFixed(2)}×)`,
        rssRatio <= 1.5,
      );
    }
    if (direction === 'pc-to-crm')
      all(
        'CRM writes batched',
        '≥ 25 records per CRM request that writes',
        `${large.recordsPerCrmWrite} records per write request`,
        large.recordsPerCrmWrite >= 25,
      );
  }
}

const crmName = (crm: string) => (crm === 'salesforce' ? 'Salesforce' : 'Dynamics 365');
const table = (header: string[], body: (string | number)[][]) =>
  [header, header.map(() => '---'), ...body].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
const per = (total: number, records: number) => (total / records).toFixed(2);

process.stdout.write(
  `### Backfill (loopback, ${cpus().length} cores, Node ${process.versions.node}; separate processes, engine defaults)\n\n${table(
    [
      'CRM',
      'direction',
      'records',
      'wall',
      'records/s',
      'peak RSS',
      'Partner Center requests (per record)',
      'CRM requests (per record)',
      'records per CRM write request',
    ],
    rows.map((r) => [
      crmName(r.crm),
      r.direction,
      r.records,
      `${r.wallSeconds} s`,
      r.perSecond,
      `${r.peakRssMb} MB`,
      `${r.partnerCenter.requests} (${per(r.partnerCenter.requests, r.records)})`,
      `${r.crmCost.requests} (${per(r.crmCost.requests, r.records)})`,
      r.recordsPerCrmWrite,
    ]),
  )}\n\n### Backfill targets\n\n${table(
    ['CRM', 'direction', 'what', 'target', 'measured', 'holds'],
    checks.map((c) => [
      crmName(c.crm),
      c.direction,
      c.what,
      c.target,
      c.measured,
      c.holds ? 'yes' : '**no**',
    ]),
  )}\n`,
);
mkdirSync(OUT, { recursive: true });
const machine = { node: process.versions.node, cpus: cpus().length, platform: process.platform };
writeFileSync(
  join(OUT, 'backfill.json'),
  `${JSON.stringify({ startedAt: new Date().toISOString(), machine, rows, targets: checks }, null, 2)}\n`,
);
log(`wrote ${join(OUT, 'backfill.json')}`);
