// `npm run reliability`: the crash, fault and hostile-input harness (issue 11). Prints a table, writes the
// figures as JSON, and ends with one summary line. Exit 1 when anything was lost, duplicated or crashed.
//   --crm salesforce|dynamics|both   --kills N (per CRM)   --backfill N (per CRM)   --seed S   --json file
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { type CrashFigures, crashRun } from './crash.ts';
import { type CrmKind, startDeployment } from './deployment.ts';
import { type HostileFigures, hostileRun } from './hostile.ts';
import { type Figures, finalLine, healthy, renderTable } from './report.ts';
import { seededRng } from './rng.ts';
import { credentialsRevoked, type ScenarioResult } from './scenarios.ts';

const { values } = parseArgs({
  options: {
    crm: { type: 'string', default: 'both' },
    kills: { type: 'string', default: '30' },
    backfill: { type: 'string', default: '500' },
    seed: { type: 'string', default: String(Date.now() % 100_000) },
    json: { type: 'string', default: 'test-output/reliability.json' },
  },
});
const crms: CrmKind[] = values.crm === 'both' ? ['salesforce', 'dynamics'] : [values.crm as CrmKind];
if (!crms.every((c) => c === 'salesforce' || c === 'dynamics')) {
  process.stderr.write(`--crm must be salesforce, dynamics or both, not '${values.crm}'\n`);
  process.exit(2);
}
const seed = Number(values.seed);
const say = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
say(
  `reliability: seed ${seed} (replay with --seed ${seed}), ${values.kills} kills and ${values.backfill} backfill referrals per CRM`,
);

await mkdir(dirname(values.json), { recursive: true });
const crashes: CrashFigures[] = [];
const hostile: HostileFigures[] = [];
const scenarios: (ScenarioResult & { crm: CrmKind })[] = [];
for (const crm of crms) {
  const rng = seededRng(seed + crms.indexOf(crm));
  const deployment = await startDeployment(crm);
  try {
    crashes.push(
      await crashRun(deployment, {
        rng,
        backfill: Number(values.backfill),
        kills: Number(values.kills),
        say,
        logFile: join(dirname(values.json), `reliability-${crm}-cosell.log`),
      }),
    );
    say(`${crm}: the Partner Center sign-in revoked mid-run`);
    const logOf = (phase: string) => join(dirname(values.json), `reliability-${crm}-${phase}.log`);
    scenarios.push({ crm, ...(await credentialsRevoked(deployment, logOf('scenario'))) });
    hostile.push(
      await hostileRun(deployment, { rng, say, configCases: crm === crms[0], logFile: logOf('hostile') }),
    );
  } finally {
    await deployment.close();
  }
}
const figures: Figures = { seed, crashes, scenarios, hostile };
process.stdout.write(`${renderTable(figures)}\n`);
await writeFile(values.json, `${JSON.stringify(figures, null, 2)}\n`);
process.stdout.write(`figures written to ${values.json}\n${finalLine(figures)}\n`);
process.exitCode = healthy(figures) ? 0 : 1;
