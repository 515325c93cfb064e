// `cosell reconcile` (R26, R24): the sweep the service runs on a schedule, on demand. It lists what changed in
// Partner Center since the sweep's watermark (or `--since`), re-checks failed links and reads the CRM's change
// feed, then syncs what it queued here and says what happened to each. `--dry-run` says what each sync would
// write, writes nothing to Partner Center or the CRM, and leaves the sweep's and the change feed's positions
// where they were, so the next real sweep still sees everything.
import type { Command } from 'commander';
import type { Config } from '../../config/schema.ts';
import { CURSORS } from '../../engine/intake.ts';
import type { Run } from '../../store/store.ts';
import { CONFIG_OPTION_HELP, loadConfigFromFlags } from '../config-file.ts';
import { CliError } from '../errors.ts';
import { describeRun, parseSince } from './runs.ts';

interface ReconcileFlags {
  config?: string;
  since?: string;
  dryRun?: boolean;
  json?: boolean;
}

export interface ReconcileSummary {
  dryRun: boolean;
  since: string | null;
  queued: number;
  changed: number;
  unchanged: number;
  failed: number;
  runs: Run[];
}

export async function runReconcile(
  config: Config,
  flags: ReconcileFlags,
  io: { out: (text: string) => void; env: NodeJS.ProcessEnv },
): Promise<ReconcileSummary> {
  const since = flags.since ? parseSince(flags.since) : null;
  const dryRun = flags.dryRun ?? false;
  const { createLogger } = await import('../../server/logger.ts');
  const { openEngineParts } = await import('./engine-parts.ts');
  const parts = await openEngineParts(config, io.env, createLogger({ level: 'warn' }), {
    lock: true,
    dryRun,
  });
  const say = (line: string) => {
    if (!flags.json) io.out(`${line}\n`);
  };
  try {
    if (!parts.ownsStore && dryRun) {
      throw new CliError(
        `A running cosell service (${parts.lockHolder}) owns the store: a dry run here would take its jobs.`,
        'Stop the service for the dry run, or run the service itself with `cosell start --dry-run`.',
        1,
      );
    }
    const positions = [CURSORS.reconcile, CURSORS.crmChangeFeed];
    const saved = new Map<string, string | null>();
    for (const name of positions) saved.set(name, await parts.store.getCursor(name));
    if (since) await parts.store.setCursor(CURSORS.reconcile, since.toISOString());
    const summary: ReconcileSummary = {
      dryRun,
      since: since?.toISOString() ?? saved.get(CURSORS.reconcile) ?? null,
      queued: 0,
      changed: 0,
      unchanged: 0,
      failed: 0,
      runs: [],
    };
    const onRun = (run: Run) => {
      summary.runs.push(run);
      if (run.outcome === 'failed' || run.outcome === 'dead') summary.failed++;
      else if (run.outcome === 'changed') summary.changed++;
      else summary.unchanged++;
    };
    parts.engine.events.on('run', onRun);
    try {
      summary.queued = (await parts.engine.reconcileOnce()) + (await parts.engine.pollCrmOnce());
      say(
        `${dryRun ? 'Dry run: ' : ''}${summary.queued} record${summary.queued === 1 ? '' : 's'} to check (Partner Center changes since ${summary.since ?? 'the last day'}, failed links, CRM changes).`,
      );
      if (!parts.ownsStore) {
        say(`The running cosell service (${parts.lockHolder}) syncs them; follow it with \`cosell runs\`.`);
        return summary;
      }
      await parts.engine.drain({ timeoutMs: 1_000 });
    } finally {
      parts.engine.events.off('run', onRun);
      // A dry run leaves every position where it was: the next real sweep must still see these changes.
      if (dryRun || since) {
        for (const [name, value] of saved) {
          if (name === CURSORS.reconcile && since && !dryRun) continue;
          await parts.store.setCursor(name, value ?? '');
        }
      }
    }
    for (const run of summary.runs.filter((r) => r.outcome !== 'unchanged' && r.outcome !== 'skipped')) {
      say(describeRun(run));
    }
    say(
      `${dryRun ? 'Dry run done (nothing written)' : 'Reconcile done'}: ${summary.changed} ${dryRun ? 'would change' : 'changed'}, ${summary.unchanged} already in sync, ${summary.failed} failed.`,
    );
    return summary;
  } finally {
    await parts.close();
  }
}

export function registerReconcileCommand(program: Command): void {
  program
    .command('reconcile')
    .description(
      'Run the reconcile sweep now: what changed in Partner Center and the CRM since the last sweep, and failed records, synced here.',
    )
    .option('--config <file>', CONFIG_OPTION_HELP)
    .option('--since <when>', 'sweep Partner Center changes since a date (2026-12-01) or an age (7d)')
    .option('--dry-run', 'say what each sync would write; write nothing')
    .option('--json', 'print the summary and the runs as JSON')
    .action(async (flags: ReconcileFlags) => {
      if (flags.since) parseSince(flags.since);
      const config = await loadConfigFromFlags(flags.config);
      const summary = await runReconcile(config, flags, {
        out: (t) => process.stdout.write(t),
        env: process.env,
      });
      if (flags.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      if (summary.failed > 0) process.exitCode = 1;
    });
}
