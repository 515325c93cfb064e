// `cosell provision --crm salesforce|dynamics`: writes the shipped package (Salesforce metadata source, or the
// unpacked Dataverse solution) to a directory and prints the commands that deploy it. Deploying is the
// Salesforce CLI's and the Power Platform CLI's job; we re-implement neither the Metadata API nor solution
// packing (R18).
import { cp, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { SOLUTION_SOURCE_DIR } from '../../crm/dynamics/fields.ts';
import { SOLUTION_ROOT } from '../../crm/dynamics/package-schema.ts';
import { assignPermissionSetCommand, deployCommand } from '../../crm/salesforce/fields.ts';
import { PACKAGE_ROOT } from '../../crm/salesforce/package-schema.ts';
import { CliError } from '../errors.ts';

const CRMS = ['salesforce', 'dynamics'] as const;

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
    throw new CliError(`provision does not know the CRM '${options.crm}'.`, `Use --crm ${CRMS.join(' | ')}.`);
  }
  if (options.crm === 'dynamics') return provisionDynamics(options, out);
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

/** The unpacked solution and the two `pac` commands that pack and import it. */
async function provisionDynamics(options: ProvisionOptions, out: (text: string) => void): Promise<string> {
  let folder = path.relative(process.cwd(), SOLUTION_ROOT) || SOLUTION_SOURCE_DIR;
  if (options.out) {
    const target = path.resolve(options.out);
    if (await exists(path.join(target, 'Other', 'Solution.xml'))) {
      throw new CliError(
        `${target} already holds a solution (Other/Solution.xml).`,
        'Pick an empty directory with --out, or delete the old copy first.',
      );
    }
    await cp(SOLUTION_ROOT, target, { recursive: true });
    folder = options.out;
  }
  const environment = options.targetOrg ?? 'https://<your-org>.crm.dynamics.com';
  const text = [
    ...(options.out
      ? [`Wrote the cosell Dataverse solution (unpacked source) to ${path.resolve(options.out)}.`]
      : []),
    'Pack and import it with the Power Platform CLI (dotnet tool install --global Microsoft.PowerApps.CLI.Tool):',
    `  pac auth create --environment ${environment}`,
    `  pac solution pack --folder ${folder} --zipfile cosell-solution.zip --packagetype Unmanaged`,
    '  pac solution import --path cosell-solution.zip --publish-changes',
    'It adds the columns, choices, tables, alternate key and environment variables cosell uses, and turns on',
    'change tracking. Then add the app registration as an application user with the System Customizer role',
    '(Power Platform admin center > Environments > Settings > Application users) and run `cosell doctor --config <file>`.',
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
    .option(
      '--target-org <alias>',
      'Salesforce CLI org alias, or the Dynamics 365 environment URL, to put in the printed commands',
    )
    .action(async (options: ProvisionOptions) => {
      await runProvision(options);
    });
}
