// `cosell init`: writes the commented starter config (R23). It never overwrites a file without --force:
// a config holds an admin's work.
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CONFIG_FILE_NAMES } from '../../config/schema.ts';
import { type StarterCrm, starterConfig } from '../../config/starter.ts';
import { CliError } from '../errors.ts';

interface InitOptions {
  out: string;
  force?: boolean;
  crm: string;
}

export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description('Write a commented starter config file to fill in (secrets stay in environment variables).')
    .option('--out <file>', 'where to write it', CONFIG_FILE_NAMES[0])
    .option('--force', 'overwrite an existing file')
    .option('--crm <kind>', 'the CRM to configure: salesforce or dynamics', 'salesforce')
    .action(async (options: InitOptions) => {
      if (options.crm !== 'salesforce' && options.crm !== 'dynamics') {
        throw new CliError(`Unknown CRM '${options.crm}'.`, 'Use --crm salesforce or --crm dynamics.');
      }
      const crm = options.crm as StarterCrm;
      const file = resolve(options.out);
      try {
        await writeFile(file, starterConfig(crm), { flag: options.force ? 'w' : 'wx' });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new CliError(
            `${file} already exists; it was left unchanged.`,
            'Pass --force to overwrite it, or --out <other file>.',
          );
        }
        throw error;
      }
      process.stdout.write(
        `Wrote ${file}.\nNext: replace the <placeholders>, add the Microsoft root to partnerCenter.webhook.trustAnchors, set COSELL_TOKEN_KEY and the ${crm === 'dynamics' ? 'Dynamics 365 secret (COSELL_D365_CLIENT_SECRET)' : 'Salesforce key'}, then\n  npx cosell login --config ${options.out}\n  npx cosell start --config ${options.out}\n`,
      );
    });
}
