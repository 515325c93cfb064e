// `cosell emulate <system>`: starts one emulator as a real HTTP server and prints its start-up JSON line,
// the interface users and tests script against (see each emulator's README).
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { CliError } from '../errors.ts';
import { stopOnSignals } from '../signals.ts';

export const EMULATED_SYSTEMS = ['partner-center', 'salesforce', 'dynamics'] as const;
export type EmulatedSystem = (typeof EMULATED_SYSTEMS)[number];

export interface EmulateOptions {
  port: number;
  host: string;
  data?: string;
  seed?: string;
  bare?: boolean;
  multiCurrency?: boolean;
  currency?: string;
  dailyApiLimit?: number;
  prefix?: string;
}

export interface RunningEmulator {
  info: { emulator: string } & Record<string, unknown>;
  close(): Promise<void>;
}

export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidArgumentError('must be a whole number from 0 to 65535 (0 picks a free port).');
  }
  return port;
}

function parsePositiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive whole number.');
  return n;
}

function parseCurrency(value: string): string {
  if (!/^[A-Z]{3}$/.test(value))
    throw new InvalidArgumentError('must be a three-letter ISO 4217 code such as EUR.');
  return value;
}

/** Starts an emulator; shared by `cosell emulate` and the demo so both print the same line. */
export async function startEmulator(
  system: EmulatedSystem,
  options: EmulateOptions,
): Promise<RunningEmulator> {
  switch (system) {
    case 'partner-center': {
      const { startPartnerCenterEmulator } = await import('../../../emulators/partner-center/index.ts');
      return startPartnerCenterEmulator({
        port: options.port,
        host: options.host,
        ...(options.data ? { dataFile: options.data } : {}),
        ...(options.seed ? { seedFile: options.seed } : {}),
      });
    }
    case 'salesforce': {
      const { startSalesforceEmulator } = await import('../../../emulators/salesforce/index.ts');
      return startSalesforceEmulator({
        port: options.port,
        host: options.host,
        ...(options.data ? { dataFile: options.data } : {}),
        ...(options.bare ? { bare: true } : {}),
        ...(options.multiCurrency ? { multiCurrency: true } : {}),
        ...(options.currency ? { currency: options.currency } : {}),
        ...(options.dailyApiLimit ? { dailyApiLimit: options.dailyApiLimit } : {}),
      });
    }
    case 'dynamics': {
      if (options.data) {
        throw new CliError(
          'The Dataverse emulator keeps its state in memory only.',
          'Drop --data; seed rows at start through POST {control}/seed instead.',
        );
      }
      const { startDynamicsEmulator } = await import('../../../emulators/dynamics/index.ts');
      return startDynamicsEmulator({
        port: options.port,
        host: options.host,
        ...(options.bare ? { bare: true } : {}),
        ...(options.currency ? { currency: options.currency, multiCurrency: false } : {}),
        ...(options.prefix ? { prefix: options.prefix } : {}),
      });
    }
  }
}

function parsePrefix(value: string): string {
  if (!/^[a-z][a-z0-9]{1,7}$/.test(value))
    throw new InvalidArgumentError(
      'must be a publisher prefix: 2-8 lower-case letters or digits, e.g. contoso.',
    );
  return value;
}

export function registerEmulateCommand(program: Command): void {
  program
    .command('emulate')
    .description(
      'Run an emulator of Partner Center or a CRM as a real HTTP server, for trying cosell and testing before going live.',
    )
    .argument('<system>', `one of: ${EMULATED_SYSTEMS.join(', ')}`)
    .option('--port <port>', 'port to listen on (0 picks a free port)', parsePort, 0)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--data <file>', 'keep state in this JSON file across restarts (partner-center, salesforce)')
    .option('--seed <file>', 'load records from this JSON file at start (partner-center)')
    .option(
      '--bare',
      'standard objects/tables only, without the cosell package or solution (salesforce, dynamics)',
    )
    .option(
      '--prefix <prefix>',
      'publisher prefix the solution is loaded under, default cosell (dynamics)',
      parsePrefix,
    )
    .option('--multi-currency', 'start the org with multi-currency enabled (salesforce)')
    .option(
      '--currency <code>',
      'corporate currency of a single-currency org, default USD (salesforce; dynamics: the only currency)',
      parseCurrency,
    )
    .option('--daily-api-limit <n>', 'daily API request allocation (salesforce)', parsePositiveInteger)
    .action(async (system: string, options: EmulateOptions) => {
      if (!(EMULATED_SYSTEMS as readonly string[]).includes(system)) {
        throw new CliError(
          `Unknown system '${system}'.`,
          `Use one of: ${EMULATED_SYSTEMS.join(', ')} (e.g. cosell emulate partner-center --port 0).`,
        );
      }
      const emulator = await startEmulator(system as EmulatedSystem, options);
      // One JSON line on stdout is the contract; human notes go to stderr.
      process.stdout.write(`${JSON.stringify(emulator.info)}\n`);
      process.stderr.write(`${system} emulator running. Ctrl-C to stop.\n`);
      stopOnSignals(() => emulator.close());
    });
}
