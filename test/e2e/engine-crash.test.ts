// No duplicate referral on a crash (DESIGN.md §3): a worker dies after Partner Center created the referral but
// before the link was committed; a fresh engine on the same store file adopts that referral instead of creating
// a second one. The crash is simulated deterministically: the first engine's Referrals client completes the real
// POST and then never returns (the process is gone as far as the store can tell); its lease expires.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Referral } from '../../src/core/referral.ts';
import { PartnerCenterError } from '../../src/partner-center/errors.ts';
import { ReferralsClient } from '../../src/partner-center/referrals.ts';
import { openStore } from '../../src/store/index.ts';
import type { Run, Store } from '../../src/store/store.ts';
import { until } from '../helpers/until.ts';
import { CRMS, type Harness, pcControl, startHarness } from './engine-harness.ts';

/** A Referrals client whose create reaches Partner Center and then hangs, as if the process died right there. */
class DyingReferralsClient extends ReferralsClient {
  posted: Referral | null = null;
  private release: ((error: Error) => void) | null = null;

  override async create(referral: Record<string, unknown>): Promise<Referral> {
    this.posted = await super.create(referral);
    return new Promise<Referral>((_resolve, reject) => {
      this.release = reject;
    });
  }

  /** Lets the hung call end (at test teardown), as an unknown outcome. */
  end(): void {
    this.release?.(
      new PartnerCenterError({
        api: 'referrals',
        method: 'POST',
        path: '/referrals',
        status: 0,
        code: 'outcomeUnknown',
      }),
    );
  }
}

/** A store whose owner can die: after kill() nothing it asks reaches the database any more (no lease renewal,
 *  no commit), exactly what a SIGKILL leaves behind. */
function killable(store: Store): { store: Store; kill(): void } {
  let dead = false;
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        dead ? new Promise(() => {}) : (value as (...a: unknown[]) => unknown).apply(target, args);
    },
  });
  return {
    store: proxy,
    kill: () => {
      dead = true;
    },
  };
}

describe.each(CRMS)('crash between the Partner Center POST and the link commit on $crm', ({ crm }) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(undefined, { crm });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('R10 a restarted engine adopts the referral: exactly one referral, identifiers written back', async () => {
    const pc = pcControl(h);
    const accountId = await h.desk.createAccount({ name: 'Tailspin Toys', country: 'US' });
    const opportunityId = await h.desk.createOpportunity(accountId, {
      name: 'Tailspin fleet',
      closeDate: '2027-01-31',
      value: 42_000,
      currency: 'USD',
      sync: true,
    });

    const dying = new DyingReferralsClient({ baseUrl: h.pc.info.referrals, tokens: h.tokens });
    const doomed = killable(await openStore({ url: h.storeFile }));
    const first = await h.newEngine({
      store: doomed.store,
      referrals: dying,
      settings: { worker: { concurrency: 1, leaseMs: 1_500, pollIntervalMs: 50 } },
    });
    expect(await first.engine.pollCrmOnce()).toBe(1);
    const hung = first.engine.drain({ timeoutMs: 30_000 });
    const posted = await until(() => dying.posted, 10_000, 'the first POST to reach Partner Center');
    expect(
      await first.store.pendingCreateIntent((await first.store.linkByCrm(crm, opportunityId))!.id),
    ).not.toBeNull();
    expect((await h.desk.read(opportunityId)).referralId).toBeNull();
    // The process is gone: nothing more of it reaches the store, so its lease is no longer renewed.
    doomed.kill();

    // A new process on the same store file, with working clients.
    const restarted = await h.newEngine({
      settings: { worker: { concurrency: 1, leaseMs: 1_500, pollIntervalMs: 50 } },
    });
    const runs: Run[] = [];
    restarted.engine.events.on('run', (run: Run) => runs.push(run));
    await restarted.engine.drain({ timeoutMs: 10_000 });

    const mine = (await pc.all()).filter((r) => r.externalReferenceId === opportunityId);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.id).toBe(posted.id);
    const opp = await h.desk.read(opportunityId);
    expect(opp.referralId).toBe(posted.id);
    expect(opp.name).toBe('Tailspin fleet ✔');
    expect(String(opp.audit)).toMatch(/CRM->PC: created referral .* \(written back after an interruption\)/);
    const link = await restarted.store.linkByCrm(crm, opportunityId);
    expect(link?.referralId).toBe(posted.id);
    expect(await restarted.store.pendingCreateIntent(link!.id)).toBeNull();
    expect(runs.map((r) => r.outcome)).toContain('changed');

    // The hung call ends; the dead process writes nothing more.
    dying.end();
    void hung;
    await restarted.engine.drain({ timeoutMs: 2_000 });
    expect((await pc.all()).filter((r) => r.externalReferenceId === opportunityId)).toHaveLength(1);
  });
});

/** A store whose owner dies right after it linked a new CRM record: that commit lands, nothing after it does. */
function diesAfterLinkingCrm(store: Store): { store: Store; died: () => boolean } {
  let dead = false;
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        if (dead) return new Promise(() => {});
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (prop === 'attachCrm' || prop === 'replaceCrmId') {
          dead = true;
          return new Promise(() => {});
        }
        return result;
      };
    },
  });
  return { store: proxy, died: () => dead };
}

describe.each(CRMS)('crash between the CRM record create and the link commit on $crm', ({ crm }) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(undefined, { crm });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('R4 R13 a Microsoft edit made before the restart wins: the CRM record takes it and Partner Center keeps it', async () => {
    const pc = pcControl(h);
    const referral = await pc.sendIncoming({
      name: 'Crash after the CRM create',
      details: { dealValue: 10_000 },
    });
    const id = String(referral.id);
    const settings = { worker: { concurrency: 1, leaseMs: 1_500, pollIntervalMs: 50 } };
    const doomed = diesAfterLinkingCrm(await openStore({ url: h.storeFile }));
    const first = await h.newEngine({ store: doomed.store, settings });
    await first.engine.reconcileOnce();
    void first.engine.drain({ timeoutMs: 30_000 });
    await until(() => doomed.died(), 10_000, 'the CRM record created and linked');
    expect((await h.crm.findDeal({ kind: 'opportunity', referralId: id }))?.value).toBe(10_000);

    // Meanwhile a Microsoft seller changes the deal value; then a new process on the same store.
    await pc.editAsMicrosoft(id, { details: { dealValue: 77_000 } });
    const restarted = await h.newEngine({ settings });
    await restarted.engine.reconcileOnce();
    await restarted.engine.drain({ timeoutMs: 10_000 });

    expect((await h.crm.findDeal({ kind: 'opportunity', referralId: id }))?.value).toBe(77_000);
    expect((await pc.referral(id)).details?.dealValue).toBe(77_000);
  });
});
