// `cosell demo` (what `npm start` runs with no config): starts the emulators and explains what to try.
// The sync engine is not built yet, so the demo says so instead of pretending to sync.
import type { Command } from 'commander';
import { CliError } from '../errors.ts';
import { stopOnSignals } from '../signals.ts';
import { type RunningEmulator, startEmulator } from './emulate.ts';

const CRMS = ['salesforce', 'dynamics'] as const;

interface DemoOptions {
  crm: string;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'Start the built-in emulators with demo data (what `npm start` runs when there is no config).',
    )
    .option('--crm <crm>', `CRM to demo: ${CRMS.join(' | ')}`, 'salesforce')
    .action(async (options: DemoOptions) => {
      if (!(CRMS as readonly string[]).includes(options.crm)) {
        throw new CliError(`Unknown CRM '${options.crm}'.`, `Use --crm ${CRMS.join(' or --crm ')}.`);
      }
      if (options.crm === 'dynamics') {
        throw new CliError(
          'The Dynamics 365 (Dataverse) emulator is not built yet.',
          'Run `npm start -- --crm salesforce` for now.',
        );
      }
      const running: RunningEmulator[] = [];
      const stopAll = async () => {
        await Promise.allSettled(running.map((e) => e.close()));
      };
      try {
        running.push(await startEmulator('partner-center', { port: 0, host: '127.0.0.1' }));
        running.push(await startEmulator('salesforce', { port: 0, host: '127.0.0.1' }));
      } catch (error) {
        await stopAll();
        throw error;
      }
      // The start-up lines come first and exactly as `cosell emulate` prints them, so scripts can parse them.
      for (const emulator of running) process.stdout.write(`${JSON.stringify(emulator.info)}\n`);
      const [partnerCenter, salesforce] = running;
      const seeded = await seedStory(String(partnerCenter?.info.control));
      process.stdout.write(guide(partnerCenter!, salesforce!, seeded));
      stopOnSignals(stopAll);
    });
}

/** Puts one Microsoft-sent referral into the Partner Center emulator so there is something to look at. */
async function seedStory(control: string): Promise<string | undefined> {
  const response = await fetch(`${control}/incoming-referrals`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'Contoso Cloud Migration',
      customerProfile: {
        name: 'Contoso Ltd',
        address: {
          addressLine1: '1 Main St',
          city: 'Redmond',
          state: 'WA',
          postalCode: '98052',
          country: 'US',
        },
        team: [{ firstName: 'Avery', lastName: 'Howard', email: 'avery.howard@contoso.example' }],
      },
      details: {
        dealValue: 250000,
        currency: 'USD',
        closingDateTime: new Date(Date.now() + 60 * 86_400_000).toISOString(),
        requirements: { solutions: [{ id: 'SOL-34104-EBB', name: 'Contoso Data Platform' }] },
      },
      inviteContext: {
        assistanceRequestCode: 'CustomerTechnicalArchitecture',
        notes: 'Customer asked for help.',
      },
    }),
  });
  if (!response.ok) return undefined;
  const referral = (await response.json()) as { id?: string };
  return referral.id;
}

function guide(
  partnerCenter: RunningEmulator,
  salesforce: RunningEmulator,
  seededReferralId?: string,
): string {
  const pc = partnerCenter.info as Record<string, string>;
  const sf = salesforce.info as Record<string, string>;
  return `
cosell demo — running on EMULATORS (nothing here talks to Microsoft or Salesforce)

  Partner Center emulator  ${pc['referrals']}/referrals  (control: ${pc['control']})
  Salesforce emulator      ${sf['instanceUrl']}  (control: ${sf['control']})

Not built yet: the sync engine itself. This demo starts the emulators so you can explore the APIs cosell
talks to; referrals will start flowing to Salesforce opportunities when the engine lands.

Try:
  # a referral a Microsoft seller sent you${seededReferralId ? ` (seeded: ${seededReferralId})` : ''}
  curl -s ${pc['control']}/referrals
  # a user token the way a script would get one (the product itself uses the device-code flow: cosell login)
  curl -s -X POST ${pc['token']} -d grant_type=password -d client_id=${pc['clientId']} \\
       -d scope=https://api.partner.microsoft.com/.default -d username=${pc['username']} -d password=${pc['password']}
  # Salesforce: get a session with the demo connected app
  curl -s -X POST ${sf['loginUrl']}/services/oauth2/token -d grant_type=client_credentials \\
       -d client_id=${sf['clientId']} -d client_secret=${sf['clientSecret']}

Emulator interfaces: emulators/partner-center/README.md, emulators/salesforce/README.md
Ctrl-C stops everything.
`;
}
