import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { opportunityBody, startTestOrg } from './test-support.ts';

const dir = mkdtempSync(join(tmpdir(), 'cosell-sf-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Salesforce emulator: --data file', () => {
  it('keeps records and the JWT key pair across restarts', async () => {
    const dataFile = join(dir, 'salesforce.json');
    const first = await startTestOrg({ dataFile });
    const created = await first.api(
      'PATCH',
      '/sobjects/Opportunity/Referral_Identifier__c/kept',
      opportunityBody(),
    );
    expect(created.status).toBe(201);
    const keyPath = first.emulator.info.jwtPrivateKeyPath;
    await first.close();
    expect(existsSync(dataFile)).toBe(true);

    const second = await startTestOrg({ dataFile });
    try {
      expect(second.emulator.info.jwtPrivateKeyPath).toBe(keyPath);
      const read = await second.api('GET', '/sobjects/Opportunity/Referral_Identifier__c/kept');
      expect(read.body).toMatchObject({ Id: (created.body as { id: string }).id });
      // New records do not reuse ids from before the restart.
      const next = await second.api('POST', '/sobjects/Opportunity', opportunityBody());
      expect((next.body as { id: string }).id).not.toBe((created.body as { id: string }).id);
    } finally {
      await second.close();
    }
  });

  it('a temp key directory is removed on close when no data file is given', async () => {
    const org = await startTestOrg();
    const keyPath = org.emulator.info.jwtPrivateKeyPath;
    expect(existsSync(keyPath)).toBe(true);
    await org.close();
    expect(existsSync(keyPath)).toBe(false);
  });
});
