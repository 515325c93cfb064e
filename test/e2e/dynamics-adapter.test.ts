// The Dynamics 365 adapter against the Dataverse emulator over HTTP, beyond the shared port contract: doctor on
// a bare and on a packaged environment, environment variables changing the adapter's behaviour (R21), the
// provisioned solution, throttling with Retry-After under a concurrency cap, hostile strings, and what a create
// and an update cost in Dataverse calls (from the emulator's own counters).

import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDynamicsEmulator, startDynamicsEmulator } from '../../emulators/dynamics/index.ts';
import { runProvision } from '../../src/cli/commands/provision.ts';
import { control } from '../../src/cli/demo-story.ts';
import { DynamicsAdapter } from '../../src/crm/dynamics/adapter.ts';
import { runDynamicsDoctor } from '../../src/crm/dynamics/doctor.ts';
import { ASSISTANCE_CHOICES } from '../../src/crm/dynamics/fields.ts';
import { readSolution } from '../../src/crm/dynamics/package-schema.ts';
import {
  type DynamicsSettingsInput,
  dynamicsConnectionSchema,
  parseDynamicsSettings,
} from '../../src/crm/dynamics/settings.ts';
import { CrmError, type NewDeal } from '../../src/crm/port.ts';

const noWait = { sleep: async () => {}, random: () => 0 };

function connectionOf(emulator: RunningDynamicsEmulator, maxConcurrency = 8) {
  const info = emulator.info;
  return dynamicsConnectionSchema.parse({
    url: info.url,
    tenantId: info.tenantId,
    authorityHost: info.authorityHost,
    auth: { grant: 'client-secret', clientId: info.clientId, clientSecret: info.clientSecret },
    maxConcurrency,
  });
}

const connect = (
  emulator: RunningDynamicsEmulator,
  settings: DynamicsSettingsInput = {},
  maxConcurrency = 8,
) => DynamicsAdapter.connect(connectionOf(emulator, maxConcurrency), settings, noWait);

let seq = 0;
function deal(overrides: Partial<NewDeal> = {}): NewDeal {
  seq++;
  return {
    kind: 'opportunity',
    referralId: `d365-${seq}-${Date.now()}`,
    fields: { name: `D365 deal ${seq}`, value: 5_000, currency: 'USD', closeDate: '2027-01-31', notes: 'n' },
    account: { name: `D365 account ${seq}`, address: { postalCode: '10115', country: 'DE' } },
    contacts: [{ firstName: 'Lin', lastName: 'Chen', email: `lin${seq}@d365.example` }],
    solutions: [{ id: 'SOL-D365-1', name: 'D365 solution' }],
    ...overrides,
  };
}

let packaged: RunningDynamicsEmulator;
let bare: RunningDynamicsEmulator;
beforeAll(async () => {
  [packaged, bare] = await Promise.all([
    startDynamicsEmulator({ port: 0, host: '127.0.0.1' }),
    startDynamicsEmulator({ port: 0, host: '127.0.0.1', bare: true }),
  ]);
});
afterAll(async () => {
  await Promise.all([packaged?.close(), bare?.close()]);
});

describe('cosell doctor (Dynamics 365)', () => {
  it('R18 R28 on a bare environment lists every missing table, column, choice and environment variable with the import command, and fails', async () => {
    const result = await runDynamicsDoctor(connectionOf(bare), parseDynamicsSettings({}));
    expect(result.ok).toBe(false);
    const failures = result.lines.filter((l) => !l.ok);
    const solution = await readSolution();
    for (const table of solution.tables) {
      for (const column of table.columns) {
        if (table.custom) continue;
        expect(
          failures.some((l) => l.message.includes(`${table.name}.${column.name}`)),
          column.name,
        ).toBe(true);
      }
      if (table.custom) expect(failures.some((l) => l.message.includes(`Table ${table.name}`))).toBe(true);
    }
    for (const choice of solution.choices)
      expect(failures.some((l) => l.message.includes(choice.name))).toBe(true);
    for (const variable of solution.variables) {
      expect(failures.some((l) => l.message.includes(variable.schemaName))).toBe(true);
    }
    expect(failures.every((l) => l.fix)).toBe(true);
    expect(failures.find((l) => l.message.includes('cosell_referralidentifier'))?.fix).toMatch(
      /pac solution pack/,
    );
  });

  it('R18 R21 on a packaged environment is clean and prints each effective setting with where it came from', async () => {
    await control(packaged.info.control, 'PUT', '/environment-variables/cosell_DealValueFieldName', {
      value: 'budgetamount',
    });
    try {
      const result = await runDynamicsDoctor(
        connectionOf(packaged),
        parseDynamicsSettings({ displayCheckMark: false }),
      );
      expect(result.lines.filter((l) => !l.ok)).toEqual([]);
      const settings = result.lines.filter((l) => l.check === 'setting').map((l) => l.message);
      expect(settings).toEqual([
        'dealValueField = budgetamount (environment variable (current value))',
        'accountCountryField = address1_country (environment variable (default value))',
        'displayCheckMark = false (config)',
        'syncCoSellOpportunitiesOnly = false (environment variable (default value))',
      ]);
      expect(result.lines.find((l) => l.check === 'currencies')?.message).toMatch(/^base USD; enabled .*EUR/);
    } finally {
      await control(packaged.info.control, 'PUT', '/environment-variables/cosell_DealValueFieldName', {
        value: null,
      });
    }
  });

  it('R22 doctor checks the columns engine.mapping.createDefaults names: a display name is a FAIL with its fix', async () => {
    const result = await runDynamicsDoctor(connectionOf(packaged), parseDynamicsSettings({}), {
      createDefaults: { opportunity: { stepname: 'Call the Microsoft seller', 'Next Step': 'x' }, lead: {} },
    });
    expect(result.lines.filter((l) => l.check === 'mapping')).toEqual([
      expect.objectContaining({
        ok: false,
        message:
          'engine.mapping.createDefaults.opportunity.Next Step: opportunity has no field Next Step the integration user can see.',
        fix: expect.stringContaining('API / logical name'),
      }),
    ]);
  });

  it('R8 doctor checks the decision column exists on opportunity', async () => {
    const decision = async (field: string) =>
      (
        await runDynamicsDoctor(
          connectionOf(packaged),
          parseDynamicsSettings({ decision: { field, accept: 100000000, decline: 100000001 } }),
        )
      ).lines.find((l) => l.check === 'decision');
    expect(await decision('new_cosell_decision')).toMatchObject({
      ok: false,
      message:
        'crm.decision.field: opportunity has no field new_cosell_decision the integration user can see.',
    });
    expect(await decision('stepname')).toMatchObject({ ok: true });
  });

  it('R22 doctor checks the choice values the config maps, not the shipped ones the environment renumbered', async () => {
    const shipped = Object.entries(ASSISTANCE_CHOICES).map(([code, value]) => ({ value, label: code }));
    const setOptions = (options: { value: number; label: string }[]) =>
      control(packaged.info.control, 'PUT', '/setup/choices/cosell_howcanmicrosofthelp', { options });
    await setOptions(
      shipped.map((o) => (o.value === 100000002 ? { value: 100000010, label: 'PoC / demo' } : o)),
    );
    try {
      const failures = async (values: object) =>
        (await runDynamicsDoctor(connectionOf(packaged), parseDynamicsSettings({ values }))).lines
          .filter((l) => !l.ok)
          .map((l) => l.message);
      expect((await failures({})).join('\n')).toContain(
        'Choice cosell_howcanmicrosofthelp has no option 100000002',
      );
      expect(await failures({ assistance: { ProofOfConceptOrDemo: 100000010 } })).toEqual([]);
    } finally {
      await setOptions(shipped);
    }
  });

  it('R28 names the missing security role of the application user, with the fix', async () => {
    await control(packaged.info.control, 'PUT', '/users/application/roles', { roles: ['Salesperson'] });
    try {
      const result = await runDynamicsDoctor(connectionOf(packaged), parseDynamicsSettings({}));
      const role = result.lines.find((l) => l.check === 'role');
      expect(role).toMatchObject({ ok: false });
      expect(role?.message).toMatch(
        /has only Salesperson; cosell needs System Administrator or System Customizer/,
      );
      expect(role?.fix).toMatch(/Application users/);
    } finally {
      await control(packaged.info.control, 'PUT', '/users/application/roles', {
        roles: ['System Administrator'],
      });
    }
  });

  it('R18 provision writes the solution the emulator loads and prints the pac commands', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cosell-provision-d365-'));
    try {
      const out = path.join(dir, 'solution');
      let text = '';
      await runProvision(
        { crm: 'dynamics', out, targetOrg: 'https://contoso.crm.dynamics.com' },
        (t) => (text += t),
      );
      expect(text).toContain(`pac solution pack --folder ${out} --zipfile cosell-solution.zip`);
      expect(text).toContain('pac auth create --environment https://contoso.crm.dynamics.com');
      expect(await readSolution(out)).toEqual(await readSolution());
      expect((await readdir(out)).sort()).toEqual([
        'Entities',
        'OptionSets',
        'Other',
        'environmentvariabledefinitions',
      ]);
      await expect(runProvision({ crm: 'dynamics', out }, () => {})).rejects.toThrow(
        /already holds a solution/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the Dynamics 365 adapter', () => {
  it('R21 environment variables change what the adapter writes: the deal value goes to the named column, no check mark', async () => {
    const ui = (method: string, p: string, body?: unknown) => control(packaged.info.control, method, p, body);
    await ui('PUT', '/environment-variables/cosell_DealValueFieldName', { value: 'budgetamount' });
    await ui('PUT', '/environment-variables/cosell_DisplayCheckMarkInOpportunityName', { value: 'no' });
    try {
      const adapter = await connect(packaged);
      const { id } = await adapter.createDeal(deal({ fields: { name: 'Env var deal', value: 7_777 } }), {
        mark: 'ok',
      });
      const row = (await ui('GET', `/ui/opportunities/${id}`)) as Record<string, unknown>;
      expect(row).toMatchObject({ name: 'Env var deal', budgetamount: 7_777, estimatedvalue: null });
      expect((await adapter.findDeal({ kind: 'opportunity', id }))?.value).toBe(7_777);
    } finally {
      await ui('PUT', '/environment-variables/cosell_DealValueFieldName', { value: null });
      await ui('PUT', '/environment-variables/cosell_DisplayCheckMarkInOpportunityName', { value: null });
    }
  });

  it('R5 R21 reads and writes the country as a two-letter code, reads country names too, and matches accounts by name and postal code', async () => {
    const adapter = await connect(packaged);
    const accountId = String(
      (
        (await control(packaged.info.control, 'POST', '/ui/accounts', {
          name: "O'Brien & Sons",
          address1_postalcode: '02134',
          address1_country: 'United States',
        })) as Record<string, unknown>
      ).accountid,
    );
    const created = await adapter.createDeal(
      deal({ account: { name: "O'Brien & Sons", address: { postalCode: '02134', country: 'US' } } }),
    );
    expect(created.accountId).toBe(accountId);
    expect(created.accountCreated).toBe(false);
    const found = await adapter.findDeal({ kind: 'opportunity', id: created.id });
    expect(found?.account?.address.country).toBe('US');
  });

  it('R27 a 429 storm with Retry-After: the run succeeds and concurrency never exceeds the cap', async () => {
    const adapter = await connect(packaged, {}, 3);
    await adapter.probe();
    await control(packaged.info.control, 'PUT', '/limits', {});
    await control(packaged.info.control, 'POST', '/faults', {
      status: 429,
      retryAfter: 1,
      count: 6,
      path: '/$batch',
    });
    const results = await Promise.all(Array.from({ length: 6 }, () => adapter.createDeal(deal())));
    expect(results.every((r) => r.created)).toBe(true);
    const limits = (await control(packaged.info.control, 'GET', '/limits')) as { peakConcurrency: number };
    expect(limits.peakConcurrency).toBeLessThanOrEqual(3);
    expect(await control(packaged.info.control, 'GET', '/faults')).toEqual([]);
  });

  it('R4 hostile strings (quotes, OData operators) in names and referral ids are escaped, never interpreted', async () => {
    const adapter = await connect(packaged);
    const referralId = "x' or cosell_referralidentifier ne null or 'a'='a";
    const input = deal({
      referralId,
      account: { name: "Eve' or name ne '", address: { postalCode: "1' or '1'='1", country: 'US' } },
    });
    const first = await adapter.createDeal(input);
    const again = await adapter.createDeal(input);
    expect(again).toMatchObject({ id: first.id, created: false });
    const found = await adapter.findDeal({ kind: 'opportunity', referralId });
    expect(found).toMatchObject({ id: first.id, referralId, account: { name: "Eve' or name ne '" } });
  });

  it('R25 a change set Dataverse refuses is rolled back and the error names the record and the reason', async () => {
    const adapter = await connect(packaged);
    const input = deal({ ownerId: '00000000-0000-4000-8000-00000000dead' });
    const error = await adapter.createDeal(input).catch((e: unknown) => e);
    expect(error).toMatchObject({
      crm: 'dynamics',
      status: 404,
      record: input.referralId,
      message: expect.stringMatching(
        /create deal on .* failed \(HTTP 404 0x80040217\): systemuser With Id = 00000000-0000-4000-8000-00000000dead Does Not Exist/,
      ),
    });
    // Nothing of the change set stayed: no account, no opportunity.
    expect(await adapter.findDeal({ kind: 'opportunity', referralId: input.referralId })).toBeNull();
    const accounts = (await control(
      packaged.info.control,
      'GET',
      `/ui/accounts?$filter=${encodeURIComponent(`name eq '${input.account!.name}'`)}`,
    )) as { value: unknown[] };
    expect(accounts.value).toEqual([]);
  });

  it('R26 Entra answering 503 for the Dataverse token is not taken for bad credentials: the client is still made, and its calls say Entra is unavailable', async () => {
    const { control: controlUrl } = packaged.info;
    await control(controlUrl, 'POST', '/faults', { path: '/oauth2/v2.0/token', status: 503, count: 10_000 });
    try {
      const unavailable = await connect(packaged);
      const error = await unavailable.probe().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CrmError);
      expect(error).toMatchObject({ retryable: true, operation: 'token' });
      expect((error as CrmError).authFailed).toBeFalsy();
      expect((error as CrmError).message).toMatch(/Entra gave no token .* looks unavailable/);
      expect((error as CrmError).fix).not.toMatch(/secret or certificate/);
    } finally {
      await control(controlUrl, 'DELETE', '/faults');
    }
  });

  it('R3 signs in with a certificate registered on the app registration (client assertion), and is refused with a clear error without one', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const forge = (await import('node-forge')).default;
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
    cert.serialNumber = '01';
    cert.validity.notBefore = new Date(Date.now() - 86_400_000);
    cert.validity.notAfter = new Date(Date.now() + 86_400_000);
    cert.setSubject([{ name: 'commonName', value: 'cosell' }]);
    cert.setIssuer([{ name: 'commonName', value: 'cosell' }]);
    cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
    const certificate = forge.pki.certificateToPem(cert);
    const info = packaged.info;
    const connection = dynamicsConnectionSchema.parse({
      url: info.url,
      tenantId: info.tenantId,
      authorityHost: info.authorityHost,
      auth: { grant: 'certificate', clientId: info.clientId, privateKey, certificate },
    });
    await expect(DynamicsAdapter.connect(connection, {}, noWait)).rejects.toMatchObject({
      authFailed: true,
      message: expect.stringMatching(/Entra refused a token .*No certificate is registered/),
    });
    await control(info.control, 'PUT', '/app-certificate', { pem: certificate });
    const adapter = await DynamicsAdapter.connect(connection, {}, noWait);
    await adapter.probe();
  });

  it('R26 an expired change-tracking token restarts the feed with a full read instead of failing; an expired access token is renewed', async () => {
    const adapter = await connect(packaged);
    const { id } = await adapter.createDeal(deal());
    const first = await adapter.listChangedDeals(null, { overlapMs: 0 });
    await control(packaged.info.control, 'POST', '/clock', { advanceMs: 8 * 86_400_000 });
    await control(packaged.info.control, 'PATCH', `/ui/opportunities/${id}`, {
      description: 'after a long outage',
    });
    const page = await adapter.listChangedDeals(first.cursor, { overlapMs: 0 });
    expect(page.changes).toContainEqual(expect.objectContaining({ id, reason: 'deal' }));
    expect(page.cursor).not.toBe(first.cursor);
  });

  it('R26 R27 an idle poll of the change feed is one Dataverse call: every delta link in one $batch', async () => {
    const adapter = await connect(packaged);
    const first = await adapter.listChangedDeals(null, { overlapMs: 0 });
    await control(packaged.info.control, 'DELETE', '/calls');
    const idle = await adapter.listChangedDeals(first.cursor, { overlapMs: 0 });
    expect(idle.changes).toEqual([]);
    const calls = (await control(packaged.info.control, 'GET', '/calls')) as {
      byEndpoint: Record<string, number>;
    };
    expect(calls.byEndpoint).toEqual({ 'POST /$batch': 1 });
  });

  it('R25 R5 reading a deal with its account, two contacts and a solution is one Dataverse call (nested $expand)', async () => {
    const adapter = await connect(packaged);
    const contacts = [
      { firstName: 'Lin', lastName: 'Chen', email: `lin.read${seq}@d365.example` },
      { firstName: 'Ana', lastName: 'Ruiz', email: `ana.read${seq}@d365.example` },
    ];
    const { id } = await adapter.createDeal(deal({ contacts }));
    await adapter.findDeal({ kind: 'opportunity', id }); // warm: currencies are read once per adapter
    await control(packaged.info.control, 'DELETE', '/calls');
    const read = await adapter.findDeal({ kind: 'opportunity', id });
    const calls = (await control(packaged.info.control, 'GET', '/calls')) as {
      byEndpoint: Record<string, number>;
    };
    expect(calls.byEndpoint).toEqual({ 'GET /opportunities({id})': 1 });
    expect(read?.account?.name).toMatch(/^D365 account/);
    expect(read?.contacts.map((c) => c.email)).toEqual(contacts.map((c) => c.email));
    expect(read?.solutions).toEqual([expect.objectContaining({ id: 'SOL-D365-1' })]);
  });

  it('R25 a create costs two Dataverse calls and an update one, from the emulator counters', async () => {
    const adapter = await connect(packaged);
    await adapter.createDeal(deal()); // warm: settings, currencies and column lengths are read once per adapter
    await control(packaged.info.control, 'DELETE', '/calls');
    const { id } = await adapter.createDeal(deal(), { auditLine: 'created', mark: 'ok' });
    const afterCreate = (await control(packaged.info.control, 'GET', '/calls')) as {
      apiCalls: number;
      byEndpoint: Record<string, number>;
    };
    const current = (await adapter.findDeal({ kind: 'opportunity', id }))!;
    await control(packaged.info.control, 'DELETE', '/calls');
    await adapter.updateDeal(current, { fields: { value: 9_000, notes: 'n2' } }, { auditLine: 'updated' });
    const afterUpdate = (await control(packaged.info.control, 'GET', '/calls')) as {
      apiCalls: number;
      byEndpoint: Record<string, number>;
    };
    process.stdout.write(
      `[measure] Dataverse calls: create ${afterCreate.apiCalls} ${JSON.stringify(afterCreate.byEndpoint)}; update ${afterUpdate.apiCalls} ${JSON.stringify(afterUpdate.byEndpoint)}\n`,
    );
    expect(afterCreate.byEndpoint).toEqual({ 'POST /$batch': 2 });
    expect(afterUpdate.byEndpoint).toEqual({ 'PATCH /opportunities({id})': 1 });
  });
});
