// `cosell runs` and `cosell resubmit` (R25): the run history an admin reads to answer "why didn't this referral
// sync?", and the way to try failed records again once the cause is fixed. Both work on the store beside a
// running service: the service claims resubmitted jobs at its next worker pass.
import type { Command } from 'commander';
import { openStore } from '../../store/open.ts';
import type { Run, RunQuery, Store } from '../../store/store.ts';
import { CONFIG_OPTION_HELP, loadConfigFromFlags } from '../config-file.ts';
import { CliError } from '../errors.ts';

interface RunsFlags {
  config?: string;
  failed?: boolean;
  since?: string;
  referral?: string;
  crm?: string;
  limit: string;
  json?: boolean;
}

interface ResubmitFlags {
  config?: string;
  allFailed?: boolean;
  since?: string;
  json?: boolean;
}

const UNITS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: an ISO date/time, or an age such as 30m, 12h, 7d. A bad value is a usage error (exit 2). */
export function parseSince(text: string, now: Date = new Date()): Date {
  const age = /^(\d+)\s*([mhd])$/i.exec(text.trim());
  if (age) return new Date(now.getTime() - Number(age[1]) * UNITS[age[2]!.toLowerCase()]!);
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? new Date(text) : new Date(Number.NaN);
  if (Number.isNaN(at.getTime())) {
    throw new CliError(
      `--since '${text}' is neither a date nor an age.`,
      'Give a date such as 2026-12-01 (or 2026-12-01T08:00:00Z), or an age such as 30m, 12h or 7d.',
      2,
    );
  }
  return at;
}

function parseLimit(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 500) {
    throw new CliError(`--limit '${text}' is not a whole number from 1 to 500.`, 'Give e.g. --limit 100.', 2);
  }
  return n;
}

export async function withStore<T>(file: string | undefined, work: (store: Store) => Promise<T>): Promise<T> {
  // Reading the history needs neither Partner Center nor CRM secrets.
  const config = await loadConfigFromFlags(file, process.env, { crmSecrets: false });
  const store = await openStore({ url: config.store.url, tenantId: config.tenantId });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

const stamp = (d: Date) => `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;

/** One run as an admin reads it: when, what started it, what happened, on which records, and the fix. */
export function describeRun(run: Run): string {
  const ids = [run.referralId ? `referral ${run.referralId}` : null, run.crmId ? `CRM ${run.crmId}` : null]
    .filter(Boolean)
    .join(', ');
  const changes = run.diff.map((d) => d.field).join(', ');
  const head = `#${run.id} ${stamp(run.startedAt)} ${run.trigger} -> ${run.outcome}${
    run.direction !== 'none' ? ` (${run.direction})` : ''
  }${ids ? ` ${ids}` : ''}`;
  const lines = [head];
  if (changes) lines.push(`    changed: ${changes}`);
  if (run.error) {
    lines.push(`    error: ${run.error.message}`);
    if (run.error.fix) lines.push(`    fix: ${run.error.fix}`);
  }
  return lines.join('\n');
}

export function registerRunsCommands(program: Command): void {
  program
    .command('runs')
    .description(
      'The sync run history, newest first: what started each run, what changed, and for failures the error and its fix.',
    )
    .option('--config <file>', CONFIG_OPTION_HELP)
    .option('--failed', 'only failed and dead-lettered runs')
    .option('--since <when>', 'runs started since a date (2026-12-01) or an age (30m, 12h, 7d)')
    .option('--referral <id>', 'runs of one Partner Center referral')
    .option('--crm <id>', 'runs of one CRM record')
    .option('--limit <n>', 'how many runs (1-500)', '50')
    .option('--json', 'print the runs as JSON')
    .action(async (flags: RunsFlags) => {
      const query: RunQuery = { limit: parseLimit(flags.limit) };
      if (flags.failed) query.failed = true;
      if (flags.since) query.since = parseSince(flags.since);
      if (flags.referral) query.referralId = flags.referral;
      if (flags.crm) query.crmId = flags.crm;
      const { runs } = await withStore(flags.config, (store) => store.listRuns(query));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
        return;
      }
      if (runs.length === 0) {
        process.stdout.write(`No ${flags.failed ? 'failed ' : ''}runs match.\n`);
        return;
      }
      process.stdout.write(`${runs.map(describeRun).join('\n')}\n`);
      if (flags.failed)
        process.stdout.write(
          '\nOnce the cause is fixed: cosell resubmit <run id> (or --all-failed) tries those records again.\n',
        );
    });

  program
    .command('resubmit')
    .description(
      'Queue the records of failed runs again (attempts reset); the running service syncs them at its next pass.',
    )
    .argument('[run-ids...]', 'ids of runs, as `cosell runs` prints them (#12 or 12)')
    .option('--config <file>', CONFIG_OPTION_HELP)
    .option('--all-failed', 'every record whose last sync failed or was dead-lettered')
    .option('--since <when>', 'with --all-failed: only records that failed since a date or an age (7d)')
    .option('--json', 'print what was queued as JSON')
    .action(async (ids: string[], flags: ResubmitFlags) => {
      if (ids.length === 0 && !flags.allFailed) {
        throw new CliError(
          'Nothing to resubmit: give run ids or --all-failed.',
          'See the failed runs with `cosell runs --failed`.',
          2,
        );
      }
      if (ids.length > 0 && flags.allFailed) {
        throw new CliError('Give run ids or --all-failed, not both.', undefined, 2);
      }
      if (flags.since && !flags.allFailed)
        throw new CliError('--since goes with --all-failed.', undefined, 2);
      const runIds = ids.map((text) => {
        const n = Number(text.replace(/^#/, ''));
        if (!Number.isInteger(n) || n < 1)
          throw new CliError(
            `'${text}' is not a run id.`,
            'Run ids are the #numbers `cosell runs` prints.',
            2,
          );
        return n;
      });
      const since = flags.since ? parseSince(flags.since) : undefined;
      const queued = await withStore(flags.config, async (store) => {
        const linkIds = new Set<number>();
        if (flags.allFailed && !since) return store.resubmit({ allFailed: true });
        if (flags.allFailed) {
          for (let cursor: string | null = null; ; ) {
            const page = await store.listRuns({ failed: true, since, limit: 500, cursor });
            for (const run of page.runs) if (run.linkId !== null) linkIds.add(run.linkId);
            cursor = page.nextCursor;
            if (!cursor) break;
          }
        }
        for (const id of runIds) {
          const run = await findRun(store, id);
          if (run.linkId === null) {
            throw new CliError(
              `Run #${id} names no record to sync again.`,
              'Pick a run that names a referral or a CRM record.',
            );
          }
          linkIds.add(run.linkId);
        }
        return linkIds.size > 0 ? store.resubmit({ linkIds: [...linkIds] }) : [];
      });
      if (flags.json) {
        process.stdout.write(
          `${JSON.stringify({ queued: queued.map((j) => ({ jobId: j.id, linkId: j.linkId })) })}\n`,
        );
        return;
      }
      process.stdout.write(
        queued.length === 0
          ? 'No failed records to resubmit.\n'
          : `Queued ${queued.length} record${queued.length === 1 ? '' : 's'} again. The running service syncs ${
              queued.length === 1 ? 'it' : 'them'
            } within seconds; \`cosell runs --since 5m\` shows the outcome.\n`,
      );
    });
}

async function findRun(store: Store, id: number): Promise<Run> {
  // Runs are paged newest first by id: the page just below id + 1 starts with the run itself.
  const { runs } = await store.listRuns({ cursor: String(id + 1), limit: 1 });
  const run = runs[0];
  if (!run || run.id !== id) {
    throw new CliError(
      `There is no run #${id} in this store.`,
      'See the run ids with `cosell runs --failed`.',
    );
  }
  return run;
}
