// State file (`dataFile`) across restarts, and the seed file as the start state.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { privateReferral, startTestEmulator, WEBHOOKS_SCOPE } from './test-support.ts';

// biome-ignore lint/suspicious/noExplicitAny: assertions read response bodies by deep paths; the schemas are checked elsewhere.
type Json = Record<string, any>;

const dir = mkdtempSync(join(tmpdir(), 'pc-emulator-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('persistence', () => {
  it('a data file keeps referrals, eTags, users, tokens and the webhook registration across a restart', async () => {
    const dataFile = join(dir, 'state.json');
    const first = await startTestEmulator({ dataFile });
    const created = await first.api<Json>('/referrals', {
      method: 'POST',
      body: privateReferral({ name: 'Survives restarts' }),
    });
    expect(created.status).toBe(200);
    await first.control('/users', {
      method: 'POST',
      body: { username: 'second@contoso-partner.example', password: 'pw-2', roles: ['ReferralsUser'] },
    });
    const token = await first.userToken();
    const hooksToken = await first.userToken(WEBHOOKS_SCOPE);
    const registration = await fetch(`${first.pc.info.webhooks}/registration`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hooksToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        WebhookUrl: 'https://crm.example/hooks/pc',
        WebhookEvents: ['referral-created'],
      }),
    });
    expect(registration.status).toBe(200);
    // Written before the answer went out: a crash right after a 200 loses nothing.
    const onDisk = JSON.parse(readFileSync(dataFile, 'utf8')) as Json;
    expect(onDisk.referrals.map((r: Json) => r.name)).toContain('Survives restarts');
    await first.close();

    const second = await startTestEmulator({ dataFile });
    try {
      const read = await second.api<Json>(`/referrals/${created.body.id}`, { token });
      expect(read.status).toBe(200);
      expect(read.body.eTag).toBe(created.body.eTag);
      expect(read.body.name).toBe('Survives restarts');
      const other = await second.userToken(undefined, 'second@contoso-partner.example', 'pw-2');
      expect((await second.api('/referrals', { token: other })).status).toBe(200);
      const current = await fetch(`${second.pc.info.webhooks}/registration`, {
        headers: { authorization: `Bearer ${hooksToken}` },
      });
      expect(((await current.json()) as Json).WebhookUrl ?? '').toBe('https://crm.example/hooks/pc');
    } finally {
      await second.close();
    }
  });

  it('a seed file is the start state, loaded again on reset', async () => {
    const seedFile = join(dir, 'seed.json');
    writeFileSync(
      seedFile,
      JSON.stringify({
        referrals: [
          privateReferral({ id: 'seeded-a', name: 'Seeded A' }),
          privateReferral({ id: 'seeded-b', name: 'Seeded B' }),
        ],
        users: [
          { username: 'seeded@contoso-partner.example', password: 'pw-seed', roles: ['Referrals Admin'] },
        ],
      }),
    );
    const emu = await startTestEmulator({ seedFile });
    try {
      const list = await emu.api<Json>('/referrals');
      expect(list.body.value.map((r: Json) => r.id).sort()).toEqual(['seeded-a', 'seeded-b']);
      await emu.api('/referrals/seeded-a', {
        method: 'PATCH',
        body: [{ op: 'replace', path: '/details/notes', value: 'changed' }],
      });
      await emu.control('/reset', { method: 'POST' });
      emu.forgetTokens();
      const again = await emu.api<Json>('/referrals/seeded-a');
      expect(again.body.details.notes).toBeUndefined();
      const seededUser = await emu.userToken(undefined, 'seeded@contoso-partner.example', 'pw-seed');
      expect((await emu.api('/referrals', { token: seededUser })).status).toBe(200);
    } finally {
      await emu.close();
    }
  });
});
