// `cosell backfill` (R34): the first import, on demand. It says what it takes before it reads anything, lists
// each side (Partner Center page by page), queues what is in scope and, when no service runs on the store,
// syncs it right here with progress (counts, rate, ETA on a terminal; plain lines when piped). Interrupted, it
// resumes where it stopped: the Partner Center position is stored per page and linked records are skipped.
import type { Command } from 'commander';
import type { Config } from '../../config/schema.ts';
import {
  type BackfillCounts,
  type BackfillDirection,
  type BackfillScope,
  describeScope,
  sidesOf,
} from '../../engine/backfill.ts';
import type { PausedApi } from '../../engine/circuits.ts';
import { realSleep } from '../../lib/retry.ts';
import type { Run, Store } from '../../store/store.ts';
import { CONFIG_OPTION_HELP, loadConfigFromFlags } from '../config-file.ts';
import { CliError } from '../errors.ts';
import { parseSince } from './runs.ts';

interface BackfillFlags {
  config?: string;
  direction: string;
  since?: string;
  dryRun?: boolean;
  json?: boolean;
}

const DIRECTIONS: readonly BackfillDirection[] = ['pc-to-crm', 'crm-to-pc', 'both'];

/**
 * The import runs more workers than the service (each spends most of its time waiting on an API), and the CRM
 * adapter gathers their creates into batches: 48 workers, each create waiting up to 150 ms for company, fill a
 * Salesforce composite graph with ~30 records (measured: 29-34 per write request, 0.08-0.12 CRM requests per
 * imported record). The Dataverse client keeps its own cap under the 52 concurrent requests Dataverse allows.
 */
export const BULK = { concurrency: 48, lingerMs: 150 };
const CRM_NAMES = { salesforce: 'Salesforce', dynamics: 'Dynamics 365' } as const;

export interface BackfillIo {
  out: (text: string) => void;
  /** A terminal gets one line rewritten in place; a pipe gets a plain line every few seconds. */
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
}

export interface BackfillSummary {
  scope: { direction: BackfillDirection; since: string | null; dryRun: boolean };
  sides: Omit<BackfillCounts, 'queuedLinkIds'>[];
  queued: number;
  synced: number;
  failed: number;
  /** Queued but not synced here: a running service syncs them, or they wait for a retry. */
  left: number;
  /** Who syncs the queued records: this command, or the service that holds the store. */
  syncedBy: 'backfill' | 'service' | 'nobody';
}

export function parseScope(flags: BackfillFlags, now = new Date()): BackfillScope {
  const direction = flags.direction as BackfillDirection;
  if (!DIRECTIONS.includes(direction)) {
    throw new CliError(
      `--direction '${flags.direction}' is not one of ${DIRECTIONS.join(', ')}.`,
      'Give --direction pc-to-crm, crm-to-pc or both (the default).',
      2,
    );
  }
  return {
    direction,
    since: flags.since ? parseSince(flags.since, now) : null,
    dryRun: flags.dryRun ?? false,
  };
}

const duration = (ms: number) => {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

/** 'syncing 120/400 (35.2/s, ETA 0:08), 2 failed' */
export function progressLine(done: number, total: number, failed: number, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? done / (elapsedMs / 1000) : 0;
  const eta = rate > 0 ? ` ETA ${duration(((total - done) / rate) * 1000)}` : '';
  return `syncing ${done}/${total} (${rate.toFixed(1)}/s,${eta || ' ETA ?'})${failed ? `, ${failed} failed` : ''}`;
}

export function describeCounts(counts: BackfillCounts, crmName: string): string {
  const side = counts.side === 'partner-center' ? 'Partner Center' : crmName;
  const leftOut = Object.entries(counts.leftOut)
    .map(([reason, n]) => `${n} ${reason}`)
    .join(', ');
  return `${side}: ${counts.listed} listed, ${counts.toImport} to import, ${counts.alreadyLinked} already linked${
    leftOut ? `, left out: ${leftOut}` : ''
  }${counts.resumedFrom ? ` (resumed after an interruption, from ${counts.resumedFrom})` : ''}`;
}

/** A status line printer: rewritten in place on a terminal, at most one plain line every 2 s on a pipe. */
function statusPrinter(io: BackfillIo) {
  let last = 0;
  let open = false;
  return {
    show(line: string, force = false) {
      if (io.isTTY) {
        io.out(`\r\x1b[K${line}`);
        open = true;
        return;
      }
      const now = Date.now();
      if (force || now - last >= 2_000) {
        io.out(`${line}\n`);
        last = now;
      }
    },
    end() {
      if (open) io.out('\n');
      open = false;
    },
  };
}

export async function runBackfill(
  config: Config,
  flags: BackfillFlags,
  io: BackfillIo,
): Promise<BackfillSummary> {
  const scope = parseScope(flags);
  const crmName = CRM_NAMES[config.crm.kind];
  const say = (line: string) => {
    if (!flags.json) io.out(`${line}\n`);
  };
  say(`cosell backfill (${scope.direction}) takes:`);
  for (const line of describeScope(scope, crmName)) say(`  ${line}`);

  // Loaded on use, like `start`: the engine is not needed by the light commands.
  const { createLogger } = await import('../../server/logger.ts');
  const { openEngineParts } = await import('./engine-parts.ts');
  const logger = createLogger({ level: 'warn' });
  const parts = await openEngineParts(config, io.env, logger, { lock: !scope.dryRun, bulk: BULK });
  const status = statusPrinter(flags.json ? { ...io, out: () => {}, isTTY: false } : io);
  try {
    const sides: BackfillCounts[] = [];
    for (const side of sidesOf(scope.direction)) {
      const counts = await parts.engine.scanForBackfill(side, scope, (c) =>
        status.show(`listing: ${describeCounts(c, crmName)}`),
      );
      status.end();
      say(describeCounts(counts, crmName));
      sides.push(counts);
    }
    const queuedIds = new Set(sides.flatMap((s) => s.queuedLinkIds));
    const summary: BackfillSummary = {
      scope: { direction: scope.direction, since: scope.since?.toISOString() ?? null, dryRun: scope.dryRun },
      sides: sides.map(({ queuedLinkIds: _, ...rest }) => rest),
      queued: queuedIds.size,
      synced: 0,
      failed: 0,
      left: queuedIds.size,
      syncedBy: scope.dryRun ? 'nobody' : parts.ownsStore ? 'backfill' : 'service',
    };
    if (scope.dryRun) {
      for (const side of sides) for (const line of side.sample) say(`  would import ${line}`);
      const total = sides.reduce((n, s) => n + s.toImport, 0);
      say(
        `Dry run: ${total} record${total === 1 ? '' : 's'} would be imported; nothing was queued or written.`,
      );
      return summary;
    }
    if (!parts.ownsStore) {
      say(
        `${queuedIds.size} queued. The running cosell service (${parts.lockHolder}) syncs them; follow it with \`cosell runs --since ${new Date().toISOString().slice(0, 16)}Z\`.`,
      );
      return summary;
    }
    if (queuedIds.size > 0) await syncHere(parts.engine, queuedIds, summary, status, parts.store);
    status.end();
    say(
      `Backfill done: ${summary.synced} synced, ${summary.failed} failed${
        summary.left ? `, ${summary.left} waiting for a retry (cosell start finishes them)` : ''
      }.${summary.failed ? ' See why with `cosell runs --failed`; fix, then `cosell resubmit --all-failed`.' : ''}`,
    );
    return summary;
  } finally {
    status.end();
    await parts.close();
  }
}

/** The engine as the backfill drives it. */
interface BackfillEngine {
  events: NodeJS.EventEmitter;
  drain(options: { timeoutMs?: number }): Promise<void>;
  pausedApis(): PausedApi[];
}

const API_NAMES: Record<string, string> = { 'partner-center': 'Partner Center', crm: 'the CRM' };

/**
 * Runs the worker in this process until every queued record had its first sync. Throttling is waited out (a
 * large import into Dataverse meets its service protection every few thousand requests: the import pauses as
 * long as Retry-After says and goes on); retries after other failures, and APIs paused for credentials or a
 * budget, are left to the service.
 */
export async function syncHere(
  engine: BackfillEngine,
  queued: ReadonlySet<number>,
  summary: BackfillSummary,
  status: { show(line: string, force?: boolean): void },
  store: Pick<Store, 'listJobs'>,
  time: { now(): number; sleep(ms: number): Promise<void> } = { now: Date.now, sleep: realSleep },
): Promise<void> {
  const started = time.now();
  /** Whether the latest run of each queued record failed (only that: a 100k import keeps no run in memory); a
   *  run skipped while its API was paused is not one (it runs again). */
  const lastFailed = new Map<number, boolean>();
  let failing = 0;
  const failed = (run: Run) => run.outcome === 'failed' || run.outcome === 'dead';
  const progress = () => progressLine(lastFailed.size, queued.size, failing, time.now() - started);
  const onRun = (run: Run) => {
    if (run.linkId === null || !queued.has(run.linkId)) return;
    if (run.outcome === 'skipped' && run.error && engine.pausedApis().length > 0) return;
    failing += Number(failed(run)) - Number(lastFailed.get(run.linkId) ?? false);
    lastFailed.set(run.linkId, failed(run));
    status.show(progress());
  };
  engine.events.on('run', onRun);
  try {
    for (;;) {
      // Everything due now is synced.
      await engine.drain({ timeoutMs: 1_000 });
      if ((await waitingLinks(store, queued)).size === 0) break;
      const throttled = engine.pausedApis().filter((p) => p.reason === 'throttled');
      if (throttled.length === 0) break;
      const until = Math.max(...throttled.map((p) => p.until.getTime()));
      const names = throttled.map((p) => API_NAMES[p.api] ?? p.api).join(' and ');
      status.show(
        `${progress()}; ${names} asked cosell to slow down (HTTP 429): going on at ${new Date(until).toISOString().slice(11, 19)}Z (in ${Math.ceil((until - time.now()) / 1000)} s)`,
        true,
      );
      await time.sleep(Math.max(0, until - time.now()) + THROTTLE_MARGIN_MS);
    }
  } finally {
    engine.events.off('run', onRun);
  }
  // A first try that failed with a retry scheduled (a 503) is waiting, not failed: nothing for the admin to fix,
  // and `cosell start` finishes it.
  const waiting = await waitingLinks(store, queued);
  summary.synced = 0;
  summary.failed = 0;
  for (const linkId of queued) {
    if (waiting.has(linkId)) continue;
    const runFailed = lastFailed.get(linkId);
    if (runFailed === undefined) continue;
    if (runFailed) summary.failed++;
    else summary.synced++;
  }
  summary.left = queued.size - summary.synced - summary.failed;
  status.show(progressLine(lastFailed.size, queued.size, summary.failed, time.now() - started), true);
}

/** A moment past the end of a throttling pause, so the first request after it is not refused again. */
const THROTTLE_MARGIN_MS = 250;

/** Queued records whose job still waits to run (a retry, a paused API). */
async function waitingLinks(
  store: Pick<Store, 'listJobs'>,
  queued: ReadonlySet<number>,
): Promise<Set<number>> {
  const waiting = new Set<number>();
  const limit = 10_000;
  for (let beforeId: number | undefined; ; ) {
    const jobs = await store.listJobs({
      state: ['pending', 'running'],
      limit,
      ...(beforeId === undefined ? {} : { beforeId }),
    });
    for (const job of jobs) if (queued.has(job.linkId)) waiting.add(job.linkId);
    if (jobs.length < limit) return waiting;
    beforeId = jobs[jobs.length - 1]!.id;
  }
}

export function registerBackfillCommand(program: Command): void {
  program
    .command('backfill')
    .description(
      'First import: open referrals and open opportunities flagged to sync that have no counterpart yet. States its scope first; resumable.',
    )
    .option('--config <file>', CONFIG_OPTION_HELP)
    .option('--direction <direction>', 'pc-to-crm, crm-to-pc or both', 'both')
    .option('--since <when>', 'only records changed since a date (2026-11-01) or an age (30d)')
    .option('--dry-run', 'list and count what would be imported; queue and write nothing')
    .option('--json', 'print the summary as JSON')
    .action(async (flags: BackfillFlags) => {
      parseScope(flags);
      const config = await loadConfigFromFlags(flags.config);
      const summary = await runBackfill(config, flags, {
        out: (t) => process.stdout.write(t),
        isTTY: Boolean(process.stdout.isTTY),
        env: process.env,
      });
      if (flags.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      if (summary.failed > 0) process.exitCode = 1;
    });
}
