import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from './errors.ts';
import { loadConfig } from './load.ts';
import { readinessProblems } from './readiness.ts';
import { MICROSOFT_CERTIFICATE_HOST } from './schema.ts';
import { STARTER_CONFIG, starterConfig } from './starter.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cosell-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const env = { COSELL_SF_PRIVATE_KEY: '/keys/sf.key', COSELL_SF_CLIENT_SECRET: 'not-in-the-file' };

async function write(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

async function problemsOf(file: string, environment: NodeJS.ProcessEnv = env): Promise<ConfigError> {
  const error = await loadConfig(file, environment).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

const minimal = `
partnerCenter: { tenantId: contoso.onmicrosoft.com, clientId: 0c1a5e3d }
crm:
  kind: salesforce
  salesforce:
    connection:
      loginUrl: https://login.salesforce.com
      auth: { grant: client-credentials, clientId: 3MVG9abc }
`;

describe('loadConfig', () => {
  it('R23 loads the starter config with every default, secrets from the environment', async () => {
    const config = await loadConfig(await write('starter.yaml', STARTER_CONFIG), env);
    expect(config.partnerCenter.webhook.allowedCertificateHosts).toEqual([MICROSOFT_CERTIFICATE_HOST]);
    expect(config.store.url).toBe(join(dir, '.cosell/cosell.db'));
    expect(config.server).toMatchObject({ port: 3000, webhookPath: '/webhooks/partner-center' });
    expect(config.crm.salesforce?.connection.auth).toMatchObject({
      grant: 'jwt-bearer',
      privateKeyPath: '/keys/sf.key',
    });
    expect(config.engine.worker.concurrency).toBeGreaterThan(0);
    // It loads, but start refuses until the placeholders and the trust anchor are filled in.
    expect(readinessProblems(config).map((p) => p.path)).toEqual([
      'partnerCenter.tenantId',
      'partnerCenter.clientId',
      'crm.salesforce.connection.auth.clientId',
      'crm.salesforce.connection.auth.username',
      'partnerCenter.webhook.trustAnchors',
    ]);
  });

  it('R23 R21 the Dynamics 365 starter loads, takes the secret from COSELL_D365_CLIENT_SECRET, and leaves the flags to the environment variables', async () => {
    const config = await loadConfig(await write('starter-d365.yaml', starterConfig('dynamics')), {
      COSELL_D365_CLIENT_SECRET: 'from-the-environment',
    });
    expect(config.crm.kind).toBe('dynamics');
    expect(config.crm.dynamics?.connection.auth).toMatchObject({
      grant: 'client-secret',
      clientSecret: 'from-the-environment',
    });
    // Unset in the starter: the solution's environment variables decide (R21).
    expect(config.crm.dynamics?.settings).toMatchObject({
      prefix: 'cosell',
      dealValueField: null,
      displayCheckMark: null,
      syncCoSellOpportunitiesOnly: null,
    });
    expect(readinessProblems(config).map((p) => p.path)).toEqual([
      'partnerCenter.tenantId',
      'partnerCenter.clientId',
      'crm.dynamics.connection.tenantId',
      'crm.dynamics.connection.auth.clientId',
      'partnerCenter.webhook.trustAnchors',
      'crm.dynamics.connection.url',
    ]);
  });

  it('R23 a Dynamics 365 secret written in the file is refused with the variable to use', async () => {
    const file = await write(
      'd365-secret.yaml',
      `partnerCenter: { tenantId: t, clientId: c }
crm:
  kind: dynamics
  dynamics:
    connection:
      url: https://contoso.crm.dynamics.com
      tenantId: t
      auth: { grant: client-secret, clientId: x, clientSecret: oops }
`,
    );
    await expect(loadConfig(file, {})).rejects.toThrow(
      /crm\.dynamics\.connection\.auth\.clientSecret.*COSELL_D365_CLIENT_SECRET/s,
    );
  });

  it('R23 reads JSON with the same schema and takes the client secret from COSELL_SF_CLIENT_SECRET', async () => {
    const file = await write(
      'c.json',
      JSON.stringify({
        partnerCenter: { tenantId: 't', clientId: 'c' },
        crm: {
          kind: 'salesforce',
          salesforce: { connection: { auth: { grant: 'client-credentials', clientId: 'x' } } },
        },
        engine: { displayCheckMark: false },
      }),
    );
    const config = await loadConfig(file, env);
    expect(config.crm.salesforce?.connection.auth).toMatchObject({ clientSecret: 'not-in-the-file' });
    expect(config.crm.salesforce?.settings.displayCheckMark).toBe(false);
  });

  it("R23 a tenant's own secret (COSELL_SF_CLIENT_SECRET__ACME_EU) wins over the shared one; without it the shared one is used", async () => {
    const file = await write('acme.yaml', `tenantId: acme-eu\n${minimal}`);
    const own = await loadConfig(file, { ...env, COSELL_SF_CLIENT_SECRET__ACME_EU: 'acme-own-secret' });
    expect(own.crm.salesforce?.connection.auth).toMatchObject({ clientSecret: 'acme-own-secret' });
    const shared = await loadConfig(file, { ...env, COSELL_SF_CLIENT_SECRET__GLOBEX: 'globex-secret' });
    expect(shared.crm.salesforce?.connection.auth).toMatchObject({ clientSecret: 'not-in-the-file' });
  });

  it('names the exact path, the line and the file of every invalid setting at once', async () => {
    const file = await write(
      'bad.yaml',
      `${minimal.replace('https://login.salesforce.com', 'login.salesforce')}server:\n  port: 99999\nlog: { level: loud }\n`,
    );
    const error = await problemsOf(file);
    expect(error.message).toContain(file);
    expect(error.problems).toEqual([
      {
        path: 'crm.salesforce.connection.loginUrl',
        message: expect.stringMatching(/^must be a URL/),
        line: 7,
      },
      { path: 'server.port', message: 'must be at most 65535', line: 10 },
      { path: 'log.level', message: expect.stringContaining('must be one of: "fatal"'), line: 11 },
    ]);
    expect(error.message).toContain('crm.salesforce.connection.loginUrl: must be a URL');
  });

  it('refuses unknown keys (typos) with a suggestion, also inside the embedded engine and Salesforce settings', async () => {
    const file = await write(
      'typo.yaml',
      `${minimal}    settings: { fields: { dealValu: Amount } }\nengine: { worker: { concurency: 2 } }\nsevrer: {}\n`,
    );
    const error = await problemsOf(file);
    const byPath = Object.fromEntries(error.problems.map((p) => [p.path, p.message]));
    expect(byPath['crm.salesforce.settings.fields.dealValu']).toContain('did you mean dealValue?');
    expect(byPath['engine.worker.concurency']).toContain('did you mean concurrency?');
    expect(byPath['sevrer']).toContain('did you mean server?');
  });

  it('R22 the mapping section: a valid one loads; a misspelt field, a bad direction and a display name are each named with the fix', async () => {
    const good = await write(
      'mapping.yaml',
      `${minimal}engine:\n  mapping:\n    fields: { notes: { direction: toCrm }, dealValue: { owner: partnerCenter } }\n    createDefaults: { opportunity: { NextStep: Call the Microsoft seller } }\n`,
    );
    const config = await loadConfig(good, env);
    expect(config.engine.mapping.fields.notes).toEqual({ direction: 'toCrm' });
    expect(config.engine.mapping.createDefaults).toEqual({
      opportunity: { NextStep: 'Call the Microsoft seller' },
      lead: {},
    });

    const bad = await write(
      'bad-mapping.yaml',
      `${minimal}engine:\n  mapping:\n    fields: { dealvalue: { owner: crm }, notes: { direction: one-way } }\n    createDefaults: { opportunity: { "Next Step": Call } }\n`,
    );
    const byPath = Object.fromEntries((await problemsOf(bad)).problems.map((p) => [p.path, p.message]));
    expect(byPath['engine.mapping.fields']).toContain(
      '"dealvalue" is not a field it knows; use one of: name, dealValue',
    );
    expect(byPath['engine.mapping.fields.notes.direction']).toBe(
      'must be one of: "both", "toCrm", "toReferral"',
    );
    expect(byPath['engine.mapping.createDefaults.opportunity.Next Step']).toContain(
      'must be a CRM field name (API / logical name), not a display name',
    );
  });

  it('R21 a flag the engine owns is set once: the Salesforce copy in the file points at engine.*', async () => {
    const file = await write('moved.yaml', `${minimal}    settings: { displayCheckMark: false }\n`);
    const error = await problemsOf(file);
    expect(error.problems[0]).toMatchObject({
      path: 'crm.salesforce.settings.displayCheckMark',
      message: expect.stringContaining('engine.displayCheckMark'),
    });
  });

  it('refuses secrets in the file, naming the variable to use, without echoing the value', async () => {
    const file = await write(
      'secret.yaml',
      `${minimal.replace('clientId: 3MVG9abc', 'clientId: 3MVG9abc, clientSecret: hunter2-very-secret')}store: { url: "postgres://cosell:pa55word@db/cosell" }\npartnerCenterPassword: x\n`,
    );
    const error = await problemsOf(file);
    const byPath = Object.fromEntries(error.problems.map((p) => [p.path, p.message]));
    expect(byPath['crm.salesforce.connection.auth.clientSecret']).toContain('COSELL_SF_CLIENT_SECRET');
    expect(byPath['store.url']).toContain('COSELL_STORE_URL');
    expect(byPath['partnerCenterPassword']).toContain('environment variables');
    expect(error.message).not.toContain('hunter2');
    expect(error.message).not.toContain('pa55word');
  });

  it('R23 the store: COSELL_STORE_URL, else a PostgreSQL DATABASE_URL, else store.url (a file relative to the config)', async () => {
    const file = await write('store.yaml', minimal);
    const pg = 'postgres://cosell:pw@db.example:5432/cosell';
    expect((await loadConfig(file, { ...env, DATABASE_URL: pg })).store.url).toBe(pg);
    expect(
      (await loadConfig(file, { ...env, DATABASE_URL: pg, COSELL_STORE_URL: 'postgres://other/cosell' }))
        .store.url,
    ).toBe('postgres://other/cosell');
    // Somebody else's DATABASE_URL (MySQL, a file) is not a cosell store.
    const kept = (await loadConfig(file, { ...env, DATABASE_URL: 'mysql://db/app' })).store.url;
    expect(kept).not.toContain('mysql');
    expect(kept).toBe((await loadConfig(file, env)).store.url);
  });

  it('a missing secret names its environment variable', async () => {
    const error = await problemsOf(await write('nosecret.yaml', minimal), {});
    expect(error.problems).toEqual([
      expect.objectContaining({
        path: 'crm.salesforce.connection.auth.clientSecret',
        message: expect.stringContaining('set the environment variable COSELL_SF_CLIENT_SECRET'),
      }),
    ]);
  });

  it('R23 a command that never talks to the CRM (login, webhooks) loads the file without its secrets', async () => {
    const file = await write('nosecret-login.yaml', minimal);
    const config = await loadConfig(file, {}, { crmSecrets: false });
    expect(config.partnerCenter.clientId).toBe('0c1a5e3d');
    expect(JSON.stringify(config)).not.toContain('not-in-the-file');
  });

  it.each(['XXX', 'XAU', 'usd', 'ABC'])(
    'R21 engine.defaultCurrency %s is refused: not a real ISO 4217 currency',
    async (code) => {
      const error = await problemsOf(
        await write(`currency-${code}.yaml`, `${minimal}engine: { defaultCurrency: ${code} }\n`),
      );
      expect(error.problems).toEqual([
        expect.objectContaining({
          path: 'engine.defaultCurrency',
          message: expect.stringContaining('ISO 4217 code of a real currency'),
        }),
      ]);
    },
  );

  it('reads trust anchors relative to the file and refuses one that is not a PEM certificate', async () => {
    await write('not-a-cert.pem', 'hello');
    const file = await write(
      'anchors.yaml',
      `${minimal}partnerCenter:\n  tenantId: t\n  clientId: c\n  webhook: { trustAnchors: [not-a-cert.pem, missing.pem] }\n`.replace(
        'partnerCenter: { tenantId: contoso.onmicrosoft.com, clientId: 0c1a5e3d }\n',
        '',
      ),
    );
    const error = await problemsOf(file);
    expect(error.problems.map((p) => p.path)).toEqual([
      'partnerCenter.webhook.trustAnchors[0]',
      'partnerCenter.webhook.trustAnchors[1]',
    ]);
    expect(error.problems[1]?.message).toContain(join(dir, 'missing.pem'));
  });

  it('reports YAML syntax errors with their line', async () => {
    const error = await problemsOf(await write('syntax.yaml', 'crm:\n  kind: "salesforce\n'));
    expect(error.problems[0]?.message).toContain('is not valid YAML/JSON');
    expect(error.problems[0]?.line).toBeGreaterThan(0);
  });
});
