// `npm start` with no config (`cosell demo`): the emulator start-up lines first, then the guide with the
// seeded story synced, and a clean, quick stop on Ctrl-C — on Salesforce (the default) and on Dynamics 365.
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.ts';

const DEMOS = [
  {
    crm: 'salesforce',
    args: ['demo'],
    emulator: { emulator: 'salesforce', instanceUrl: expect.stringMatching(/^http/) },
    label: 'Salesforce',
    id: '006\\w+',
    account: '/ui/Account/001',
  },
  {
    crm: 'dynamics',
    args: ['demo', '--crm', 'dynamics'],
    emulator: {
      emulator: 'dynamics',
      url: expect.stringMatching(/^http/),
      control: expect.stringMatching(/_emulator$/),
    },
    label: 'Dynamics 365',
    id: '[0-9a-f-]{36}',
    account: '/ui/accounts/',
  },
] as const;

describe.each(DEMOS)('cosell demo on $crm (npm start)', (demoCase) => {
  it('R24 prints the emulator JSON lines first, then the guide with the seeded story synced, and stops on SIGINT', async () => {
    const t0 = Date.now();
    const demo = await startCli(
      [...demoCase.args],
      (lines) => lines.some((l) => l.startsWith('Ctrl-C stops')),
      {
        timeoutMs: 60_000,
      },
    );
    const readyMs = Date.now() - t0;
    try {
      const [first, second] = demo.lines;
      expect(JSON.parse(first!)).toMatchObject({
        emulator: 'partner-center',
        control: expect.stringMatching(/^http/),
      });
      expect(JSON.parse(second!)).toMatchObject(demoCase.emulator);
      const guide = demo.lines.slice(2).join('\n');
      expect(guide).toContain('running on EMULATORS');
      // R4: the Microsoft referral became an opportunity; R10: the seller's opportunity became a referral;
      // R12: the co-sell without a country was not sent and shows ✖ with an audit line naming the fix.
      expect(guide).toMatch(
        new RegExp(
          `✔ A Microsoft seller sent referral "Contoso Cloud Migration" \\([0-9a-f-]{36}\\)\\n\\s+-> ${demoCase.label} opportunity ${demoCase.id} "Contoso Cloud Migration ✔"`,
        ),
      );
      expect(guide).toMatch(
        new RegExp(
          `✔ A seller ticked Sync on opportunity ${demoCase.id} .*\\n\\s+-> Partner Center referral [0-9a-f-]{36}, name now ".* ✔"`,
        ),
      );
      expect(guide).toMatch(new RegExp(`✖ Co-sell opportunity ${demoCase.id} "Northwind Data Estate"`));
      expect(guide).toMatch(/CRM->PC ✖ Customer account country code is missing/);
      expect(guide).toContain(demoCase.account);
      process.stdout.write(
        `${demoCase.crm} demo ready in ${readyMs} ms\n${guide
          .split('\n')
          .filter((l) => / in \d/.test(l))
          .join('\n')}\n`,
      );
    } finally {
      const stoppedAt = Date.now();
      const code = await demo.stop('SIGINT');
      expect(code).toBe(130);
      expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    }
  });
});

describe('cosell demo with an unknown CRM', () => {
  it('R23 names the CRMs it knows and exits non-zero', async () => {
    const result = await runCli(['demo', '--crm', 'hubspot']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Unknown CRM 'hubspot'");
    expect(result.stderr).toContain('--crm dynamics');
  });
});
