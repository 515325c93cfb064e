// `--config <file>` for every command that runs against a deployment: the file named, else COSELL_CONFIG,
// else cosell.config.yaml / .yml / .json in the working directory.
import { findConfigFile, type LoadOptions, loadConfig } from '../config/load.ts';
import { CONFIG_FILE_NAMES, type Config } from '../config/schema.ts';
import { CliError } from './errors.ts';

export const CONFIG_OPTION_HELP = `config file (yaml or json) [env COSELL_CONFIG; default ${CONFIG_FILE_NAMES[0]}]`;

/** Commands that also take Partner Center flags use the config file when one is named, or when no
 *  Partner Center flag is given and a config file is found. */
export function usesConfigFile(
  flags: { config?: string; tenant?: string; clientId?: string; tokenCache?: string; emulator?: string },
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (flags.config !== undefined) return true;
  if (flags.tenant || flags.clientId || flags.tokenCache || flags.emulator) return false;
  return findConfigFile(undefined, env) !== undefined;
}

export async function loadConfigFromFlags(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  options: LoadOptions = {},
): Promise<Config> {
  const file = findConfigFile(explicit, env);
  if (!file) {
    throw new CliError(
      `No config file: none given with --config or COSELL_CONFIG, and no ${CONFIG_FILE_NAMES.join(' / ')} here.`,
      'Run `cosell init` to write a commented starter config, or `npm start` to try cosell on the built-in emulators.',
    );
  }
  return loadConfig(file, env, options);
}
