// `cosell doctor` (Salesforce part) against emulators started bare, packaged, and with the permission set
// unassigned; plus `cosell provision`. Runs the command modules in-process, and the real CLI as a child process
// once main.ts registers the command.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSalesforceEmulator } from '../../emulators/salesforce/index.ts';
import { type DoctorOptions, runDoctor, salesforceConnectionFrom } from '../../src/cli/commands/doctor.ts';
import { runProvision } from '../../src/cli/commands/provision.ts';
import { control } from '../../src/cli/demo-story.ts';
import { CliError } from '../../src/cli/errors.ts';
import { runSalesforceDoctor } from '../../src/crm/salesforce/doctor.ts';
import { ASSISTANCE_PICKLIST } from '../../src/crm/salesforce/fields.ts';
import { loadPackageSchema } from '../../src/crm/salesforce/package-schema.ts';
import { parseSalesforceSettings } from '../../src/crm/salesforce/settings.ts';

type Emulator = Awaited<ReturnType<typeof startSalesforceEmulator>>;
const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

let packaged: Emulator;
let bare: Emulator;
beforeAll(async () => {
  [packaged, bare] = await Promise.all([
    startSalesforceEmulator({ port: 0, host: '127.0.0.1' }),
    startSalesforceEmulator({ port: 0, host: '127.0.0.1', bare: true }),
  ]);
});
afterAll(async () => {
  await Promise.all([packaged?.close(), bare?.close()]);
});

function jwtFlags(emulator: Emulator): DoctorOptions {
  return {
    sfLoginUrl: emulator.info.loginUrl,
    sfClientId: emulator.info.clientId,
    sfUsername: emulator.info.username,
    sfPrivateKey: emulator.info.jwtPrivateKeyPath,
  };
}

async function doctor(
  options: DoctorOptions,
  env: NodeJS.ProcessEnv = {},
): Promise<{ text: string; error?: unknown }> {
  let text = '';
  try {
    await runDoctor(options, { out: (t) => (text += t), env });
    return { text };
  } catch (error) {
    return { text, error };
  }
}

describe('cosell doctor (Salesforce)', () => {
  it('R18 R23 on a bare org lists every missing field and object with the deploy command, and fails', async () => {
    const { text, error } = await doctor(jwtFlags(bare));
    expect(error).toBeInstanceOf(CliError);
    expect(text).toContain('ok   salesforce token');
    const pkg = await loadPackageSchema();
    for (const object of pkg.objects) {
      for (const field of object.fields) {
        const named = object.custom
          ? text.includes(`Object ${object.name} is missing`) && text.includes(field.name)
          : text.includes(`${object.name}.${field.name} is missing`);
        expect(named, `${object.name}.${field.name}`).toBe(true);
      }
    }
    expect(text).toContain(
      'sf project deploy start --source-dir packaging/salesforce/force-app --target-org <alias>',
    );
    expect(text).toContain('sf org assign permset --name Cosell_Integration');
  });

  it('R18 on an org loaded from the package, doctor is clean (client credentials)', async () => {
    const { text, error } = await doctor(
      { sfLoginUrl: packaged.info.loginUrl, sfClientId: packaged.info.clientId },
      { COSELL_SF_CLIENT_SECRET: packaged.info.clientSecret },
    );
    expect(error).toBeUndefined();
    expect(text).not.toContain('FAIL');
    expect(text).toContain('Every object and field of packaging/salesforce is present');
    // R21: the currencies a referral's deal value may be written in.
    expect(text).toMatch(/ok {3}salesforce currencies: Amounts are in USD \(corporate USD\)/);
  });

  it('R22 doctor checks the fields engine.mapping.createDefaults names: a label instead of an API name is a FAIL with its fix', async () => {
    const result = await runSalesforceDoctor(salesforceConnectionFrom(jwtFlags(packaged)), {
      createDefaults: {
        opportunity: { NextStep: 'Call the Microsoft seller', Next_Step__c: 'x' },
        lead: { LeadSource: 'Partner Referral' },
      },
    });
    const mapping = result.lines.filter((l) => l.check === 'mapping');
    expect(mapping).toEqual([
      expect.objectContaining({
        ok: false,
        message:
          'engine.mapping.createDefaults.opportunity.Next_Step__c: Opportunity has no field Next_Step__c the integration user can see.',
        fix: expect.stringContaining('API / logical name'),
      }),
      expect.objectContaining({
        ok: true,
        message: 'New Lead records get LeadSource from engine.mapping.createDefaults.',
      }),
    ]);
    expect(result.ok).toBe(false);
  });

  it('R8 doctor checks the decision field: a picklist value the org does not offer is a FAIL listing the values', async () => {
    const check = async (decision: { field: string; accept: string; decline: string }) =>
      (
        await runSalesforceDoctor(salesforceConnectionFrom(jwtFlags(packaged)), {
          settings: parseSalesforceSettings({ decision }),
        })
      ).lines.find((l) => l.check === 'decision');
    expect(await check({ field: 'Type', accept: 'New Customer', decline: 'Declined' })).toMatchObject({
      ok: false,
      message: 'crm.decision: Opportunity.Type has no value "Declined".',
      fix: expect.stringContaining('"Existing Customer - Upgrade"'),
    });
    expect(await check({ field: 'Co_sell_decision__c', accept: 'Accept', decline: 'Decline' })).toMatchObject(
      {
        ok: false,
        message: expect.stringContaining('Opportunity has no field Co_sell_decision__c'),
      },
    );
    expect(await check({ field: 'NextStep', accept: 'Accept', decline: 'Decline' })).toMatchObject({
      ok: true,
    });
  });

  it('R22 R32 doctor checks the names and picklist values the config uses, not the shipped ones it renamed', async () => {
    const shipped = Object.values(ASSISTANCE_PICKLIST);
    const renamed = shipped.map((v) => (v === 'Proof of concept or demo' ? 'PoC / demo' : v));
    const setPicklist = (values: string[]) =>
      control(packaged.info.control, 'PUT', '/setup/picklist/Opportunity/How_can_Microsoft_help__c', {
        values,
      });
    await setPicklist(renamed);
    try {
      const schemaLines = async (settings: Parameters<typeof parseSalesforceSettings>[0]) =>
        (
          await runSalesforceDoctor(salesforceConnectionFrom(jwtFlags(packaged)), {
            settings: parseSalesforceSettings(settings),
          })
        ).lines.filter((l) => !l.ok && l.check === 'schema');
      expect((await schemaLines({})).map((l) => l.message)).toEqual([
        expect.stringContaining(
          'How_can_Microsoft_help__c lacks the picklist value "Proof of concept or demo"',
        ),
      ]);
      expect(await schemaLines({ values: { assistance: { ProofOfConceptOrDemo: 'PoC / demo' } } })).toEqual(
        [],
      );
      // An existing installation's own field name is what gets checked (here: one the org lacks).
      const own = await schemaLines({
        values: { assistance: { ProofOfConceptOrDemo: 'PoC / demo' } },
        fields: { referralId: 'Partner_Referral_Id__c' },
      });
      expect(own.map((l) => l.message).join('\n')).toContain('Opportunity.Partner_Referral_Id__c is missing');
    } finally {
      await setPicklist(shipped);
    }
  });

  it('R21 doctor checks the configured stage names and lead status against the org: a label-like typo is a FAIL listing the values', async () => {
    const settings = parseSalesforceSettings({ stages: { onHold: 'On Hold' } });
    const result = await runSalesforceDoctor(salesforceConnectionFrom(jwtFlags(packaged)), { settings });
    const lines = result.lines.filter((l) => l.check === 'settings');
    expect(lines).toEqual([
      expect.objectContaining({
        ok: false,
        message:
          'crm.salesforce.settings.stages.onHold is "On Hold", which is not a value of the org\'s picklist.',
        fix: expect.stringContaining('Prospecting, Qualification'),
      }),
    ]);
    const fine = await runSalesforceDoctor(salesforceConnectionFrom(jwtFlags(packaged)), {
      settings: parseSalesforceSettings({}),
    });
    expect(fine.lines.filter((l) => l.check === 'settings')).toEqual([expect.objectContaining({ ok: true })]);
  });

  it('R28 without the permission set, doctor names field-level security and the assign command', async () => {
    await fetch(`${packaged.info.control}/permset`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ assigned: false }),
    });
    try {
      const { text, error } = await doctor(jwtFlags(packaged));
      expect(error).toBeInstanceOf(CliError);
      expect(text).toMatch(/permission set Cosell_Integration is not assigned \(field-level security\)/);
      expect(text).toContain(
        'Opportunity.Referral_Identifier__c is missing or not visible to the integration user',
      );
      expect(text).toContain('sf org assign permset --name Cosell_Integration');
    } finally {
      await fetch(`${packaged.info.control}/permset`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ assigned: true }),
      });
    }
  });

  it('R23 a refused token is one FAIL line with its fix, and the secret is never printed', async () => {
    const { text, error } = await doctor(
      { sfLoginUrl: packaged.info.loginUrl, sfClientId: packaged.info.clientId },
      { COSELL_SF_CLIENT_SECRET: 'wrong-secret-123' },
    );
    expect(error).toBeInstanceOf(CliError);
    expect(text).toMatch(/FAIL salesforce token: Salesforce refused the client-credentials token request/);
    expect(text).toMatch(/fix: Check the consumer key and secret/);
    expect(text).not.toContain('wrong-secret-123');
  });

  it('R23 an API version the org does not serve is reported with the newest one', async () => {
    const { text, error } = await doctor({ ...jwtFlags(packaged), sfApiVersion: '20.0' });
    expect(error).toBeInstanceOf(CliError);
    expect(text).toMatch(/FAIL salesforce api-version: The org does not serve API v20\.0/);
  });

  it('R23 missing connection settings are a CliError naming the flags', async () => {
    const { error } = await doctor({ sfLoginUrl: packaged.info.loginUrl });
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).fix).toMatch(/--sf-client-id/);
  });

  it('R23 `cosell doctor` as a child process exits non-zero on a bare org and 0 on a packaged one', async () => {
    const args = (e: Emulator) => [
      'bin/cosell.js',
      'doctor',
      '--sf-login-url',
      e.info.loginUrl,
      '--sf-client-id',
      e.info.clientId,
      '--sf-username',
      e.info.username,
      '--sf-private-key',
      e.info.jwtPrivateKeyPath,
    ];
    const failing = await run('node', args(bare), { cwd: root }).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect((failing as { code: number }).code).toBe(1);
    expect((failing as { stdout: string }).stdout).toContain('Opportunity.Audit__c is missing');
    const passing = await run('node', args(packaged), { cwd: root });
    expect(passing.stdout).not.toContain('FAIL');
  });
});

describe('cosell provision', () => {
  it('R18 writes the package to a directory and prints the one-line deploy command', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cosell-provision-'));
    try {
      const out = path.join(dir, 'pkg');
      let text = '';
      await runProvision({ crm: 'salesforce', out, targetOrg: 'prod' }, (t) => (text += t));
      expect(text).toContain(
        `sf project deploy start --source-dir ${path.join(out, 'force-app')} --target-org prod`,
      );
      // To the integration user, not to the admin running the command.
      expect(text).toContain(
        'sf org assign permset --name Cosell_Integration --target-org prod --on-behalf-of <integration user>',
      );
      const copied = await loadPackageSchema(out);
      expect(copied).toEqual(await loadPackageSchema());
      expect(await readdir(out)).toEqual(
        expect.arrayContaining(['force-app', 'manifest', 'sfdx-project.json']),
      );
      await expect(runProvision({ crm: 'salesforce', out }, () => {})).rejects.toBeInstanceOf(CliError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('R23 refuses a CRM it does not know, naming the ones it does', async () => {
    await expect(runProvision({ crm: 'hubspot' }, () => {})).rejects.toThrow(
      /does not know the CRM 'hubspot'/,
    );
  });
});
