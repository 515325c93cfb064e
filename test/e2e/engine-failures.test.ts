// The engine's failure paths over real HTTP, as a CRM admin sees them: a Partner Center outage is retried with
// backoff and then dead-lettered (run, Audit field, ✖) until a resubmit; a 429 with Retry-After is waited out,
// not dropped; a refused change fails at once; revoked credentials pause the work instead of failing it; and a
// referral naming a CRM record that does not exist is ignored.
//
// The engine here gets its own Referrals client that waits inside a call only for a short Retry-After (≤ 0.5 s)
// and hands a longer one to the engine, whose pause is what the run history shows; the harness engine is never
// started (its webhook receiver only stores events and queues jobs, which this engine's worker picks up).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.ts';
import { ReferralsClient } from '../../src/partner-center/referrals.ts';
import type { Job, Link, Run, Store } from '../../src/store/store.ts';
import { until } from '../helpers/until.ts';
import type { CrmDesk } from './crm-desk.ts';
import {
  CRMS,
  countOf,
  type Harness,
  pcControl,
  quiet as quietEngine,
  startHarness,
  TEST_ENGINE_SETTINGS,
} from './engine-harness.ts';

const MAX_ATTEMPTS = 3;
const RETRY = { maxAttempts: MAX_ATTEMPTS, baseDelayMs: 40, maxDelayMs: 160, maxRetryAfterMs: 5_000 };
const PATCH = 'PATCH /v1.0/engagements/referrals';
const POST = 'POST /v1.0/engagements/referrals';

describe.each(CRMS)('engine failure paths on $crm (over HTTP)', ({ crm }) => {
  let h: Harness;
  let pc: ReturnType<typeof pcControl>;
  let seller: CrmDesk;
  let engine: Engine;
  let store: Store;
  /** For each failed run, the job's scheduled next run as the store had it right after the run. */
  const scheduled = new Map<number, Date>();

  beforeAll(async () => {
    h = await startHarness({ ...TEST_ENGINE_SETTINGS, retry: RETRY, credentialPauseMs: 100 }, { crm });
    pc = pcControl(h);
    seller = h.desk;
    const referrals = new ReferralsClient({
      baseUrl: h.pc.info.referrals,
      tokens: h.tokens,
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 500 },
      sleep: async () => {},
    });
    ({ engine, store } = await h.newEngine({ referrals }));
    engine.events.on('run', (run: Run) => {
      if (run.outcome !== 'failed' || run.linkId === null) return;
      // The link's pending job: a hint that arrived during the run (the echo of the "retrying" audit line) holds
      // the retry, with the attempts so far.
      void (async () => {
        const own = run.jobId === null ? null : await store.getJob(run.jobId);
        const job =
          own ??
          (await store.listJobs({ state: ['pending', 'running', 'dead', 'failed'], limit: 1000 }))
            .filter((j) => j.linkId === run.linkId)
            .sort((a, b) => a.id - b.id)
            .at(-1);
        if (job) scheduled.set(run.id, job.nextRunAt);
      })();
    });
    await engine.start();
  });
  // A failed test must not leave its faults to the next one.
  afterEach(async () => {
    await clearFaults();
  });
  afterAll(async () => {
    await engine?.stop();
    await h?.close();
  });

  const fault = (spec: Record<string, unknown>) => pc.fault(spec);
  const clearFaults = () => pc.clearFaults();

  /** A seller's co-sell opportunity, shared and synced: its referral exists and ✔ is on the name. */
  async function sharedOpportunity(): Promise<{ opportunityId: string; referralId: string; link: Link }> {
    const { opportunityId } = await seller.opportunity();
    const referralId = await until(
      async () => {
        const o = await opportunity(opportunityId);
        return o.name.endsWith('✔') ? o.referralId : null;
      },
      10_000,
      'the shared opportunity synced with ✔',
    );
    await quiet();
    const link = (await store.linkByCrm(crm, opportunityId)) as Link;
    return { opportunityId, referralId, link };
  }

  const opportunity = (id: string) => seller.read(id);
  const nameOf = async (id: string) => (await opportunity(id)).name;

  const quiet = () => quietEngine(store);

  /** Runs of a link started at or after `since`, oldest first. */
  async function runsOf(linkId: number, since: Date): Promise<Run[]> {
    const page = await store.listRuns({ linkId, since, limit: 500 });
    return page.runs.slice().sort((a, b) => a.id - b.id);
  }

  const jobsOf = (linkId: number) => store.listJobs({ linkId, limit: 100 });

  it('R25 R19 a Partner Center outage: the record says it is retrying after the first failure; the edit is retried with backoff, dead-lettered with the error on the run, one audit line and ✖; resubmit after the outage lands it with ✔', async () => {
    const { opportunityId, referralId, link } = await sharedOpportunity();
    const auditBefore = await seller.auditLines(opportunityId);
    const patchesBefore = countOf(await pc.calls(), PATCH);

    // More 500s than the engine has attempts: the outage outlasts the retries.
    await fault({
      method: 'PATCH',
      path: '/v1.0/engagements/referrals',
      status: 500,
      count: MAX_ATTEMPTS + 2,
    });
    const editedAt = new Date();
    await seller.edit(opportunityId, { value: 135_000 });

    const dead = (await until(
      async () => (await jobsOf(link.id)).find((j) => j.state === 'dead'),
      10_000,
      'the dead-lettered job',
    )) as Job;
    expect(dead.attempts).toBe(MAX_ATTEMPTS);
    expect(dead.lastError).toMatch(/Partner Center refused the change \(500 /);
    await until(async () => (await nameOf(opportunityId)).endsWith('✖'), 5_000, 'the ✖');
    await quiet();

    // Exactly the engine's attempts reached Partner Center: no more after the dead letter, none from the echo
    // of our own ✖ write.
    expect(countOf(await pc.calls(), PATCH) - patchesBefore).toBe(MAX_ATTEMPTS);
    const all = await runsOf(link.id, editedAt);
    const runs = all.filter((r) => r.error !== null);
    expect(runs.map((r) => r.outcome)).toEqual(['failed', 'failed', 'dead']);
    // The only other runs are the echo of our ✖ write, skipped without a call to Partner Center.
    for (const echo of all.filter((r) => r.error === null)) {
      expect(echo).toMatchObject({ outcome: 'skipped', direction: 'none' });
      expect(echo.id).toBeGreaterThan(runs[2]!.id);
    }
    for (const run of runs) {
      expect(run.error?.message).toMatch(
        /Partner Center refused the change \(500 generalException\): The service is temporarily unavailable/,
      );
    }
    expect(runs[2]!.error?.fix).toMatch(/Partner Center answered 500/);
    // Backoff: each retry was scheduled after its failure, within the policy's cap, and did not start earlier.
    for (let i = 0; i < runs.length - 1; i++) {
      const failedRun = runs[i]!;
      const next = scheduled.get(failedRun.id);
      expect(next, `scheduled retry after run ${i + 1}`).toBeDefined();
      const failedAt = failedRun.startedAt.getTime() + failedRun.durationMs;
      expect(next!.getTime()).toBeGreaterThanOrEqual(failedRun.startedAt.getTime());
      expect(next!.getTime() - failedAt).toBeLessThanOrEqual(RETRY.baseDelayMs * 2 ** i + 50);
      expect(runs[i + 1]!.startedAt.getTime()).toBeGreaterThanOrEqual(next!.getTime());
    }

    // What the admin sees on the record: after the first failed attempt one line saying it is being retried (no
    // ✖ yet); once dead-lettered ✖ and one line with the error and its fix; the referral as before.
    const audit = await seller.auditLines(opportunityId);
    expect(audit).toHaveLength(auditBefore.length + 2);
    expect(audit.at(-2)).toMatch(/CRM->PC: not synced yet, retrying \(next try .* UTC, up to 3 attempts\)/);
    expect(audit.at(-1)).toMatch(/CRM->PC ✖ Partner Center refused the change \(500 generalException\)/);
    expect(audit.at(-1)).toMatch(/Fix: Partner Center answered 500/);
    expect((await pc.referral(referralId)).details?.dealValue).toBe(120_000);
    expect(engine.pausedApis()).toEqual([]);

    // The outage ends; the admin resubmits everything that failed (R25).
    await clearFaults();
    expect(await engine.resubmit({ allFailed: true })).toBe(1);
    await until(
      async () => (await pc.referral(referralId)).details?.dealValue === 135_000,
      10_000,
      'the edit in Partner Center',
    );
    await until(async () => (await nameOf(opportunityId)).endsWith('✔'), 5_000, 'the ✔ again');
    await quiet();
    const after = await seller.auditLines(opportunityId);
    expect(after).toHaveLength(audit.length + 1);
    expect(after.at(-1)).toMatch(/CRM->PC: deal value 120000 -> 135000/);
    expect((await jobsOf(link.id)).filter((j) => j.state === 'dead' || j.state === 'failed')).toEqual([]);
    expect((await runsOf(link.id, editedAt)).at(-1)?.outcome).toBe('unchanged');
  });

  it('R27 a 429 with Retry-After is honoured: the job waits the asked second, then the change lands', async () => {
    const { opportunityId, referralId, link } = await sharedOpportunity();
    const patchesBefore = countOf(await pc.calls(), PATCH);
    const pausedAtThrottle: ReturnType<Engine['pausedApis']>[] = [];
    const onRun = (run: Run) => {
      if (run.linkId === link.id && run.error) pausedAtThrottle.push(engine.pausedApis());
    };
    engine.events.on('run', onRun);
    try {
      await fault({
        method: 'PATCH',
        path: '/v1.0/engagements/referrals',
        status: 429,
        retryAfter: 1,
        count: 1,
      });
      const editedAt = new Date();
      await seller.edit(opportunityId, { notes: 'Throttled, then delivered.' });
      await until(
        async () => (await pc.referral(referralId)).details?.notes === 'Throttled, then delivered.',
        10_000,
        'the notes in Partner Center',
      );
      await quiet();

      const runs = await runsOf(link.id, editedAt);
      const throttled = runs.filter((r) => r.error !== null);
      expect(throttled).toHaveLength(1);
      expect(throttled[0]!.error?.message).toMatch(/\(429 tooManyRequests\): Rate limit is exceeded/);
      // The throttled attempt neither failed the job nor used it up: the same job ran again.
      expect(throttled[0]!.outcome).not.toMatch(/failed|dead/);
      const landed = runs.find((r) => r.outcome === 'changed');
      expect(landed?.jobId).toBe(throttled[0]!.jobId);
      const waitedMs = landed!.startedAt.getTime() - throttled[0]!.startedAt.getTime();
      expect(waitedMs).toBeGreaterThanOrEqual(1_000);
      expect(waitedMs).toBeLessThan(4_000);
      const job = (await store.getJob(landed!.jobId!)) as Job;
      // The throttled claim was given back: only the run that landed counts as an attempt.
      expect(job).toMatchObject({ state: 'succeeded', attempts: 1 });
      // While throttled, the dashboard shows Partner Center paused for the asked second.
      expect(pausedAtThrottle[0]?.map((p) => p.api)).toEqual(['partner-center']);
      expect(countOf(await pc.calls(), PATCH) - patchesBefore).toBe(2);
      expect(await nameOf(opportunityId)).toMatch(/✔$/);
      expect((await seller.auditLines(opportunityId)).join('\n')).not.toMatch(/✖/);
    } finally {
      engine.events.off('run', onRun);
    }
  });

  it('R27 a throttling storm does not use up the retries: a transient error right after it is still retried', async () => {
    const { opportunityId, referralId, link } = await sharedOpportunity();
    // As many 429s as the retry limit, then one 500: only the 500 is a real failed attempt.
    await fault({
      method: 'PATCH',
      path: '/v1.0/engagements/referrals',
      status: 429,
      retryAfter: 1,
      count: MAX_ATTEMPTS,
    });
    await fault({ method: 'PATCH', path: '/v1.0/engagements/referrals', status: 500, count: 1 });
    const editedAt = new Date();
    await seller.edit(opportunityId, { notes: 'Delivered after the storm.' });
    await until(
      async () => (await pc.referral(referralId)).details?.notes === 'Delivered after the storm.',
      20_000,
      'the notes in Partner Center after the storm',
    );
    await quiet();

    const runs = await runsOf(link.id, editedAt);
    expect(runs.filter((r) => r.error !== null)).toHaveLength(MAX_ATTEMPTS + 1);
    expect(runs.map((r) => r.outcome)).not.toContain('dead');
    expect(await store.listJobs({ linkId: link.id, state: ['failed', 'dead'] })).toEqual([]);
    expect(await nameOf(opportunityId)).toMatch(/✔$/);
    expect((await seller.auditLines(opportunityId)).join('\n')).not.toMatch(/✖/);
  });

  it('R17 a change to a closed referral fails at once: no retry, nothing sent, the Partner Center rule on the Audit field, ✖', async () => {
    const { opportunityId, referralId, link } = await sharedOpportunity();
    await seller.win(opportunityId);
    await until(async () => (await pc.referral(referralId)).substatus === 'Won', 10_000, 'Closed/Won');
    await until(async () => (await nameOf(opportunityId)).endsWith('✔'), 5_000, 'the ✔ after closing');
    await quiet();
    const auditBefore = await seller.auditLines(opportunityId);
    const patchesBefore = countOf(await pc.calls(), PATCH);

    const editedAt = new Date();
    await seller.edit(opportunityId, { value: 1 });
    await until(async () => (await nameOf(opportunityId)).endsWith('✖'), 10_000, 'the ✖');
    await quiet();

    expect(countOf(await pc.calls(), PATCH) - patchesBefore).toBe(0);
    const all = await runsOf(link.id, editedAt);
    const runs = all.filter((r) => r.error !== null);
    expect(runs.map((r) => r.outcome)).toEqual(['failed']);
    expect(runs[0]!.error?.message).toMatch(/is closed .* accepts no further changes/);
    expect(all.filter((r) => r.error === null).every((r) => r.outcome === 'skipped')).toBe(true);
    // The job ran once and stays failed: never scheduled again, never dead-lettered.
    expect(await store.getJob(runs[0]!.jobId!)).toMatchObject({ state: 'failed', attempts: 1 });
    const audit = await seller.auditLines(opportunityId);
    expect(audit).toHaveLength(auditBefore.length + 1);
    expect(audit.at(-1)).toMatch(/CRM->PC ✖ .*is closed .* accepts no further changes/);
    expect((await pc.referral(referralId)).details?.dealValue).toBe(120_000);
  });

  it('R17 a Partner Center 400 fails at once: one PATCH, job failed, Partner Center message on the Audit field, ✖', async () => {
    const { opportunityId, referralId, link } = await sharedOpportunity();
    const auditBefore = await seller.auditLines(opportunityId);
    const patchesBefore = countOf(await pc.calls(), PATCH);
    await fault({ method: 'PATCH', path: '/v1.0/engagements/referrals', status: 400, count: 1 });

    const editedAt = new Date();
    await seller.edit(opportunityId, { closeDate: '2027-12-31' });
    await until(async () => (await nameOf(opportunityId)).endsWith('✖'), 10_000, 'the ✖');
    await quiet();

    expect(countOf(await pc.calls(), PATCH) - patchesBefore).toBe(1);
    const all = await runsOf(link.id, editedAt);
    const runs = all.filter((r) => r.error !== null);
    expect(runs.map((r) => r.outcome)).toEqual(['failed']);
    expect(all.filter((r) => r.error === null).every((r) => r.outcome === 'skipped')).toBe(true);
    expect(runs[0]!.error?.message).toMatch(
      /Partner Center refused the change \(400 invalidRequest\): Request refused \(fault injected by the emulator, HTTP 400\)/,
    );
    expect(await store.getJob(runs[0]!.jobId!)).toMatchObject({ state: 'failed', attempts: 1 });
    const audit = await seller.auditLines(opportunityId);
    expect(audit).toHaveLength(auditBefore.length + 1);
    expect(audit.at(-1)).toMatch(/CRM->PC ✖ Partner Center refused the change \(400 invalidRequest\)/);
    expect(audit.at(-1)).toMatch(/Fix: Partner Center rejected the request as invalid/);
    expect(audit.at(-1)).not.toMatch(/\.\./);
    expect((await pc.referral(referralId)).details?.closingDateTime?.slice(0, 10)).toBe('2027-06-30');
  });

  it("R19 R25 after a restart, the echo of a failure's own ✖ still finds the link unchanged: not tried again until something changes", async () => {
    const { opportunityId, referralId, link } = await sharedOpportunity();
    await fault({ method: 'PATCH', path: '/v1.0/engagements/referrals', status: 400, count: 1 });
    await seller.edit(opportunityId, { notes: 'Refused once' });
    await until(async () => (await nameOf(opportunityId)).endsWith('✖'), 10_000, 'the ✖');
    await quiet();
    const patchesBefore = countOf(await pc.calls(), PATCH);

    // A restarted service (nothing in memory) gets the change-feed hint of the ✖ write.
    await engine.stop();
    const referrals = new ReferralsClient({
      baseUrl: h.pc.info.referrals,
      tokens: h.tokens,
      sleep: async () => {},
    });
    const restarted = await h.newEngine({ referrals });
    try {
      await restarted.engine.start();
      const hintedAt = new Date();
      await restarted.store.enqueueJob(link.id, 'crm-poll', hintedAt);
      const [run] = await until(
        async () => {
          const found = await runsOf(link.id, hintedAt);
          return found.length > 0 ? found : null;
        },
        10_000,
        'the run of the hint',
      );
      expect(run).toMatchObject({ outcome: 'skipped', error: null });
      expect(countOf(await pc.calls(), PATCH)).toBe(patchesBefore);
      expect(await nameOf(opportunityId)).toMatch(/✖$/);

      // Something really changes: the seller edits again, and the sync goes through.
      await seller.edit(opportunityId, { notes: 'Second try' });
      await until(
        async () => (await pc.referral(referralId)).details?.notes === 'Second try',
        10_000,
        'the new edit in Partner Center',
      );
      await until(async () => (await nameOf(opportunityId)).endsWith('✔'), 10_000, 'the ✔');
    } finally {
      await restarted.engine.stop();
      await engine.start();
    }
  });

  it("R16 a referral naming a CRM id that does not exist is ignored: logged, run 'skipped', no CRM record created", async () => {
    const count = async () => Object.keys(await seller.snapshot()).length;
    const before = await count();
    const missing = seller.missingOpportunityId;
    const writesBefore = countOf(await pc.calls(), PATCH) + countOf(await pc.calls(), POST);
    const referral = await pc.sendIncoming({ name: 'Orphan referral', externalReferenceId: missing });
    const id = String(referral.id);

    const link = (await until(() => store.linkByReferral(id), 10_000, 'the link of the referral')) as Link;
    const run = await until(
      async () => (await runsOf(link.id, new Date(0))).find((r) => r.referralId === id),
      10_000,
      'the run of the referral',
    );
    await quiet();
    expect(run.outcome).toBe('skipped');
    // The run history says why, for the admin who wonders where the referral went.
    expect(run.error?.message).toMatch(
      new RegExp(`names CRM record ${missing} .* does not exist in the CRM`),
    );
    expect(run.error?.fix).toMatch(/Correct the referral's externalReferenceId/);
    expect(await count()).toBe(before);
    expect(await seller.withReferral(id)).toHaveLength(0);
    expect((await pc.referral(id)).externalReferenceId).toBe(missing);
    expect(countOf(await pc.calls(), PATCH) + countOf(await pc.calls(), POST)).toBe(writesBefore);
    // Ignored, not failed: nothing for an admin to resubmit.
    expect((await jobsOf(link.id)).filter((j) => j.state === 'failed' || j.state === 'dead')).toEqual([]);
  });

  // Last: it signs the engine out of Partner Center.
  it('R3 R26 revoked credentials are a circuit: work pauses without dead letters or ✖, names `cosell login`, and resumes by itself after a new login', async () => {
    const { opportunityId, referralId: ourReferral, link: ourLink } = await sharedOpportunity();
    const incoming = await pc.sendIncoming({
      name: 'Credentials pause deal',
      details: { dealValue: 7_000, currency: 'USD' },
    });
    const incomingId = String(incoming.id);
    const deal = await until(
      () => h.crm.findDeal({ kind: 'opportunity', referralId: incomingId }),
      10_000,
      'the incoming deal',
    );
    await until(
      async () => (await pc.referral(incomingId)).externalReferenceId === deal.id,
      5_000,
      'externalReferenceId',
    );
    await quiet();
    const theirLink = (await store.linkByReferral(incomingId)) as Link;
    const auditBefore = {
      ours: await seller.auditLines(opportunityId),
      theirs: await seller.auditLines(deal.id),
    };

    const crossed = async () =>
      Object.entries(await seller.opportunityNames())
        .filter(([, name]) => name.endsWith('✖'))
        .map(([id]) => id)
        .sort();
    const crossedBefore = await crossed();
    const failedJobs = async () =>
      (await store.listJobs({ state: ['failed', 'dead'], limit: 1000 })).filter(
        (j) => j.linkId === ourLink.id || j.linkId === theirLink.id,
      );
    const revokedAt = new Date();
    const listsAtRevoke = (await pc.calls())['GET /v1.0/engagements/referrals'];
    const response = await fetch(`${h.pc.info.control}/tokens/revoke`, { method: 'POST' });
    expect(response.status).toBe(200);

    // Changes on both sides while signed out: a seller's edit, a Microsoft seller's edit.
    await seller.edit(opportunityId, { value: 99_000 });
    await pc.editAsMicrosoft(incomingId, { details: { dealValue: 8_000 } });
    const paused = await until(
      () => engine.pausedApis().find((p) => p.api === 'partner-center'),
      10_000,
      'the Partner Center circuit to open',
    );
    expect(paused.reason).toBe('credentials');
    expect(paused.fix).toMatch(/cosell login/);
    // Both links wait with their job pending, and keep waiting while the probes are refused.
    await until(
      async () => {
        const pending = await store.listJobs({ state: 'pending' });
        return [ourLink.id, theirLink.id].every((id) => pending.some((j) => j.linkId === id));
      },
      10_000,
      'both links waiting',
    );
    // Probes (one list read each) keep being refused, the pause doubling each time — more of them than a job
    // has attempts, and without claiming the waiting jobs (a claim counts an attempt).
    const LIST = 'GET /v1.0/engagements/referrals';
    await until(
      async () => ((await pc.calls())[LIST] ?? 0) - (listsAtRevoke ?? 0) >= MAX_ATTEMPTS,
      10_000,
      'refused probes',
    );
    for (const job of await store.listJobs({ state: 'pending' })) expect(job.attempts).toBeLessThanOrEqual(1);
    const whilePaused = [
      ...(await runsOf(ourLink.id, revokedAt)),
      ...(await runsOf(theirLink.id, revokedAt)),
    ];
    expect(whilePaused.filter((r) => r.outcome === 'failed' || r.outcome === 'dead')).toEqual([]);
    expect(await failedJobs()).toEqual([]);
    // No ✖ storm: not one more record crossed (earlier tests left theirs).
    expect(await crossed()).toEqual(crossedBefore);
    expect(await seller.auditLines(opportunityId)).toEqual(auditBefore.ours);
    expect(await seller.auditLines(deal.id)).toEqual(auditBefore.theirs);

    // The admin runs `cosell login` again; the paused work completes by itself — even through one transient
    // Partner Center error right after, since waiting for credentials used up none of the job's retries.
    await fault({ method: 'PATCH', path: '/v1.0/engagements/referrals', status: 500, count: 1 });
    await h.tokens.login({ onDeviceCode: () => {} });
    await until(
      async () => (await pc.referral(ourReferral)).details?.dealValue === 99_000,
      10_000,
      "the seller's edit in Partner Center",
    );
    await until(
      async () => (await h.crm.findDeal({ kind: 'opportunity', referralId: incomingId }))?.value === 8_000,
      10_000,
      "the Microsoft seller's edit in the CRM",
    );
    await quiet();
    expect(engine.pausedApis()).toEqual([]);
    expect(await nameOf(opportunityId)).toMatch(/✔$/);
    expect(await nameOf(deal.id)).toMatch(/✔$/);
    // One line for the edit, no ✖; the transient error after the login may add one "retrying" line before it
    // (whether the engine or the client's own retry absorbs that 500 depends on timing).
    const added = (await seller.auditLines(opportunityId)).slice(auditBefore.ours.length);
    const retrying = added.filter((l) => /not synced yet, retrying/.test(l));
    expect(added.filter((l) => !retrying.includes(l))).toHaveLength(1);
    expect(added.at(-1)).toMatch(/CRM->PC: deal value .* -> 99000/);
    expect(retrying.length).toBeLessThanOrEqual(1);
    expect(added.join('\n')).not.toMatch(/✖/);
    expect(await seller.auditLines(deal.id)).toHaveLength(auditBefore.theirs.length + 1);
    expect(await failedJobs()).toEqual([]);
    expect(await crossed()).toEqual(crossedBefore);
  });
});
