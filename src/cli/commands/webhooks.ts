// `cosell webhooks show|register|test` (R1): one webhook URL per Partner Center tenant; taking over a URL
// that points elsewhere (the old Power Automate flow, a staging instance) needs --force.
// With a config file (`--config`) the commands use its Partner Center settings and the token cache in its
// store, and `register` defaults to partnerCenter.webhook.publicUrl.
import type { Command } from 'commander';
import { readTokenKey } from '../../partner-center/auth.ts';
import { REFERRAL_WEBHOOK_EVENTS, VALIDATION_WEBHOOK_EVENT } from '../../partner-center/constants.ts';
import { type ValidationEventResult, WebhooksClient } from '../../partner-center/webhooks.ts';
import { openStore } from '../../store/open.ts';
import { CONFIG_OPTION_HELP, loadConfigFromFlags, usesConfigFile } from '../config-file.ts';
import { CliError } from '../errors.ts';
import {
  addPartnerCenterOptions,
  type PartnerCenterFlags,
  resolvePartnerCenterConnection,
  tokenProviderFor,
} from '../partner-center-options.ts';
import { storeTokenProvider } from '../store-tokens.ts';

type WebhooksFlags = PartnerCenterFlags & { config?: string };

interface Session {
  client: WebhooksClient;
  publicUrl?: string;
  close(): Promise<void>;
}

async function openSession(flags: WebhooksFlags): Promise<Session> {
  if (usesConfigFile(flags)) {
    // The webhook registration talks to Partner Center only: no CRM secret is asked for.
    const config = await loadConfigFromFlags(flags.config, process.env, { crmSecrets: false });
    const tokenKey = readTokenKey();
    const store = await openStore({ url: config.store.url, tenantId: config.tenantId });
    const tokens = storeTokenProvider(config, store, tokenKey);
    return {
      client: new WebhooksClient({
        baseUrl: config.partnerCenter.webhooksUrl,
        tokens,
        timeoutMs: config.engine.requestTimeoutMs,
      }),
      ...(config.partnerCenter.webhook.publicUrl
        ? { publicUrl: config.partnerCenter.webhook.publicUrl }
        : {}),
      close: () => store.close(),
    };
  }
  const connection = resolvePartnerCenterConnection(flags);
  return {
    client: new WebhooksClient({ baseUrl: connection.webhooksUrl, tokens: tokenProviderFor(connection) }),
    close: async () => {},
  };
}

async function withSession<T>(flags: WebhooksFlags, run: (session: Session) => Promise<T>): Promise<T> {
  const session = await openSession(flags);
  try {
    return await run(session);
  } finally {
    await session.close();
  }
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function withOptions(command: Command): Command {
  return addPartnerCenterOptions(command).option('--config <file>', CONFIG_OPTION_HELP);
}

export function registerWebhooksCommand(program: Command): void {
  const webhooks = program
    .command('webhooks')
    .description('Show, register and test the Partner Center webhook registration (one URL per tenant).');

  withOptions(webhooks.command('show').description('Print the current registration.')).action(
    async (flags: WebhooksFlags) => {
      await withSession(flags, async ({ client }) => {
        const registration = await client.getRegistration();
        if (!registration) {
          process.stdout.write('No webhook is registered for this Partner Center tenant.\n');
          return;
        }
        print(registration);
      });
    },
  );

  withOptions(
    webhooks
      .command('register')
      .description(
        `Register URL for ${REFERRAL_WEBHOOK_EVENTS.join(', ')} and ${VALIDATION_WEBHOOK_EVENT}; overwrite another URL only with --force.`,
      )
      .argument(
        '[url]',
        'the public HTTPS URL cosell receives Partner Center events on (default: partnerCenter.webhook.publicUrl of the config)',
      )
      .option('--force', 'take over a registration that points at another URL'),
  ).action(async (url: string | undefined, flags: WebhooksFlags & { force?: boolean }) => {
    await withSession(flags, async ({ client, publicUrl }) => {
      const target = url ?? publicUrl;
      if (!target) {
        throw new CliError(
          'No webhook URL given.',
          'Pass the URL (cosell webhooks register https://cosell.example.com/webhooks/partner-center) or set partnerCenter.webhook.publicUrl in the config.',
        );
      }
      const result = await client.register({ url: target, force: flags.force ?? false });
      if (result.action === 'drift') {
        throw new CliError(result.message, 'Re-run with --force to point the registration at cosell.', 2);
      }
      const previous = result.previous ? ` (was ${result.previous.webhookUrl})` : '';
      process.stdout.write(
        `Webhook registration ${result.action}: ${result.registration.webhookUrl}${previous}\n`,
      );
    });
  });

  withOptions(
    webhooks
      .command('test')
      .description(
        'Ask Partner Center to send a test event to the registered URL and print the delivery result.',
      )
      .option('--wait <seconds>', 'how long to wait for the result', '30')
      .option('--json', 'print the validation result as JSON'),
  ).action(async (flags: WebhooksFlags & { wait: string; json?: boolean }) => {
    await withSession(flags, async ({ client }) => {
      const correlationId = await client.sendValidationEvent();
      const deadline = Date.now() + Number(flags.wait) * 1000;
      let result = await client.getValidationResult(correlationId);
      while (result.status !== 'completed' && Date.now() <= deadline) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        result = await client.getValidationResult(correlationId);
      }
      if (flags.json) print(result);
      else process.stdout.write(describeValidation(result));
      const verdict = validationVerdict(result);
      if (verdict) throw new CliError(verdict.message, verdict.fix);
    });
  });
}

/** The delivery result in an admin's words: where it went and what the receiver answered. */
export function describeValidation(result: ValidationEventResult): string {
  const lines = [
    `Test event ${result.correlationId}: ${result.status}${result.callbackUrl ? `, sent to ${result.callbackUrl}` : ''}`,
  ];
  for (const attempt of result.results ?? []) {
    const answer = attempt.systemError
      ? 'no answer (connection failed)'
      : attempt.responseCode || 'no status';
    lines.push(
      `  ${attempt.dateTimeUtc ?? ''} ${answer}${attempt.responseMessage ? `: ${attempt.responseMessage}` : ''}`.trimEnd(),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Why the test failed and how to fix it; undefined when the receiver answered 200. */
export function validationVerdict(
  result: ValidationEventResult,
): { message: string; fix: string } | undefined {
  const attempts = result.results ?? [];
  if (attempts.some((a) => a.responseCode === 'OK' && !a.systemError)) return undefined;
  if (result.status !== 'completed' && attempts.length === 0) {
    return {
      message: `Partner Center has not reported a delivery of test event ${result.correlationId} yet.`,
      fix: 'Run `cosell webhooks test --wait 120`, and check that the registered URL is reachable from the internet.',
    };
  }
  const last = attempts.at(-1);
  if (last?.responseCode === 'Unauthorized') {
    return {
      message: "The webhook receiver refused the test event's signature (401).",
      fix: "cosell logs each refused event as 'webhook-refused' with its reason and certificateUrl: download that certificate, read its issuer (openssl x509 -inform der -in <file> -noout -issuer) and list that issuer's root in partnerCenter.webhook.trustAnchors; add the certificate's host to allowedCertificateHosts.",
    };
  }
  return {
    message: `The test event was not delivered: ${last?.systemError ? 'the receiver could not be reached' : `the receiver answered ${last?.responseCode || 'nothing'}`}.`,
    fix: 'Check that `cosell start` is running behind the registered public URL (`cosell webhooks show`) and that the reverse proxy forwards POSTs to server.webhookPath.',
  };
}
