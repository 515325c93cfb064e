// What a new user types first: the version, and help texts in their words (never requirement ids).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

const version = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

describe('cosell basics', () => {
  it('R23 --version prints the version and exits 0', async () => {
    const result = await runCli(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });

  it.each(['start', 'emulate', 'demo', 'login', 'webhooks', 'doctor', 'provision', 'init'])(
    'R23 `cosell %s --help` speaks the user’s words, without requirement ids',
    async (command) => {
      const result = await runCli([command, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).not.toMatch(/\bR\d{1,2}\b/);
    },
  );
});
