// `cosell purge` (R33): removes customer contact data (names, e-mail addresses, phone numbers) that snapshots,
// run history and the webhook inbox keep, up to a date. Links, values and the runs themselves stay, so nothing
// about the sync is lost; the next sync of a link reads its contacts fresh from both sides.
import type { Command } from 'commander';
import { CONFIG_OPTION_HELP } from '../config-file.ts';
import { CliError } from '../errors.ts';
import { parseSince, withStore } from './runs.ts';

interface PurgeFlags {
  config?: string;
  olderThan?: string;
  json?: boolean;
}

export function registerPurgeCommand(program: Command): void {
  program
    .command('purge')
    .description(
      'Remove customer contact data kept in snapshots, run history and the webhook inbox (set engine.retention.personalDataMs to do it on a schedule).',
    )
    .option('--config <file>', CONFIG_OPTION_HELP)
    .option('--older-than <age>', 'only data last written before this age (30d) or date (2026-11-01)')
    .option('--json', 'print the counts as JSON')
    .action(async (flags: PurgeFlags) => {
      if (!flags.olderThan) {
        throw new CliError(
          'Say how old the contact data to purge must be: --older-than.',
          'For example `cosell purge --older-than 30d`, or --older-than 0m for everything up to now.',
          2,
        );
      }
      const before = parseSince(flags.olderThan);
      const purged = await withStore(flags.config, (store) => store.purgePersonalData(before));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ before: before.toISOString(), ...purged })}\n`);
        return;
      }
      process.stdout.write(
        `Purged contact data written before ${before.toISOString()}: ${purged.snapshots} snapshot(s), ${purged.runs} run(s), ${purged.inboxEvents} processed webhook event(s).\n`,
      );
    });
}
