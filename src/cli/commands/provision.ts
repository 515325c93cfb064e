// `cosell provision --crm salesforce`: writes the shipped package to a directory and prints the one-line deploy
// command. Deploying is the Salesforce CLI's job; we do not re-implement the Metadata API (R18).
import { cp, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { assignPermissionSetCommand, deployCommand } from '../../crm/salesforce/fields.ts';
import { PACKAGE_ROOT } from '../../crm/salesforce/package-schema.ts';
import { CliError } from '../errors.ts';

const CRMS = ['salesforce'] as const;

export interface ProvisionOptions {
  crm: string;
  out?: string;
  targetOrg?: string;
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/** The command's action, exported so it can run in-process. Returns the printed text. */
export async function runProvision(
  options: ProvisionOptions,
  out: (text: string) => void = (t) => process.stdout.write(t),
): Promise<string> {
  if (!(CRMS as readonly string[]).includes(options.crm)) {
    throw new CliError(
      `provision does not support '${options.crm}' yet.`,
      options.crm === 'dynamics'
        ? 'The Dataverse solution lands with the Dynamics 365 adapter.'
        : `Use --crm ${CRMS.join(' | ')}.`,
    );
  }
  const alias = options.targetOrg ?? '<alias>';
  let sourceDir = path.relative(process.cwd(), path.join(PACKAGE_ROOT, 'force-app')) || '.';
  if (options.out) {
    const target = path.resolve(options.out);
    if (await exists(path.join(target, 'force-app'))) {
      throw new CliError(
        `${target} already holds a force-app folder.`,
        'Pick an empty directory with --out, or delete the old copy first.',
      );
    }
    await cp(PACKAGE_ROOT, target, { recursive: true });
    sourceDir = path.join(options.out, 'force-app');
  }
  const text = [
    ...(options.out ? [`Wrote the cosell Salesforce package to ${path.resolve(options.out)}.`] : []),
    'Deploy it with the Salesforce CLI, then give the integration user field-level security:',
    `  ${deployCommand(sourceDir, alias)}`,
    `  ${assignPermissionSetCommand(alias)}`,
    'Then run `cosell doctor` to check.',
    '',
  ].join('\n');
  out(text);
  return text;
}

export function registerProvisionCommand(program: Command): void {
  program
    .command('provision')
    .description(
      'Write the CRM schema package (custom fields, objects, permission set) and print how to deploy it.',
    )
    .requiredOption('--crm <crm>', `CRM: ${CRMS.join(' | ')}`)
    .option('--out <dir>', 'copy the package to this directory')
    .option('--target-org <alias>', 'Salesforce CLI org alias to put in the printed commands')
    .action(async (options: ProvisionOptions) => {
      await runProvision(options);
    });
}
