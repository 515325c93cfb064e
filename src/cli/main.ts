// `cosell <command>`: the composition root. Each command lives in its own module under ./commands.
import { Command } from 'commander';
import { registerBackfillCommand } from './commands/backfill.ts';
import { registerDemoCommand } from './commands/demo.ts';
import { registerDoctorCommand } from './commands/doctor.ts';
import { registerEmulateCommand } from './commands/emulate.ts';
import { registerInitCommand } from './commands/init.ts';
import { registerLoginCommand } from './commands/login.ts';
import { registerProvisionCommand } from './commands/provision.ts';
import { registerPurgeCommand } from './commands/purge.ts';
import { registerReconcileCommand } from './commands/reconcile.ts';
import { registerRunsCommands } from './commands/runs.ts';
import { registerSolutionsCommand } from './commands/solutions.ts';
import { registerStartCommand } from './commands/start.ts';
import { registerWebhooksCommand } from './commands/webhooks.ts';
import { asCliError } from './errors.ts';
import { VERSION } from './version.ts';

const program = new Command()
  .name('cosell')
  .description(
    'Keeps Microsoft Partner Center co-sell referrals and your CRM (Dynamics 365, Salesforce) in sync.',
  )
  .version(VERSION, '-V, --version', 'print the cosell version')
  .showHelpAfterError();

registerInitCommand(program);
registerStartCommand(program);
registerEmulateCommand(program);
registerDemoCommand(program);
registerLoginCommand(program);
registerWebhooksCommand(program);
registerDoctorCommand(program);
registerProvisionCommand(program);
registerRunsCommands(program);
registerBackfillCommand(program);
registerReconcileCommand(program);
registerSolutionsCommand(program);
registerPurgeCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const cliError = asCliError(error);
  if (!cliError) throw error;
  process.stderr.write(`cosell: ${cliError.message}\n`);
  if (cliError.fix) process.stderr.write(`  fix: ${cliError.fix}\n`);
  process.exitCode = cliError.exitCode;
}
