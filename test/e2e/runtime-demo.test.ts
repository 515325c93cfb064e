// `npm start` with no config (`cosell demo`): the emulator start-up lines first, then the guide with the
// seeded story synced, and a clean, quick stop on Ctrl-C.
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.ts';

describe('cosell demo (npm start)', () => {
  it('R24 prints the emulator JSON lines first, then the guide with the seeded story synced, and stops on SIGINT', async () => {
    const t0 = Date.now();
    const demo = await startCli(['demo'], (lines) => lines.some((l) => l.startsWith('Ctrl-C stops')), {
      timeoutMs: 60_000,
    });
    const readyMs = Date.now() - t0;
    try {
      const [first, second] = demo.lines;
      expect(JSON.parse(first!)).toMatchObject({
        emulator: 'partner-center',
        control: expect.stringMatching(/^http/),
      });
      expect(JSON.parse(second!)).toMatchObject({
        emulator: 'salesforce',
        instanceUrl: expect.stringMatching(/^http/),
      });
      const guide = demo.lines.slice(2).join('\n');
      expect(guide).toContain('running on EMULATORS');
      expect(guide).toContain('Dynamics 365 emulator    not built yet');
      // R4: the Microsoft referral became an opportunity; R10: the seller's opportunity became a referral;
      // R12: the co-sell without a country was not sent and shows ✖ with an audit line naming the fix.
      expect(guide).toMatch(
        /✔ A Microsoft seller sent referral "Contoso Cloud Migration" \([0-9a-f-]{36}\)\n\s+-> Salesforce opportunity 006\w+ "Contoso Cloud Migration ✔"/,
      );
      expect(guide).toMatch(
        /✔ A seller ticked Sync on opportunity 006\w+ .*\n\s+-> Partner Center referral [0-9a-f-]{36}, name now ".* ✔"/,
      );
      expect(guide).toMatch(/✖ Co-sell opportunity 006\w+ "Northwind Data Estate"/);
      expect(guide).toMatch(/CRM->PC ✖ Customer account country code is missing/);
      expect(guide).toContain('/ui/Account/001');
      process.stdout.write(
        `demo ready in ${readyMs} ms\n${guide
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

  it('says honestly that the Dynamics 365 demo is not built yet and exits non-zero', async () => {
    const result = await runCli(['demo', '--crm', 'dynamics']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('not built yet');
    expect(result.stderr).toContain('--crm salesforce');
  });
});
