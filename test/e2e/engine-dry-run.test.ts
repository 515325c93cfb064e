// Dry run (R24): the engine reads both sides and records in its run history what it would change, field by
// field, and writes nothing — not to Partner Center, not to the CRM, not even a ✔, ✖ or audit line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../src/store/store.ts';
import { until } from '../helpers/until.ts';
import {
  CRMS,
  countOf,
  crmControl,
  type Harness,
  pcControl,
  startHarness,
  TEST_ENGINE_SETTINGS,
} from './engine-harness.ts';

const WRITE_METHODS = ['POST', 'PATCH', 'PUT', 'DELETE'];

describe.each(CRMS)('dry run on $crm (engine over HTTP)', ({ crm }) => {
  let h: Harness;
  let pc: ReturnType<typeof pcControl>;
  const runs: Run[] = [];

  beforeAll(async () => {
    h = await startHarness({ ...TEST_ENGINE_SETTINGS, dryRun: true }, { crm });
    pc = pcControl(h);
    h.engine.events.on('run', (run: Run) => runs.push(run));
  });
  afterAll(async () => {
    await h?.close();
  });

  /** Every CRM row we might touch, with its change stamp, and every referral with its eTag. */
  async function everything(): Promise<string> {
    const rows = await h.desk.snapshot();
    const referrals = (await pc.all()).map((r) => [r.id, r.eTag, r.externalReferenceId]);
    return JSON.stringify({ rows, referrals });
  }

  /** Partner Center write calls of the Referrals API, by method. */
  async function pcWrites(): Promise<number[]> {
    const calls = await pc.calls();
    return WRITE_METHODS.map((m) => countOf(calls, `${m} /v1.0/engagements/referrals`));
  }

  /** CRM calls that write: anything but reads. A /composite or $batch may carry writes, so it is checked by
   *  state. */
  async function crmWrites(): Promise<string[]> {
    const { byEndpoint } = await crmControl(h).calls();
    return Object.entries(byEndpoint)
      .filter(
        ([key]) => /^(PATCH|PUT|DELETE) /.test(key) || (/^POST /.test(key) && !/composite|\$batch/.test(key)),
      )
      .map(([key, n]) => `${key} x${n}`)
      .sort();
  }

  it("R24 a Microsoft seller's referral and a seller's shared opportunity are diffed and recorded, and nothing is written on either side", async () => {
    // The world as a seller leaves it in the UI (these are emulator control calls, not API writes).
    const accountId = await h.desk.createAccount({
      name: 'Adventure Works',
      postalCode: '98004',
      country: 'US',
    });
    const opportunityId = await h.desk.createOpportunity(accountId, {
      name: 'Adventure Works analytics',
      closeDate: '2027-05-31',
      value: 64_000,
      currency: 'USD',
      notes: 'Dry-run deal.',
      sync: true,
    });
    // A co-sell missing its contact, solution and country would get ✖ and an audit line if this were live.
    const brokenId = await h.desk.createOpportunity(await h.desk.createAccount({ name: 'No Country Ltd' }), {
      name: 'Adventure Works broken co-sell',
      closeDate: '2027-05-31',
      value: 1_000,
      currency: 'USD',
      assistance: 'ProofOfConceptOrDemo',
      sync: true,
    });
    const referral = await pc.sendIncoming({
      name: 'Dry-run incoming deal',
      details: { dealValue: 25_000, currency: 'USD', notes: 'From a Microsoft seller.' },
    });
    const referralId = String(referral.id);
    // Delivered and stored: the receiver answered 2xx once the event was in the inbox.
    await until(
      () => h.accepted.some((a) => a.body.includes(referralId) && a.body.includes('referral-created')),
      5_000,
      'the referral-created webhook',
    );

    const before = await everything();
    const pcBefore = await pcWrites();
    const crmBefore = await crmWrites();
    const crmCallsBefore = (await crmControl(h).calls()).apiCalls;

    await h.engine.start();
    const incoming = await until(
      () => runs.find((r) => r.referralId === referralId && r.outcome === 'changed'),
      10_000,
      'the dry run of the incoming referral',
    );
    const shared = await until(
      () => runs.find((r) => r.crmId === opportunityId && r.outcome === 'changed'),
      10_000,
      'the dry run of the shared opportunity',
    );
    const broken = await until(
      () => runs.find((r) => r.crmId === brokenId && r.outcome === 'failed'),
      10_000,
      'the dry run of the broken co-sell',
    );
    await until(
      async () => (await h.store.listJobs({ state: ['pending', 'running'] })).length === 0,
      10_000,
      'no pending work',
    );
    await h.engine.stop();
    await h.engine.drain();

    // What would change, field by field.
    expect(incoming.direction).toBe('toCrm');
    expect(incoming.diff).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'name', after: 'Dry-run incoming deal', winner: 'partnerCenter' }),
        expect.objectContaining({ field: 'dealValue', after: '25000' }),
        expect.objectContaining({ field: 'notes', after: 'From a Microsoft seller.' }),
      ]),
    );
    expect(shared.direction).toBe('toReferral');
    expect(shared.diff).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'name', after: 'Adventure Works analytics', winner: 'crm' }),
        expect.objectContaining({ field: 'closeDate', after: '2027-05-31' }),
        expect.objectContaining({ field: 'notes', after: 'Dry-run deal.' }),
      ]),
    );
    expect(broken.error?.message).toMatch(/Solution ID is required/);

    // Nothing written: no Partner Center write call, no CRM write call, no record changed.
    expect(await pcWrites()).toEqual(pcBefore);
    expect(await crmWrites()).toEqual(crmBefore);
    expect((await crmControl(h).calls()).apiCalls).toBeGreaterThan(crmCallsBefore);
    expect(await everything()).toBe(before);
    for (const id of [opportunityId, brokenId]) {
      const opp = await h.desk.read(id);
      expect(opp.name).not.toMatch(/[✔✖]$/);
      expect(opp.audit).toBeNull();
      expect(opp.referralId).toBeNull();
    }
    expect(await h.desk.withReferral(referralId)).toHaveLength(0);
    expect((await pc.all()).filter((r) => r.externalReferenceId === opportunityId)).toHaveLength(0);
  });
});
