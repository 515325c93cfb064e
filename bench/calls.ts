// API calls per change, per direction and kind, read from the emulators' counters (not cosell's bookkeeping).
// The engine is not started: nothing runs on a timer, so each window holds exactly the change's work. A
// CRM→Partner Center change is picked up by one change-feed poll (`pollCrmOnce`), whose idle cost (measured
// apart) is subtracted. An echo is the work our own write causes when it comes back: the CRM feed listing the
// record cosell just wrote, Partner Center's webhook for cosell's own PATCH.
import { setTimeout as sleep } from 'node:timers/promises';
import { control } from '../src/cli/demo-story.ts';
import type { CrmKind } from '../src/crm/port.ts';
import { type Harness, pcControl, startHarness, TEST_ENGINE_SETTINGS } from '../test/e2e/engine-harness.ts';
import { until } from '../test/helpers/until.ts';
import { add, type Cost, costOf, readCounters, resetCounters, scale, ZERO } from './lib/counters.ts';

const HOUR = 3_600_000;

/** Nothing on a timer: the bench drives polls and drains itself. */
const QUIET_SETTINGS = {
  ...TEST_ENGINE_SETTINGS,
  crmPoll: { minIntervalMs: HOUR, maxIntervalMs: HOUR, overlapMs: 2_000 },
  reconcile: { intervalMs: HOUR, overlapMs: 2_000 },
  revalidateFailedEveryMs: HOUR,
};

export type Direction = 'toCrm' | 'toReferral';
/** `microsoft-side`: Partner Center's events after a CRM→PC create, Microsoft's side of the co-sell among them. */
export type ChangeKind =
  | 'create'
  | 'update-1-field'
  | 'update-5-fields'
  | 'no-op'
  | 'echo'
  | 'microsoft-side';

export interface CallsRow {
  crm: CrmKind;
  direction: Direction;
  kind: ChangeKind;
  repeats: number;
  partnerCenter: Cost;
  crmApi: Cost;
}

interface Sides {
  partnerCenter: Cost;
  crmApi: Cost;
}

async function measure(h: Harness, action: () => Promise<void>): Promise<Sides> {
  await Promise.all([resetCounters(h.pc.info.control), resetCounters(h.crmControl)]);
  await action();
  const [pc, crm] = await Promise.all([readCounters(h.pc.info.control), readCounters(h.crmControl)]);
  return { partnerCenter: costOf(pc), crmApi: costOf(crm) };
}

/** Until no webhook is on its way and the engine has nothing left to do. */
async function settle(h: Harness): Promise<void> {
  const pc = pcControl(h);
  for (let round = 0; round < 20; round++) {
    const accepted = h.accepted.length;
    await until(
      async () => (await pc.deliveries()).deliveries.every((d) => d.state === 'delivered'),
      10_000,
      'webhook deliveries to finish',
    );
    await h.engine.drain({ timeoutMs: 10_000 });
    // A webhook our own write caused may still be on its way out of the emulator.
    await sleep(30);
    const idle = (await pc.deliveries()).deliveries.every((d) => d.state === 'delivered');
    if (idle && h.accepted.length === accepted) return;
  }
  throw new Error('the engine did not settle after 20 rounds');
}

function averaged(samples: Sides[], minus: Sides = { partnerCenter: ZERO, crmApi: ZERO }): Sides {
  const sum = samples.reduce(
    (acc, s) => ({
      partnerCenter: add(acc.partnerCenter, s.partnerCenter),
      crmApi: add(acc.crmApi, s.crmApi),
    }),
    { partnerCenter: ZERO, crmApi: ZERO },
  );
  const mean = {
    partnerCenter: scale(sum.partnerCenter, 1 / samples.length),
    crmApi: scale(sum.crmApi, 1 / samples.length),
  };
  return {
    partnerCenter: add(mean.partnerCenter, minus.partnerCenter, -1),
    crmApi: add(mean.crmApi, minus.crmApi, -1),
  };
}

let seq = 0;
const next = () => ++seq;

export async function measureCalls(
  crm: CrmKind,
  repeats: number,
): Promise<{ rows: CallsRow[]; idlePoll: Sides; firstUse: Sides }> {
  const h = await startHarness(QUIET_SETTINGS, { crm });
  const pc = pcControl(h);
  const rows: CallsRow[] = [];
  const push = (direction: Direction, kind: ChangeKind, samples: Sides[], minus?: Sides) =>
    rows.push({ crm, direction, kind, repeats: samples.length, ...averaged(samples, minus) });
  try {
    // The feed's cursor starts now; then one poll with nothing changed is the idle cost.
    await h.engine.pollCrmOnce();
    await settle(h);
    // What a process reads once (the CRM's field metadata and currencies, cached after): one referral each way
    // before anything is counted, that first cost kept apart.
    const firstUse = await measure(h, async () => {
      await pc.sendIncoming({ name: 'Bench warm-up', details: { dealValue: 1, currency: 'USD' } });
      await settle(h);
      await h.desk.opportunity();
      await h.engine.pollCrmOnce();
      await settle(h);
    });
    const idleSamples: Sides[] = [];
    for (let i = 0; i < repeats; i++) {
      idleSamples.push(await measure(h, () => h.engine.pollCrmOnce().then(() => settle(h))));
    }
    const idlePoll = averaged(idleSamples);

    // ---- Partner Center -> CRM ------------------------------------------------------------------------
    const incoming: { referralId: string; opportunityId: string }[] = [];
    const creates: Sides[] = [];
    for (let i = 0; i < repeats; i++) {
      const n = next();
      let referralId = '';
      creates.push(
        await measure(h, async () => {
          const referral = await pc.sendIncoming({
            name: `Bench incoming ${n}`,
            details: { dealValue: 10_000 + n, currency: 'USD', notes: 'v1' },
          });
          referralId = String(referral.id);
          await settle(h);
        }),
      );
      const opportunityId = await until(
        () => h.desk.withReferral(referralId).then((ids) => ids[0]),
        10_000,
        'the opportunity',
      );
      incoming.push({ referralId, opportunityId });
    }
    push('toCrm', 'create', creates);

    const editMicrosoftSide = async (
      patch: (n: number) => Record<string, unknown>,
      holds: (o: { value: number | null; name: string }, n: number) => boolean,
    ) => {
      const samples: Sides[] = [];
      const echoes: Sides[] = [];
      for (const { referralId, opportunityId } of incoming) {
        const n = next();
        samples.push(
          await measure(h, async () => {
            await pc.editAsMicrosoft(referralId, patch(n));
            await settle(h);
            await until(
              async () => holds(await h.desk.read(opportunityId), n),
              10_000,
              'the CRM to hold the edit',
            );
          }),
        );
        echoes.push(await measure(h, () => h.engine.pollCrmOnce().then(() => settle(h))));
      }
      return { samples, echoes };
    };
    const one = await editMicrosoftSide(
      (n) => ({ details: { dealValue: 20_000 + n } }),
      (o, n) => o.value === 20_000 + n,
    );
    push('toCrm', 'update-1-field', one.samples);
    const five = await editMicrosoftSide(
      (n) => ({
        name: `Bench incoming renamed ${n}`,
        details: {
          dealValue: 30_000 + n,
          notes: `v${n}`,
          closingDateTime: `2027-0${1 + (n % 9)}-15T00:00:00Z`,
          currency: n % 2 ? 'EUR' : 'USD',
        },
      }),
      (o, n) => o.value === 30_000 + n,
    );
    push('toCrm', 'update-5-fields', five.samples);
    const noops: Sides[] = [];
    for (const { referralId } of incoming) {
      noops.push(
        await measure(h, async () => {
          await control(h.pc.info.control, 'POST', '/webhooks/events', {
            eventName: 'referral-updated',
            referralId,
          });
          await settle(h);
        }),
      );
    }
    push('toCrm', 'no-op', noops);
    push('toCrm', 'echo', [...one.echoes, ...five.echoes], idlePoll);

    // ---- CRM -> Partner Center ------------------------------------------------------------------------
    const outgoing: { opportunityId: string; referralId: string }[] = [];
    const sent: Sides[] = [];
    const replies: Sides[] = [];
    for (let i = 0; i < repeats; i++) {
      let opportunityId = '';
      // Webhooks held: the create alone. Released after: Partner Center's events for it, among them Microsoft's
      // side of the new co-sell (related-referral-created), which cosell reads to say what Microsoft did (R7).
      await pc.behaviour({ mode: 'reorder', count: 100 });
      sent.push(
        await measure(h, async () => {
          ({ opportunityId } = await h.desk.opportunity());
          await h.engine.pollCrmOnce();
          await h.engine.drain({ timeoutMs: 10_000 });
        }),
      );
      replies.push(
        await measure(h, async () => {
          await pc.behaviour({ mode: 'normal' });
          await settle(h);
        }),
      );
      const stored = await h.desk.read(opportunityId);
      if (!stored.referralId) throw new Error(`the opportunity ${opportunityId} got no referral id`);
      outgoing.push({ opportunityId, referralId: stored.referralId });
    }
    push('toReferral', 'create', sent, idlePoll);
    push('toReferral', 'microsoft-side', replies);

    const editCrmSide = async (
      fields: (n: number) => Parameters<Harness['desk']['edit']>[1],
      holds: (r: Record<string, unknown>, n: number) => boolean,
    ) => {
      const samples: Sides[] = [];
      const echoes: Sides[] = [];
      for (const { opportunityId, referralId } of outgoing) {
        const n = next();
        // The change itself: one feed poll, the job, until the referral holds it. Partner Center's webhook
        // for cosell's own PATCH is the echo, measured apart.
        // 'reorder' with a batch of 2 holds the one webhook until the behaviour is set back to normal.
        await pc.behaviour({ mode: 'reorder', count: 2 });
        samples.push(
          await measure(h, async () => {
            await h.desk.edit(opportunityId, fields(n));
            await h.engine.pollCrmOnce();
            await h.engine.drain({ timeoutMs: 10_000 });
            await until(
              async () => holds(await pc.referral(referralId), n),
              10_000,
              'the referral to hold the edit',
            );
          }),
        );
        // Echoes: Partner Center's webhook for the PATCH, then the CRM feed listing cosell's audit-line write.
        echoes.push(
          await measure(h, async () => {
            await pc.behaviour({ mode: 'normal' });
            await settle(h);
            await h.engine.pollCrmOnce();
            await settle(h);
          }),
        );
      }
      return { samples, echoes };
    };
    const dealValue = (r: Record<string, unknown>) =>
      (r['details'] as { dealValue?: number } | undefined)?.dealValue;
    const crmOne = await editCrmSide(
      (n) => ({ value: 40_000 + n }),
      (r, n) => dealValue(r) === 40_000 + n,
    );
    push('toReferral', 'update-1-field', crmOne.samples, idlePoll);
    const crmFive = await editCrmSide(
      (n) => ({
        name: `Bench outgoing renamed ${n}`,
        value: 50_000 + n,
        notes: `w${n}`,
        closeDate: `2027-0${1 + (n % 9)}-20`,
        assistance: n % 2 ? 'GeneralOrOther' : 'ProofOfConceptOrDemo',
      }),
      (r, n) => dealValue(r) === 50_000 + n,
    );
    push('toReferral', 'update-5-fields', crmFive.samples, idlePoll);
    const crmNoops: Sides[] = [];
    for (const { opportunityId } of outgoing) {
      const current = await h.desk.read(opportunityId);
      crmNoops.push(
        await measure(h, async () => {
          // The seller saves without changing a synced field: the record's change stamp moves, nothing else.
          await h.desk.edit(opportunityId, { value: current.value ?? 0 });
          await h.engine.pollCrmOnce();
          await settle(h);
        }),
      );
    }
    push('toReferral', 'no-op', crmNoops, idlePoll);
    push('toReferral', 'echo', [...crmOne.echoes, ...crmFive.echoes], idlePoll);
    return { rows, idlePoll, firstUse };
  } finally {
    await h.close();
  }
}
