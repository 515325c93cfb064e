// The Partner Center emulator and the Partner Center commands as a new user meets them: separate processes,
// the start-up JSON line, curl-style HTTP, `cosell login` and `cosell webhooks`.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptCache, readTokenKey } from '../../src/partner-center/auth.ts';
import { type LongRunning, runCli, startCli } from '../helpers/cli.ts';

interface EmulatorLine {
  emulator: string;
  referrals: string;
  webhooks: string;
  token: string;
  control: string;
  clientId: string;
  username: string;
  password: string;
  authorityHost: string;
}

describe('cosell emulate partner-center + login + webhooks (separate processes)', () => {
  let emulator: LongRunning;
  let info: EmulatorLine;
  let workDir: string;
  const env = { COSELL_TOKEN_KEY: randomBytes(32).toString('base64') };

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'cosell-cli-'));
    emulator = await startCli(['emulate', 'partner-center', '--port', '0'], (lines) => lines.length > 0);
    info = JSON.parse(emulator.lines[0]!) as EmulatorLine;
  });

  afterAll(async () => {
    await emulator?.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  it('prints one JSON start-up line with the documented URLs and demo credentials', () => {
    expect(info.emulator).toBe('partner-center');
    expect(info.referrals).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\.0\/engagements$/);
    expect(info.webhooks).toMatch(/\/webhooks\/v1$/);
    expect(info.control).toMatch(/\/_emulator$/);
    expect(info.username).toContain('@');
    expect(info.password.length).toBeGreaterThan(0);
  });

  it('R3 serves the Referrals API to a plain HTTP client with a password-grant script token', async () => {
    const form = new URLSearchParams({
      grant_type: 'password',
      client_id: info.clientId,
      scope: 'https://api.partner.microsoft.com/.default',
      username: info.username,
      password: info.password,
    });
    const token = (await (await fetch(info.token, { method: 'POST', body: form })).json()) as {
      access_token: string;
      token_type: string;
    };
    expect(token.token_type).toBe('Bearer');

    const unauthenticated = await fetch(`${info.referrals}/referrals`);
    expect(unauthenticated.status).toBe(401);

    const incoming = await fetch(`${info.control}/incoming-referrals`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'CLI test', customerProfile: { name: 'Fabrikam' } }),
    });
    expect(incoming.status).toBe(201);

    const list = await fetch(`${info.referrals}/referrals?$filter=direction eq 'Incoming'`, {
      headers: { authorization: `Bearer ${token.access_token}` },
    });
    expect(list.status).toBe(200);
    const page = (await list.json()) as { value: { name: string; status: string }[] };
    expect(page.value.map((r) => r.name)).toContain('CLI test');
    expect(page.value.find((r) => r.name === 'CLI test')?.status).toBe('New');
  });

  it('R3 cosell login signs in with the device-code flow and stores an encrypted token cache', async () => {
    const result = await runCli(['login', '--emulator', info.authorityHost], { cwd: workDir, env });
    expect(result.stderr).toMatch(/enter the code/i);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Logged in to Partner Center as ${info.username}`);
    // Only the AES-GCM envelope is on disk: no msal cache keys, and it decrypts with the key from the env.
    const cache = await readFile(join(workDir, '.cosell/token-cache.json'), 'utf8');
    const envelope = JSON.parse(cache) as Record<string, string>;
    expect(Object.keys(envelope).sort()).toEqual(['data', 'format', 'iv', 'tag']);
    expect(cache).not.toContain('RefreshToken');
    const plaintext = decryptCache(cache, readTokenKey(env), 'token-cache.json');
    expect(plaintext).toContain('RefreshToken');
  });

  it('R1 webhooks register creates, refuses to take over another URL without --force, and overwrites with it', async () => {
    const pc = ['--emulator', info.authorityHost];
    const created = await runCli(['webhooks', 'register', 'http://127.0.0.1:9/ours', ...pc], {
      cwd: workDir,
      env,
    });
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain('created');

    const drift = await runCli(['webhooks', 'register', 'http://127.0.0.1:9/staging', ...pc], {
      cwd: workDir,
      env,
    });
    expect(drift.code).toBe(2);
    expect(drift.stderr).toContain('points at http://127.0.0.1:9/ours');
    expect(drift.stderr).toContain('--force');

    const shown = await runCli(['webhooks', 'show', ...pc], { cwd: workDir, env });
    expect(shown.stdout).toContain('http://127.0.0.1:9/ours');

    const forced = await runCli(['webhooks', 'register', 'http://127.0.0.1:9/staging', '--force', ...pc], {
      cwd: workDir,
      env,
    });
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain('overwritten');
    expect(forced.stdout).toContain('was http://127.0.0.1:9/ours');
  });

  it('R3 a missing token key is a clear error naming the variable, with no stack trace', async () => {
    const result = await runCli(['webhooks', 'show', '--emulator', info.authorityHost], {
      cwd: workDir,
      env: { COSELL_TOKEN_KEY: '' },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('COSELL_TOKEN_KEY');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses an unknown emulator name with the list of known ones', async () => {
    const result = await runCli(['emulate', 'hubspot']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('partner-center, salesforce');
  });
});
