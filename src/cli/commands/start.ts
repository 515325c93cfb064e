// `cosell start`: runs the service from one config file per partner tenant until SIGINT/SIGTERM. Stdout carries
// one JSON line once it runs (role, URLs, tenants: for scripts and supervisors); logs go to stderr as pino JSON.
import { type Command, Option } from 'commander';
import type { Config } from '../../config/schema.ts';
import { createLogger } from '../../server/logger.ts';
import { CONFIG_OPTION_HELP, loadConfigFromFlags } from '../config-file.ts';
import { CliError } from '../errors.ts';
import { stopOnSignals } from '../signals.ts';

interface StartOptions {
  config?: string[];
  dryRun?: boolean;
  role: 'all' | 'web' | 'worker';
  healthPort?: string;
}

/** The worker's health port: a whole number 0–65535, and only for a worker (web and all serve them already). */
function parseHealthPort(value: string | undefined, role: StartOptions['role']): number | undefined {
  if (value === undefined) return undefined;
  if (role !== 'worker') {
    throw new CliError(
      `--health-port (or COSELL_HEALTH_PORT) is for --role worker; a ${role} process serves /healthz, /readyz and /metrics on server.port already.`,
      'Drop --health-port, or start the process with --role worker.',
    );
  }
  const port = Number(value);
  if (!/^\d+$/.test(value.trim()) || port > 65_535) {
    throw new CliError(
      `--health-port '${value}' is not a port.`,
      'Pass a whole number from 1 to 65535 (0 picks a free one).',
    );
  }
  return port;
}

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description(
      'Run the sync service: webhook endpoint and dashboard (role web), worker, CRM change feed and reconcile sweep (role worker), until Ctrl-C.',
    )
    .option(
      '--config <file>',
      `${CONFIG_OPTION_HELP}; repeat it to serve several partner tenants (one file each)`,
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .addOption(
      new Option('--role <role>', 'what this process does: web (webhooks, dashboard), worker (sync) or all')
        .choices(['all', 'web', 'worker'])
        .default('all')
        .env('COSELL_ROLE'),
    )
    .addOption(
      new Option(
        '--health-port <port>',
        'role worker: serve /healthz, /readyz and /metrics on this port (0 picks one) for probes and Prometheus',
      ).env('COSELL_HEALTH_PORT'),
    )
    .option('--dry-run', 'compute and log what would change without writing to Partner Center or the CRM')
    .action(async (options: StartOptions) => {
      const healthPort = parseHealthPort(options.healthPort, options.role);
      const configs: Config[] = [];
      for (const file of options.config ?? [undefined]) configs.push(await loadConfigFromFlags(file));
      const first = configs[0]!;
      const logger = createLogger({ level: first.log.level });
      // Loaded on use: the engine and its dependencies are not needed by the other commands.
      const { startService } = await import('../service.ts');
      const service = await startService(configs, {
        logger,
        dryRun: options.dryRun ?? false,
        role: options.role,
        healthPort,
      });
      stopOnSignals(async () => {
        logger.info({ event: 'stopping' }, 'cosell stopping');
        await service.stop();
        logger.info({ event: 'stopped' }, 'cosell stopped');
      });
      const only = service.tenants.length === 1 ? service.tenants[0] : undefined;
      process.stdout.write(
        `${JSON.stringify({
          cosell: 'started',
          role: service.role,
          url: service.url,
          healthz: service.url ? `${service.url}/healthz` : null,
          // One tenant: its fields as before; several: one entry each.
          ...(only
            ? {
                webhookUrl: only.webhookUrl,
                crm: only.config.crm.kind,
                dryRun: options.dryRun || only.config.engine.dryRun,
                config: only.config.file,
              }
            : {
                tenants: service.tenants.map((t) => ({
                  tenantId: t.tenantId,
                  webhookUrl: t.webhookUrl,
                  crm: t.config.crm.kind,
                  dryRun: options.dryRun || t.config.engine.dryRun,
                  config: t.config.file,
                })),
              }),
        })}\n`,
      );
    });
}
