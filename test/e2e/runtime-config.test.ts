// `cosell init` and the config file as an admin meets them, through the CLI as child processes.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { runCli } from '../helpers/cli.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cosell-runtime-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const secrets = { COSELL_SF_PRIVATE_KEY: 'sf.key', COSELL_TOKEN_KEY: Buffer.alloc(32, 1).toString('base64') };

describe('cosell init and the config file', () => {
  it('R23 init writes a commented starter config that loadConfig accepts, and never overwrites without --force', async () => {
    const first = await runCli(['init', '--out', 'cosell.config.yaml'], { cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    const file = join(dir, 'cosell.config.yaml');
    const text = await readFile(file, 'utf8');
    expect(text).toContain('# Secrets are NEVER written here');
    const config = await loadConfig(file, secrets);
    expect(config.crm.kind).toBe('salesforce');
    expect(config.partnerCenter.webhook.allowedCertificateHosts).toEqual([
      '3psostorageacct.blob.core.windows.net',
    ]);

    await writeFile(file, `${text}\n# my edits\n`);
    const again = await runCli(['init'], { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');
    expect(again.stderr).toContain('--force');
    expect(await readFile(file, 'utf8')).toContain('# my edits');
    const forced = await runCli(['init', '--force'], { cwd: dir });
    expect(forced.code, forced.stderr).toBe(0);
    expect(await readFile(file, 'utf8')).not.toContain('# my edits');
  });

  it('R23 start with the untouched starter config lists each placeholder and the missing trust anchor', async () => {
    const result = await runCli(['start'], { cwd: dir, env: secrets });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('partnerCenter.clientId: still holds the starter placeholder');
    expect(result.stderr).toContain('partnerCenter.webhook.trustAnchors: is empty');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('config errors name the file, the exact path and the line', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(
      file,
      [
        'partnerCenter: { tenantId: t, clientId: c }',
        'crm:',
        '  kind: salesforce',
        '  salesforce:',
        '    connection:',
        '      loginUrl: login.salesforce.com',
        '      auth: { grant: jwt-bearer, clientId: x, username: u }',
        'server: { prot: 3000 }',
      ].join('\n'),
    );
    const result = await runCli(['start', '--config', file], { cwd: dir, env: secrets });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(file);
    expect(result.stderr).toContain('server.prot: is not a setting cosell knows (did you mean port?)');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    // Unknown keys are reported first; once fixed, the schema's own checks name their path and line.
    await writeFile(file, (await readFile(file, 'utf8')).replace('prot', 'port'));
    const second = await runCli(['start', '--config', file], { cwd: dir, env: secrets });
    expect(second.stderr).toContain('crm.salesforce.connection.loginUrl: must be a URL');
    expect(second.stderr).toContain('(line 6)');
  });

  it('a secret written in the file is refused, naming the environment variable, without echoing it', async () => {
    const file = join(dir, 'secret.yaml');
    await writeFile(
      file,
      [
        'partnerCenter: { tenantId: t, clientId: c }',
        'crm:',
        '  kind: salesforce',
        '  salesforce:',
        '    connection:',
        '      auth: { grant: client-credentials, clientId: x, clientSecret: s3cr3t-value-123 }',
      ].join('\n'),
    );
    const result = await runCli(['start', '--config', file], { cwd: dir, env: secrets });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('crm.salesforce.connection.auth.clientSecret: is a secret');
    expect(result.stderr).toContain('COSELL_SF_CLIENT_SECRET');
    expect(result.stderr).not.toContain('s3cr3t-value-123');
  });

  it('without any config, start points at init and the demo', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'cosell-runtime-empty-'));
    try {
      const result = await runCli(['start'], { cwd: empty, env: { COSELL_CONFIG: '' } });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('cosell init');
      expect(result.stderr).toContain('npm start');
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('cosell start with several tenants', () => {
  const tenantFile = (id: string, path: string) => `tenantId: ${id}
partnerCenter: { tenantId: t, clientId: c }
crm: { kind: salesforce, salesforce: { connection: { auth: { grant: client-credentials, clientId: x } } } }
store: { url: tenants.db }
server: { webhookPath: ${path} }
`;
  const env = {
    ...secrets,
    COSELL_SF_CLIENT_SECRET: 'shared-secret',
    COSELL_ADMIN_TOKEN__ACME: 'acme-admin-token-0123456789-abcdef',
  };

  it('R23 refuses, naming both files, one tenant id or one webhook path twice, and a tenant without its own admin token; nothing starts', async () => {
    const acme = join(dir, 'acme.yaml');
    const twin = join(dir, 'twin.yaml');
    await writeFile(acme, tenantFile('acme', '/webhooks/partner-center/acme'));
    await writeFile(twin, tenantFile('acme', '/webhooks/partner-center/acme'));
    const twice = await runCli(['start', '--config', acme, '--config', twin], { cwd: dir, env });
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain(`acme is the tenant of both ${acme} and ${twin}`);
    expect(twice.stderr).toContain('/webhooks/partner-center/acme is the webhook path of both');
    expect(twice.stderr).toContain('Nothing was started');

    const globex = join(dir, 'globex.yaml');
    await writeFile(globex, tenantFile('globex', '/webhooks/partner-center/globex'));
    const tokenless = await runCli(['start', '--config', acme, '--config', globex], { cwd: dir, env });
    expect(tokenless.code).toBe(1);
    expect(tokenless.stderr).toContain('COSELL_ADMIN_TOKEN__GLOBEX');
    expect(tokenless.stderr).not.toContain('acme-admin-token');
    expect(existsSync(join(dir, 'tenants.db'))).toBe(false);
  });
});
