// `cosell webhooks show|register|test` (R1): one webhook URL per Partner Center tenant; taking over a URL
// that points elsewhere (the old Power Automate flow, a staging instance) needs --force.
import type { Command } from 'commander';
import { REFERRAL_WEBHOOK_EVENTS, VALIDATION_WEBHOOK_EVENT } from '../../partner-center/constants.ts';
import { WebhooksClient } from '../../partner-center/webhooks.ts';
import { CliError } from '../errors.ts';
import {
  addPartnerCenterOptions,
  type PartnerCenterFlags,
  resolvePartnerCenterConnection,
  tokenProviderFor,
} from '../partner-center-options.ts';

function clientFor(flags: PartnerCenterFlags): WebhooksClient {
  const connection = resolvePartnerCenterConnection(flags);
  return new WebhooksClient({ baseUrl: connection.webhooksUrl, tokens: tokenProviderFor(connection) });
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function registerWebhooksCommand(program: Command): void {
  const webhooks = program
    .command('webhooks')
    .description('Show, register and test the Partner Center webhook registration (one URL per tenant).');

  addPartnerCenterOptions(webhooks.command('show').description('Print the current registration.')).action(
    async (flags: PartnerCenterFlags) => {
      const registration = await clientFor(flags).getRegistration();
      if (!registration) {
        process.stdout.write('No webhook is registered for this Partner Center tenant.\n');
        return;
      }
      print(registration);
    },
  );

  addPartnerCenterOptions(
    webhooks
      .command('register')
      .description(
        `Register URL for ${REFERRAL_WEBHOOK_EVENTS.join(', ')} and ${VALIDATION_WEBHOOK_EVENT}; overwrite another URL only with --force.`,
      )
      .argument('<url>', 'the public HTTPS URL cosell receives Partner Center events on')
      .option('--force', 'take over a registration that points at another URL'),
  ).action(async (url: string, flags: PartnerCenterFlags & { force?: boolean }) => {
    const result = await clientFor(flags).register({ url, force: flags.force ?? false });
    if (result.action === 'drift') {
      throw new CliError(result.message, 'Re-run with --force to point the registration at cosell.', 2);
    }
    const previous = result.previous ? ` (was ${result.previous.webhookUrl})` : '';
    process.stdout.write(
      `Webhook registration ${result.action}: ${result.registration.webhookUrl}${previous}\n`,
    );
  });

  addPartnerCenterOptions(
    webhooks
      .command('test')
      .description(
        'Ask Partner Center to send a test event to the registered URL and print the delivery result.',
      )
      .option('--wait <seconds>', 'how long to wait for the result', '30'),
  ).action(async (flags: PartnerCenterFlags & { wait: string }) => {
    const client = clientFor(flags);
    const correlationId = await client.sendValidationEvent();
    const deadline = Date.now() + Number(flags.wait) * 1000;
    for (;;) {
      const result = await client.getValidationResult(correlationId);
      if (result.status === 'completed' || Date.now() > deadline) {
        print(result);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  });
}
