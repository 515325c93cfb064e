// Crash consistency (issue 11 §1): cosell is SIGKILLed at seeded random moments (a) while `cosell backfill`
// imports a few thousand records, (b) while `cosell start` syncs live webhooks and CRM edits, (c) while it
// retries after injected faults; each time it restarts on the same store. At the end the emulators' own state is
// checked: every referral has exactly one CRM record and vice versa, each deal value is the last one a user
// wrote, no acknowledged webhook was lost, no job is stuck, no link half-moved.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { control } from '../src/cli/demo-story.ts';
import { openStore } from '../src/store/index.ts';
import type { LongRunning } from '../test/helpers/cli.ts';
import { crmSide, microsoftReferral } from './crm-side.ts';
import { type Deployment, pausedNow, spawnCosell, startService } from './deployment.ts';
import {
  type FaultKind,
  type FaultTally,
  faultKindsFor,
  injectFault,
  logSayings,
  logSignOf,
  operatorSawFaults,
  settleFault,
} from './faults.ts';
import { checkInvariants, type Expectation, type PcReferral, type Verdict } from './invariants.ts';
import type { Rng } from './rng.ts';

export interface CrashOptions {
  rng: Rng;
  /** Referrals Microsoft sent before the first start (the backfill); a fifth as many seller opportunities. */
  backfill: number;
  /** Kill points in all; about a third land in the backfill. */
  kills: number;
  say: (line: string) => void;
  /** Where the live phase's cosell logs go, every process's in turn (for a problem's post-mortem). */
  logFile?: string;
}

export interface CrashFigures {
  crm: string;
  killPoints: { backfill: number; live: number };
  records: number;
  eventsAcknowledged: number;
  verdict: Verdict;
  faults: FaultTally;
  /** Fault kinds that failed calls while no kill interfered, with no log line naming the API and the cause. */
  logUnseen: string[];
  /** Each injection that hit something: when it was on, and whether a kill fell inside it (for a post-mortem
   *  against the log file). */
  injections: { kind: string; from: string; to: string; killed: boolean }[];
  /** Jobs pending, running or dead-lettered, inbox events not processed, create intents left open. */
  stuck: { jobs: number; deadLettered: number; inbox: number; openIntents: number; halfMoved: number };
  quiescentAfterMs: number;
  durationMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function crashRun(d: Deployment, o: CrashOptions): Promise<CrashFigures> {
  const started = Date.now();
  const crm = crmSide(d.crm, d.crmInfo['control']!);
  const expectations = new Map<string, Expectation>();
  const solutionId = await crm.addCatalogueSolution();

  // (a) The backfill: referrals and opportunities that exist before cosell ever ran (no webhook registered).
  o.say(`${d.crm}: seeding ${o.backfill} referrals and ${Math.ceil(o.backfill / 5)} opportunities`);
  await inBatches(o.backfill, 16, async (i) => {
    const value = 10_000 + i;
    const referral = await control<{ id: string }>(
      d.pc.control,
      'POST',
      '/incoming-referrals',
      microsoftReferral(`Backfill referral ${i}`, `Backfill customer ${i}`, value),
    );
    expectations.set(referral.id, { kind: 'incoming', referralId: referral.id, value });
  });
  await inBatches(Math.ceil(o.backfill / 5), 8, async (i) => {
    const id = await crm.share({
      name: `Backfill deal ${i}`,
      accountName: `Backfill account ${i}`,
      solutionId,
    });
    expectations.set(id, { kind: 'shared', crmId: id, value: 120_000 });
  });

  const backfillKills = Math.ceil(o.kills / 3);
  let killedInBackfill = 0;
  while (killedInBackfill < backfillKills) {
    const run = spawnCosell(d, ['backfill']);
    const outcome = await Promise.race([run.done, sleep(o.rng.int(1_500, 6_000)).then(() => null)]);
    if (outcome) {
      if (outcome.code !== 0) throw new Error(`cosell backfill exited ${outcome.code}: ${outcome.stderr}`);
      break; // finished before the next kill point: the rest land in the live phase
    }
    run.child.kill('SIGKILL');
    await run.done;
    killedInBackfill++;
  }
  o.say(`${d.crm}: backfill killed ${killedInBackfill} times; running it to the end`);
  const last = await spawnCosell(d, ['backfill']).done;
  if (last.code !== 0) throw new Error(`cosell backfill exited ${last.code}: ${last.stderr}`);

  // (b, c) Live: the service, webhooks and CRM edits arriving, faults injected, killed and restarted.
  let service: LongRunning = await startService(d);
  const services = [service];
  const killedAt: number[] = [];
  const register = await d.cli(['webhooks', 'register', d.webhookUrl]);
  if (register.code !== 0) throw new Error(`cosell webhooks register failed: ${register.stderr}`);
  const acknowledged = new Map<string, string>();
  const collectDeliveries = async () => {
    const log = await control<{ deliveries: { id: string; state: string; referralId: string | null }[] }>(
      d.pc.control,
      'GET',
      '/webhooks/deliveries?state=delivered',
    );
    for (const delivery of log.deliveries)
      if (delivery.referralId) acknowledged.set(delivery.id, delivery.referralId);
  };

  const kinds = faultKindsFor(d.crm);
  const faults: FaultTally = Object.fromEntries(
    kinds.map((k) => [k, { injected: 0, callsFaulted: 0, seenInLog: logSignOf(k, d.crm) ? 0 : null }]),
  );
  const injections: { kind: FaultKind; from: number; to: number }[] = [];
  let live = true;
  const workload = (async () => {
    let n = 0;
    while (live) {
      n++;
      const roll = o.rng.next();
      const incoming = [...expectations.values()].filter((e) => e.kind === 'incoming');
      const shared = [...expectations.values()].filter((e) => e.kind === 'shared');
      try {
        if (roll < 0.3) {
          const value = 50_000 + n;
          const r = await control<{ id: string }>(
            d.pc.control,
            'POST',
            '/incoming-referrals',
            microsoftReferral(`Live referral ${n}`, `Live customer ${n}`, value),
          );
          expectations.set(r.id, { kind: 'incoming', referralId: r.id, value });
        } else if (roll < 0.5) {
          const id = await crm.share({
            name: `Live deal ${n}`,
            accountName: `Live account ${n}`,
            solutionId,
          });
          expectations.set(id, { kind: 'shared', crmId: id, value: 120_000 });
        } else if (roll < 0.75) {
          const e = o.rng.pick(shared) as Extract<Expectation, { kind: 'shared' }>;
          const value = 200_000 + n;
          await crm.setValue(e.crmId, value);
          expectations.set(e.crmId, { ...e, value });
        } else {
          const e = o.rng.pick(incoming) as Extract<Expectation, { kind: 'incoming' }>;
          const value = 300_000 + n;
          await control(d.pc.control, 'PATCH', `/referrals/${e.referralId}`, {
            details: { dealValue: value },
          });
          expectations.set(e.referralId, { ...e, value });
        }
      } catch (error) {
        throw new Error(`the workload's step ${n} failed: ${(error as Error).message}`);
      }
      await sleep(o.rng.int(50, 300));
    }
  })();
  const inject = async (kind: FaultKind, onMs: number) => {
    const from = Date.now();
    const injected = await injectFault(d, kind, o.rng);
    await sleep(onMs);
    const hits = await settleFault(d, injected);
    if (hits > 0) {
      faults[kind]!.injected++;
      faults[kind]!.callsFaulted += hits;
      injections.push({ kind, from, to: Date.now() });
    }
    await collectDeliveries();
  };
  let faultsOn = true;
  const faulting = (async () => {
    while (live && faultsOn) await inject(o.rng.pick(kinds), o.rng.int(1_500, 4_000));
  })();

  let killedLive = 0;
  const liveKills = o.kills - killedInBackfill;
  try {
    while (killedLive < liveKills) {
      await sleep(o.rng.int(1_000, 5_000));
      await service.stop('SIGKILL');
      killedAt.push(Date.now());
      killedLive++;
      if (killedLive % 5 === 0) o.say(`${d.crm}: ${killedInBackfill + killedLive} kill points`);
      service = await startService(d);
      services.push(service);
    }
    // One round of every fault that fails calls, with work still arriving and no kill: each must leave a log
    // line naming the API and the cause (a kill inside a fault takes its lines with it, so the rounds above
    // rarely prove that).
    faultsOn = false;
    await faulting;
    o.say(`${d.crm}: each fault once more, without kills, for the log check`);
    for (const kind of kinds.filter((k) => logSignOf(k, d.crm))) {
      // A fault injected while cosell waits out a pause the API asked for (Dataverse's Retry-After after the
      // backfill) meets no call and proves nothing: wait the pause out first, within reason.
      await untilUnpaused(d.url, 360_000, (text) => o.say(`${d.crm}: log check waits: ${text}`));
      await inject(kind, 3_000);
    }
    await sleep(3_000);
  } finally {
    live = false;
    await Promise.allSettled([workload, faulting]);
  }
  await workload; // a failed workload step fails the run
  await control(d.pc.control, 'DELETE', '/faults');
  await control(d.crmInfo['control']!, 'DELETE', '/faults');
  await control(d.pc.control, 'POST', '/webhooks/behaviour', { mode: 'normal' });

  // Quiescence: the queue empty and the invariants holding, within a deadline. An API cosell has paused on the
  // API's own word (Dataverse's Retry-After runs to minutes once its 5-minute request window is spent) holds
  // the work as it should, and a queue that is still draining is slow, not stuck (the soak leaves thousands of
  // jobs that Dataverse's 6,000 requests per 5 minutes let through at their pace): the deadline moves past the
  // pause, and on while the work progresses: six minutes past the last progress, an hour in all.
  const quiet = Date.now();
  let deadline = quiet + 300_000;
  let verdict: Verdict;
  let lastSaid = quiet;
  let queuedBefore = Number.POSITIVE_INFINITY;
  let problemsBefore = Number.POSITIVE_INFINITY;
  const bound = (until: number) => Math.min(until, quiet + 3_600_000);
  for (;;) {
    await collectDeliveries();
    verdict = checkInvariants({
      expectations: [...expectations.values()],
      referrals: (
        await control<{ value: (PcReferral & { details?: { dealValue?: number } })[] }>(
          d.pc.control,
          'GET',
          '/referrals',
        )
      ).value.map((r) => ({ ...r, dealValue: r.details?.dealValue ?? null })),
      records: await crm.opportunities(),
      acknowledged: [...acknowledged.values()],
    });
    const queued = await queuedJobs(d.url);
    if ((verdict.problems.length === 0 && queued === 0) || Date.now() > deadline) break;
    const paused = await pausedNow(d.url);
    if (paused.until !== null) deadline = Math.max(deadline, bound(paused.until + 120_000));
    if (Date.now() - lastSaid >= 30_000) {
      lastSaid = Date.now();
      // Progress is fewer jobs, or fewer problems: while records still arrive, each sync's own write comes back
      // through the change feed as one more (echo) job, so the queue can hold level as the work gets done.
      if (queued < queuedBefore || verdict.problems.length < problemsBefore) {
        // Six minutes: a job Dataverse turned away waits out its Retry-After (up to its 5-minute window) on
        // its own schedule, with nothing paused overall.
        deadline = Math.max(deadline, bound(Date.now() + 360_000));
      }
      queuedBefore = queued;
      problemsBefore = verdict.problems.length;
      o.say(
        `${d.crm}: waiting for quiet: ${queued} queued, ${verdict.problems.length} problems; ${paused.text}`,
      );
    }
    await sleep(1_000);
  }
  const quiescentAfterMs = Date.now() - quiet;
  await service.stop('SIGINT');
  if (o.logFile) await writeFile(o.logFile, services.map((s) => s.stderr()).join(''));
  const logUnseen = operatorSawFaults(
    faults,
    injections,
    killedAt,
    services.flatMap((s) => logSayings(s.stderr())),
    d.crm,
  );
  const stuck = await storeLeftovers(d, await crm.opportunities());
  return {
    crm: d.crm,
    killPoints: { backfill: killedInBackfill, live: killedLive },
    records: expectations.size,
    eventsAcknowledged: acknowledged.size,
    verdict,
    faults,
    logUnseen,
    injections: injections.map(({ kind, from, to }) => ({
      kind,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      killed: killedAt.some((t) => t >= from && t <= to + 10_000),
    })),
    stuck,
    quiescentAfterMs,
    durationMs: Date.now() - started,
  };
}

async function inBatches(count: number, width: number, step: (i: number) => Promise<void>): Promise<void> {
  for (let start = 0; start < count; start += width) {
    await Promise.all(Array.from({ length: Math.min(width, count - start) }, (_, k) => step(start + k + 1)));
  }
}

/** Jobs cosell still has to run, from its admin API (loopback, so no token). */
async function queuedJobs(url: string): Promise<number> {
  try {
    const overview = (await (await fetch(`${url}/api/overview`)).json()) as { counts?: { queued?: number } };
    return overview.counts?.queued ?? Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** What the store holds after the service stopped: nothing pending, nothing half done. */
async function storeLeftovers(
  d: Deployment,
  records: { id: string; referralId: string | null }[],
): Promise<CrashFigures['stuck']> {
  const store = await openStore({ url: join(d.dir, 'data/cosell.db') });
  try {
    const counts = await store.jobCounts();
    const byId = new Map(records.map((r) => [r.id, r]));
    let openIntents = 0;
    let halfMoved = 0;
    for (let afterId = 0; ; ) {
      const links = await store.listLinks({ limit: 500, afterId });
      if (links.length === 0) break;
      for (const link of links) {
        afterId = link.id;
        if (await store.pendingCreateIntent(link.id)) openIntents++;
        // An active pair must be the same pair on both sides.
        if (link.state === 'active' && link.referralId && link.crmId && link.dealKind === 'opportunity') {
          if (byId.get(link.crmId)?.referralId !== link.referralId) halfMoved++;
        }
      }
    }
    return {
      jobs: (counts.pending ?? 0) + (counts.running ?? 0),
      deadLettered: counts.dead ?? 0,
      inbox: (await store.unprocessedInbox(1)).length,
      openIntents,
      halfMoved,
    };
  } finally {
    await store.close();
  }
}

/** Waits until cosell has no API paused, or `maxMs` has passed; says what it waits on once a minute. */
async function untilUnpaused(url: string, maxMs: number, say: (text: string) => void): Promise<void> {
  const end = Date.now() + maxMs;
  let said = 0;
  for (;;) {
    const paused = await pausedNow(url);
    if (paused.until === null || Date.now() > end) return;
    if (Date.now() - said >= 60_000) {
      say(paused.text);
      said = Date.now();
    }
    await sleep(1_000);
  }
}
