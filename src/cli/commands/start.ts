// `cosell start`: runs the service from a config file until SIGINT/SIGTERM. Stdout carries one JSON line
// once it listens (the URLs, for scripts and supervisors); logs go to stderr as pino JSON.
import type { Command } from 'commander';
import { createLogger } from '../../server/logger.ts';
import { CONFIG_OPTION_HELP, loadConfigFromFlags } from '../config-file.ts';
import { stopOnSignals } from '../signals.ts';

interface StartOptions {
  config?: string;
  dryRun?: boolean;
}

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description(
      'Run the sync service: webhook endpoint, CRM change feed, worker and reconcile sweep, until Ctrl-C.',
    )
    .option('--config <file>', CONFIG_OPTION_HELP)
    .option('--dry-run', 'compute and log what would change without writing to Partner Center or the CRM')
    .action(async (options: StartOptions) => {
      const config = await loadConfigFromFlags(options.config);
      const logger = createLogger({ level: config.log.level });
      // Loaded on use: the engine and its dependencies are not needed by the other commands.
      const { startService } = await import('../service.ts');
      const service = await startService(config, { logger, dryRun: options.dryRun ?? false });
      stopOnSignals(async () => {
        logger.info({ event: 'stopping' }, 'cosell stopping');
        await service.stop();
        logger.info({ event: 'stopped' }, 'cosell stopped');
      });
      process.stdout.write(
        `${JSON.stringify({
          cosell: 'started',
          url: service.url,
          webhookUrl: service.webhookUrl,
          healthz: `${service.url}/healthz`,
          crm: config.crm.kind,
          dryRun: options.dryRun || config.engine.dryRun,
          config: config.file,
        })}\n`,
      );
    });
}
