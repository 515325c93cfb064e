import { describe, expect, it } from 'vitest';
import { startCli } from '../../test/helpers/cli.ts';
import type { SalesforceEmulatorInfo } from './server.ts';

describe('npx cosell emulate salesforce', () => {
  it('prints its URLs as one JSON line and serves the token endpoint and control API', async () => {
    const running = await startCli(['emulate', 'salesforce', '--port', '0', '--bare'], (lines) =>
      lines.some((l) => l.startsWith('{')),
    );
    try {
      const info = JSON.parse(running.lines.find((l) => l.startsWith('{')) ?? '{}') as SalesforceEmulatorInfo;
      expect(info).toMatchObject({ emulator: 'salesforce', control: `${info.instanceUrl}/_emulator` });
      const token = await fetch(`${info.loginUrl}/services/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: info.clientId,
          client_secret: info.clientSecret,
        }),
      });
      const { access_token } = (await token.json()) as { access_token: string };
      const described = await fetch(
        `${info.instanceUrl}/services/data/v${info.apiVersion}/sobjects/Opportunity/describe`,
        {
          headers: { authorization: `Bearer ${access_token}` },
        },
      );
      const fields = ((await described.json()) as { fields: { name: string }[] }).fields.map((f) => f.name);
      expect(fields).toContain('StageName');
      expect(fields).not.toContain('Referral_Identifier__c'); // --bare
      expect((await fetch(`${info.control}/calls`)).status).toBe(200);
    } finally {
      await running.stop();
    }
  });
});
