// The first import (R34): what is already on either side when cosell is switched on. It states its scope before
// it starts, takes open referrals and open opportunities flagged to sync (never closed deals: sellers would be
// flooded with history), streams Partner Center page by page and can be interrupted: the position is stored
// after every page, and records already linked cost nothing on the next run. It only queues jobs; the worker
// syncs them exactly as it syncs a webhook.
import { isLead } from '../core/cosell-rules.ts';
import { isMicrosoftSide } from '../core/deal-values.ts';
import type { Referral } from '../core/referral.ts';
import { CrmError } from '../crm/port.ts';
import { realSleep } from '../lib/retry.ts';
import { and, ge, ne } from '../partner-center/filter.ts';
import type { IntakeContext } from './intake.ts';

export type BackfillDirection = 'pc-to-crm' | 'crm-to-pc' | 'both';

export interface BackfillScope {
  direction: BackfillDirection;
  /** Only records changed since then; null: every open one. */
  since: Date | null;
  /** List and count, queue nothing. */
  dryRun: boolean;
}

export type BackfillSide = 'partner-center' | 'crm';

export interface BackfillCounts {
  side: BackfillSide;
  /** Records read from the side. */
  listed: number;
  /** To import: queued (or, in a dry run, that would be). */
  toImport: number;
  /** Already linked to a record on the other side: synced as usual, not imported again. */
  alreadyLinked: number;
  /** Outside the scope, by reason ('closed', "Microsoft's side of a co-sell", …). */
  leftOut: Record<string, number>;
  /** A few of the records to import, for the dry run's listing. */
  sample: string[];
  /** Links queued for a sync (empty in a dry run). */
  queuedLinkIds: number[];
  /** Resumed after an interrupted run, from records changed at or after this time. */
  resumedFrom: string | null;
}

const SAMPLE_SIZE = 20;
/** Deals the CRM listing reads at once. */
const SCAN_READS_AT_ONCE = 8;
export const BACKFILL_CURSOR = 'backfill:partner-center';

export const sidesOf = (direction: BackfillDirection): BackfillSide[] =>
  direction === 'both' ? ['partner-center', 'crm'] : direction === 'pc-to-crm' ? ['partner-center'] : ['crm'];

/** The scope in words, printed before anything is read (R34: the import says what it takes). */
export function describeScope(scope: BackfillScope, crmName: string): string[] {
  const since = scope.since ? ` changed since ${scope.since.toISOString()}` : '';
  const lines: string[] = [];
  for (const side of sidesOf(scope.direction)) {
    lines.push(
      side === 'partner-center'
        ? `Partner Center -> ${crmName}: open referrals (status New or Active)${since} that have no ${crmName} record yet.`
        : `${crmName} -> Partner Center: open opportunities with "Sync with Partner Center" ticked${since} that have no referral yet.`,
    );
  }
  lines.push(
    'Left out: closed referrals and closed opportunities (sellers never get a flood of old deals), ' +
      "Microsoft's side of co-sell engagements, and records already linked (they sync as usual).",
  );
  if (scope.dryRun) lines.push('Dry run: nothing is queued or written.');
  return lines;
}

function emptyCounts(side: BackfillSide): BackfillCounts {
  return {
    side,
    listed: 0,
    toImport: 0,
    alreadyLinked: 0,
    leftOut: {},
    sample: [],
    queuedLinkIds: [],
    resumedFrom: null,
  };
}

const leaveOut = (counts: BackfillCounts, reason: string) => {
  counts.leftOut[reason] = (counts.leftOut[reason] ?? 0) + 1;
};

interface SavedPosition {
  since: string | null;
  /** updatedDateTime of the last referral of the last finished page. */
  after: string;
}

function savedPosition(text: string | null, scope: BackfillScope): string | null {
  if (!text) return null;
  try {
    const saved = JSON.parse(text) as SavedPosition;
    return saved.since === (scope.since?.toISOString() ?? null) && saved.after ? saved.after : null;
  } catch {
    return null;
  }
}

/** Partner Center's open referrals, oldest change first, one page at a time. */
export async function scanPartnerCenter(
  ctx: IntakeContext,
  scope: BackfillScope,
  onPage: (counts: BackfillCounts) => void = () => {},
): Promise<BackfillCounts> {
  const { store } = ctx;
  const counts = emptyCounts('partner-center');
  counts.resumedFrom = scope.dryRun ? null : savedPosition(await store.getCursor(BACKFILL_CURSOR), scope);
  const from = [scope.since, counts.resumedFrom ? new Date(counts.resumedFrom) : null]
    .filter((d): d is Date => d !== null)
    .sort((a, b) => b.getTime() - a.getTime())[0];
  const filter = and(ne('status', 'Closed'), ...(from ? [ge('updatedDateTime', from)] : []));
  let after = counts.resumedFrom;
  for await (const page of ctx.referrals.listPages({
    filter,
    orderBy: [{ field: 'updatedDateTime', direction: 'asc' }],
  })) {
    for (const referral of page.referrals) {
      counts.listed++;
      await takeReferral(ctx, scope, referral, counts);
      after = referral.updatedDateTime ?? after;
    }
    if (!scope.dryRun && after) {
      const position: SavedPosition = { since: scope.since?.toISOString() ?? null, after };
      await store.setCursor(BACKFILL_CURSOR, JSON.stringify(position));
    }
    onPage(counts);
  }
  // Finished: the next backfill starts from the beginning of its scope again.
  if (!scope.dryRun) await store.setCursor(BACKFILL_CURSOR, '');
  return counts;
}

async function takeReferral(
  ctx: IntakeContext,
  scope: BackfillScope,
  referral: Referral,
  counts: BackfillCounts,
): Promise<void> {
  const { store } = ctx;
  const id = String(referral.id);
  // A server that ignored the filter must still not flood the CRM with closed deals.
  if (referral.status === 'Closed') return leaveOut(counts, 'closed');
  if (isMicrosoftSide(referral)) return leaveOut(counts, "Microsoft's side of a co-sell");
  if (ctx.settings.syncCoSellOnly && isLead(referral))
    return leaveOut(counts, 'a lead ("sync co-sell opportunities only" is on)');
  const link = await store.linkByReferral(id);
  if (link?.crmId) {
    counts.alreadyLinked++;
    return;
  }
  counts.toImport++;
  if (counts.sample.length < SAMPLE_SIZE) counts.sample.push(`referral ${id} "${referral.name ?? ''}"`);
  if (scope.dryRun) return;
  const { link: created } = link
    ? { link }
    : await store.findOrCreateLinkForReferral(id, {
        crmKind: ctx.crmKind,
        dealKind: 'opportunity',
        engagementId: referral.engagementId ?? null,
      });
  // The listing already holds the whole referral: its import creates the record from it without reading it again
  // (one Partner Center GET fewer per referral). If Microsoft changes it before the import runs, the write-back's
  // If-Match on this eTag answers 412 and the import reads it then.
  if (referral.eTag) await store.saveSnapshot(created.id, { referral, referralETag: referral.eTag });
  await store.enqueueJob(created.id, 'backfill', ctx.now());
  counts.queuedLinkIds.push(created.id);
}

/** The CRM's opportunities flagged to sync (or already carrying a Referral Identifier), open ones only. */
export async function scanCrm(
  ctx: IntakeContext,
  scope: BackfillScope,
  onPage: (counts: BackfillCounts) => void = () => {},
): Promise<BackfillCounts> {
  const { store } = ctx;
  const counts = emptyCounts('crm');
  const now = ctx.now();
  // The change feed read without a cursor lists what changed in the look-back window: the whole history when
  // no --since is given. It never touches the engine's own change-feed position.
  const page = await waitingOutThrottling(ctx, () =>
    ctx.crm.listChangedDeals(null, {
      overlapMs: 0,
      initialLookbackMs: scope.since ? Math.max(0, now.getTime() - scope.since.getTime()) : now.getTime(),
      now,
    }),
  );
  const deals = page.changes.filter((change) => !change.deleted && change.reason === 'deal');
  // A few deals are read at once (each read waits on the CRM); what they hold is counted in the listing's order.
  for (let i = 0; i < deals.length; i += SCAN_READS_AT_ONCE) {
    const chunk = deals.slice(i, i + SCAN_READS_AT_ONCE);
    const read = await Promise.all(
      chunk.map(async (change) => {
        const link = await store.linkByCrm(ctx.crmKind, change.id);
        if (link?.referralId || change.kind === 'lead') return { change, link, deal: null };
        const deal = await waitingOutThrottling(ctx, () =>
          ctx.crm.findDeal({ kind: change.kind, id: change.id }),
        );
        return { change, link, deal };
      }),
    );
    for (const { change, link, deal } of read) {
      counts.listed++;
      if (link?.referralId) {
        counts.alreadyLinked++;
        continue;
      }
      if (change.kind === 'lead') {
        leaveOut(counts, 'a lead (leads are not sent to Partner Center)');
        continue;
      }
      if (!deal) continue;
      if (!deal.syncWithPartnerCenter) {
        leaveOut(counts, '"Sync with Partner Center" not ticked');
        continue;
      }
      if (deal.isClosed) {
        leaveOut(counts, 'closed');
        continue;
      }
      counts.toImport++;
      if (counts.sample.length < SAMPLE_SIZE) counts.sample.push(`opportunity ${deal.id} "${deal.name}"`);
      if (scope.dryRun) continue;
      const { link: created } = link
        ? { link }
        : await store.findOrCreateLinkForCrm(ctx.crmKind, deal.id, { dealKind: deal.kind });
      await store.enqueueJob(created.id, 'backfill', ctx.now());
      counts.queuedLinkIds.push(created.id);
    }
    onPage(counts);
  }
  onPage(counts);
  return counts;
}

/**
 * A large import meets the CRM's service protection (Dataverse: 6,000 requests per 5 minutes): the listing
 * waits as long as the CRM asks and goes on, instead of ending the backfill with the 429.
 */
async function waitingOutThrottling<T>(
  ctx: Pick<IntakeContext, 'logger'>,
  call: () => Promise<T>,
  sleep = realSleep,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof CrmError) || error.status !== 429 || attempt >= MAX_THROTTLED_WAITS) throw error;
      const waitMs = error.retryAfterMs ?? THROTTLED_WAIT_MS;
      // Said once per wait, so an admin watching a long import knows why it stands still.
      ctx.logger.warn(
        { event: 'backfill-throttled', waitMs, reason: error.message },
        `the CRM is throttling cosell; the listing goes on in ${Math.ceil(waitMs / 1000)} s`,
      );
      await sleep(waitMs);
    }
  }
}

const MAX_THROTTLED_WAITS = 20;
const THROTTLED_WAIT_MS = 5_000;
