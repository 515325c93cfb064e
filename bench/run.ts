// `npm run bench`: latency, API calls per change and idle cost on both CRMs, against the emulators on loopback.
// Prints markdown tables and the targets of issue 12, writes bench/results/latest.json and latest.svg.
//   --crm salesforce|dynamics   one CRM only (default both)
//   --edits N                   latency samples per direction (default 1000)
//   --repeats N                 repetitions of each change kind for the call counts (default 5)
//   --only latency,calls,idle   a subset
//   --out DIR                   where to write latest.json / latest.svg (default bench/results)
//   --scale                     instead: throughput with 1, 2 and 4 workers on PostgreSQL (bench/scale.ts)
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { CrmKind } from '../src/crm/port.ts';
import { measureCalls } from './calls.ts';
import { measureAfterQuiet, measureIdleDay } from './idle.ts';
import { measureToCrm, measureToReferral } from './latency.ts';
import { distribution } from './lib/stats.ts';
import { type BenchResults, markdown, svg, targets } from './report.ts';

if (process.argv.includes('--scale')) {
  const { runScaleBench } = await import('./scale.ts');
  await runScaleBench();
  process.exit(0);
}

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const number = (name: string, fallback: number) => {
  const raw = arg(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`--${name} takes a whole number ≥ 1, not '${raw}'.`);
  return value;
};

const crmArg = arg('crm');
if (crmArg && crmArg !== 'salesforce' && crmArg !== 'dynamics')
  throw new Error(`--crm takes salesforce or dynamics, not '${crmArg}'.`);
const CRMS: CrmKind[] =
  crmArg === 'salesforce' || crmArg === 'dynamics' ? [crmArg] : ['salesforce', 'dynamics'];
const EDITS = number('edits', 1_000);
const REPEATS = number('repeats', 5);
const ONLY = new Set((arg('only') ?? 'latency,calls,idle').split(','));
const OUT = arg('out') ?? join(import.meta.dirname, 'results');
const FAILED_LINKS = 10;

/** CRM→PC latency is bounded by the poll: the defaults, and a fast fixed poll. */
const POLL_SETTINGS = {
  defaults: { settings: {}, pollMs: 2_000 },
  'poll 500 ms': { settings: { crmPoll: { minIntervalMs: 500, maxIntervalMs: 500 } }, pollMs: 500 },
} as const;
/** The first edit after a quiet spell waits for the backed-off poll: its ceiling (60 s by default). */
const AFTER_QUIET = { setting: 'defaults, first edit after 10 quiet min (engine time)', pollMs: 60_000 };
const AFTER_QUIET_SAMPLES = 40;

const log = (line: string) =>
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} bench: ${line}\n`);

const results: BenchResults = {
  startedAt: new Date().toISOString(),
  machine: { node: process.versions.node, cpus: cpus().length, platform: process.platform },
  latency: [],
  calls: [],
  firstUse: [],
  idle: [],
};

for (const crm of CRMS) {
  if (ONLY.has('calls')) {
    log(`${crm}: API calls per change (${REPEATS} of each)`);
    const measured = await measureCalls(crm, REPEATS);
    results.calls.push(...measured.rows);
    results.firstUse.push({ crm, ...measured.firstUse });
  }
  if (ONLY.has('latency')) {
    log(`${crm}: PC→CRM latency, ${EDITS} Microsoft-side edits one after another`);
    results.latency.push(
      await measureToCrm(crm, { edits: EDITS, lanes: 1, settings: {}, setting: 'defaults' }),
    );
    for (const [setting, { settings }] of Object.entries(POLL_SETTINGS)) {
      log(`${crm}: CRM→PC latency, ${EDITS} seller edits in 10 lanes (${setting})`);
      results.latency.push(await measureToReferral(crm, { edits: EDITS, lanes: 10, settings, setting }));
    }
    log(`${crm}: CRM→PC after 10 quiet minutes, ${AFTER_QUIET_SAMPLES} edits in skipped time`);
    const quiet = await measureAfterQuiet(crm, AFTER_QUIET_SAMPLES);
    results.latency.push({
      crm,
      direction: 'toReferral',
      setting: AFTER_QUIET.setting,
      lanes: 1,
      ms: distribution(quiet.samples),
      samples: quiet.samples,
    });
  }
  if (ONLY.has('idle')) {
    log(`${crm}: one idle day in skipped time, then with ${FAILED_LINKS} failed links`);
    results.idle.push(await measureIdleDay(crm, 0));
    results.idle.push(await measureIdleDay(crm, FAILED_LINKS));
  }
}

const pollMs = {
  ...Object.fromEntries(Object.entries(POLL_SETTINGS).map(([k, v]) => [k, v.pollMs])),
  [AFTER_QUIET.setting]: AFTER_QUIET.pollMs,
};
const checks = targets(results, pollMs);
process.stdout.write(`${markdown(results, checks)}\n`);
mkdirSync(OUT, { recursive: true });
writeFileSync(join(OUT, 'latest.json'), `${JSON.stringify({ ...results, targets: checks }, null, 2)}\n`);
writeFileSync(join(OUT, 'latest.svg'), svg(results));
log(`wrote ${join(OUT, 'latest.json')} and latest.svg`);
