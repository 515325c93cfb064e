// `cosell backfill` as an admin runs it before the first `cosell start`: separate processes for the emulators
// and the CLI, a config file, `cosell login --config`. The command states its scope first, a dry run lists
// and writes nothing, the import prints plain progress lines when piped, and a second run imports nothing.
// Then `cosell reconcile`, the sweep on demand, with and without --dry-run; and `doctor --config` on the webhook
// registration and the clock; `cosell solutions import`.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addCatalogueSolution,
  sendMicrosoftReferral,
  shareSellerOpportunity,
} from '../../src/cli/demo-story.ts';
import { runCli } from '../helpers/cli.ts';
import {
  allReferrals,
  control,
  type Emulators,
  type LoggedIn,
  sfQuery,
  startLoggedIn,
} from './runtime-support.ts';

let emulators: Emulators;
let dir: string;
let configFile: string;
let env: NodeJS.ProcessEnv;
let runtime: LoggedIn | undefined;

beforeAll(async () => {
  runtime = await startLoggedIn('backfill');
  ({ emulators, dir, configFile, env } = runtime);
});

afterAll(async () => {
  await runtime?.stop();
});

const backfill = (...args: string[]) =>
  runCli(['backfill', '--config', configFile, ...args], { env, cwd: dir });

describe('cosell backfill --config against the emulators', () => {
  it('R34 R24 states its scope, a dry run writes nothing, the import syncs both sides once and says so; a bad direction is a usage error', async () => {
    const solutionId = await addCatalogueSolution(emulators.sf.control);
    const referral = await sendMicrosoftReferral(emulators.pc.control);
    await control(emulators.pc.control, 'POST', '/incoming-referrals', {
      name: 'Closed last year',
      status: 'Closed',
      substatus: 'Lost',
    });
    const { opportunityId } = await shareSellerOpportunity(emulators.sf.control, {
      name: 'Woodgrove analytics',
      accountName: 'Woodgrove Bank',
      country: 'US',
      solutionId,
    });

    const usage = await backfill('--direction', 'sideways');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--direction 'sideways' is not one of pc-to-crm, crm-to-pc, both");

    const dry = await backfill('--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    const dryLines = dry.stdout.split('\n');
    expect(dryLines[0]).toBe('cosell backfill (both) takes:');
    expect(dry.stdout).toContain('Partner Center -> Salesforce: open referrals (status New or Active)');
    expect(dry.stdout).toContain('Left out: closed referrals and closed opportunities');
    expect(dry.stdout).toContain(`would import referral ${referral.id} "Contoso Cloud Migration"`);
    expect(dry.stdout).toContain(`would import opportunity ${opportunityId} "Woodgrove analytics"`);
    expect(dry.stdout).toContain('Dry run: 2 records would be imported; nothing was queued or written.');
    expect(
      await sfQuery(
        emulators.sf,
        `SELECT Id FROM Opportunity WHERE Referral_Identifier__c = '${referral.id}'`,
      ),
    ).toEqual([]);

    const run = await backfill();
    expect(run.code, run.stderr).toBe(0);
    // Piped: plain lines, no carriage returns or terminal codes.
    expect(run.stdout.includes('\r') || run.stdout.includes('\u001b[')).toBe(false);
    expect(run.stdout).toMatch(/^Partner Center: 1 listed, 1 to import, 0 already linked$/m);
    expect(run.stdout).toMatch(/^Salesforce: 1 listed, 1 to import, 0 already linked$/m);
    expect(run.stdout).toMatch(/^syncing 2\/2 \(\d+\.\d\/s, ETA 0:00\)$/m);
    expect(run.stdout).toContain('Backfill done: 2 synced, 0 failed.');
    expect(
      await sfQuery(
        emulators.sf,
        `SELECT Id FROM Opportunity WHERE Referral_Identifier__c = '${referral.id}'`,
      ),
    ).toHaveLength(1);
    const outgoing = (await allReferrals(emulators.pc)).filter(
      (r) => r.externalReferenceId === opportunityId,
    );
    expect(outgoing).toHaveLength(1);

    const again = await backfill('--json');
    expect(again.code, again.stderr).toBe(0);
    const summary = JSON.parse(again.stdout) as { queued: number; sides: { alreadyLinked: number }[] };
    expect(summary.queued).toBe(0);
    expect(summary.sides.map((s) => s.alreadyLinked)).toEqual([2, 2]);
  });

  it('R26 R24 `cosell reconcile` catches a change no webhook delivered; --dry-run only says what it would write', async () => {
    const [referral] = (await allReferrals(emulators.pc)).filter((r) => r.name === 'Contoso Cloud Migration');
    const amount = async () =>
      (
        await sfQuery<{ Amount: number }>(
          emulators.sf,
          `SELECT Amount FROM Opportunity WHERE Referral_Identifier__c = '${referral!.id}'`,
        )
      )[0]?.Amount;
    const before = await amount();
    // A Microsoft seller's edit; no webhook is registered, so only the sweep can find it.
    await control(emulators.pc.control, 'PATCH', `/referrals/${referral!.id}`, {
      details: { dealValue: 262_000 },
    });

    const dry = await runCli(['reconcile', '--config', configFile, '--dry-run'], { env, cwd: dir });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^Dry run: \d+ records? to check/m);
    expect(dry.stdout).toMatch(/changed: dealValue/);
    expect(dry.stdout).toMatch(/Dry run done \(nothing written\): 1 would change/);
    expect(await amount()).toBe(before);

    const run = await runCli(['reconcile', '--config', configFile], { env, cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Reconcile done: 1 changed/);
    expect(await amount()).toBe(262_000);

    const again = await runCli(['reconcile', '--config', configFile, '--json'], { env, cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ changed: 0, failed: 0 });
  });

  it('R1 R23 doctor --config reports the webhook registration (another URL is drift, with the --force fix) and the clock', async () => {
    const publicUrl = 'https://cosell.example.com/webhooks/partner-center';
    const text = await readFile(configFile, 'utf8');
    const withUrl = join(dir, 'with-url.yaml');
    await writeFile(withUrl, text.replace('  webhook:\n', `  webhook:\n    publicUrl: ${publicUrl}\n`));
    // The old Power Automate flow still holds the tenant's one registration.
    const old = await runCli(
      ['webhooks', 'register', 'https://prod-12.westus.logic.azure.com/workflows/old', '--config', withUrl],
      { env, cwd: dir },
    );
    expect(old.code, old.stderr).toBe(0);

    const drift = await runCli(['doctor', '--config', withUrl], { env, cwd: dir });
    expect(drift.stdout).toMatch(/FAIL partner-center webhook: .*logic\.azure\.com/);
    expect(drift.stdout).toContain(`cosell webhooks register --config ${withUrl} --force`);
    expect(drift.stdout).toMatch(
      /ok {3}partner-center clock: This machine's clock is \d+ s (ahead of|behind) Partner Center's\./,
    );

    const takeOver = await runCli(['webhooks', 'register', publicUrl, '--config', withUrl, '--force'], {
      env,
      cwd: dir,
    });
    expect(takeOver.code, takeOver.stderr).toBe(0);
    const ours = await runCli(['doctor', '--config', withUrl], { env, cwd: dir });
    expect(ours.stdout).toContain(`ok   partner-center webhook: Registered to ${publicUrl}.`);
  });

  it('R15 `cosell solutions import` names each bad line and writes nothing; --skip-invalid loads the good rows', async () => {
    const file = join(dir, 'solutions.csv');
    await writeFile(file, 'id,name\nSOL-CLI-1,Fabrikam Fabric\nSOL CLI 2,Bad id\n');
    const refused = await runCli(['solutions', 'import', file, '--config', configFile], { env, cwd: dir });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('line 3: the id "SOL CLI 2" has characters');
    expect(refused.stderr).toContain('1 of 2 rows');
    expect(refused.stderr).toContain('nothing was written');
    const loaded = await runCli(['solutions', 'import', file, '--config', configFile, '--skip-invalid'], {
      env,
      cwd: dir,
    });
    expect(loaded.code, loaded.stderr).toBe(0);
    expect(loaded.stdout).toContain('imported 1/1: 1 created, 0 updated, 0 unchanged');
    expect(loaded.stdout).toContain('Done: 1 created, 0 updated, 0 unchanged, 1 invalid rows skipped.');
  });

  it('R34 R27 a record whose first try Salesforce turns away (503 on every attempt) waits for its retry: the backfill says so and exits 0, not "failed"', async () => {
    const referral = await control<{ id: string }>(emulators.pc.control, 'POST', '/incoming-referrals', {
      name: 'Throttled at import',
    });
    // Every attempt at the create gets 503 until the backfill has ended: the job's first try fails with a retry
    // scheduled (and a retry that falls due while the backfill still drains fails the same way).
    await control(emulators.sf.control, 'POST', '/faults', {
      method: 'POST',
      path: '/composite',
      status: 503,
      count: 1_000,
    });
    const run = await backfill('--direction', 'pc-to-crm');
    await control(emulators.sf.control, 'DELETE', '/faults');
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(
      'Backfill done: 0 synced, 0 failed, 1 waiting for a retry (cosell start finishes them).',
    );
    expect(run.stdout).not.toContain('cosell runs --failed');
    expect(
      await sfQuery(
        emulators.sf,
        `SELECT Id FROM Opportunity WHERE Referral_Identifier__c = '${referral.id}'`,
      ),
    ).toEqual([]);
  });
});
