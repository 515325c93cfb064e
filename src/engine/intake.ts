// Intake: everything that says "this link may have changed" becomes a job for that link. Webhooks (stored in
// the inbox first), the CRM change feed, the reconcile sweep and the re-check of failed links. None of them
// decides anything about the data: the worker reads both sides fresh.
import type { Logger } from 'pino';
import { isMicrosoftSide } from '../core/deal-values.ts';
import { camelCaseKeys, type Referral } from '../core/referral.ts';
import type { CrmAdapter, CrmKind, DealChange } from '../crm/port.ts';
import type { ReferralsClient } from '../partner-center/referrals.ts';
import type { InboxEvent, JobTrigger, Link, Store } from '../store/store.ts';
import { crmVersionOf, stampSettled } from './crm-version.ts';
import { readMicrosoftSide, rememberMicrosoftSide } from './microsoft-side.ts';
import { alreadySeen, type OwnChanges } from './own-changes.ts';
import type { EngineSettings } from './settings.ts';

export interface IntakeContext {
  store: Store;
  referrals: ReferralsClient;
  crm: CrmAdapter;
  crmKind: CrmKind;
  settings: EngineSettings;
  logger: Logger;
  now: () => Date;
  /** cosell's own recent Partner Center writes: their webhooks need no read. */
  ownChanges: OwnChanges;
}

export const CURSORS = {
  crmChangeFeed: 'crm-change-feed',
  reconcile: 'reconcile:partner-center',
  /** When the change feed last brought a new change (the dashboard's "last event" from the CRM). */
  crmLastChange: 'crm-last-change',
} as const;

/** A Partner Center event as it arrives (reference §4); keys are read case-insensitively. */
export interface WebhookEvent {
  eventName: string;
  resourceUri: string;
  resourceChangeUtcDate: string;
}

export class WebhookEventError extends Error {
  override readonly name = 'WebhookEventError';
}

export function parseWebhookEvent(rawBody: string): WebhookEvent {
  let parsed: unknown;
  try {
    parsed = camelCaseKeys(JSON.parse(rawBody));
  } catch (error) {
    throw new WebhookEventError(`The webhook body is not JSON: ${(error as Error).message}`);
  }
  const event = (parsed ?? {}) as Record<string, unknown>;
  const text = (key: string) => (typeof event[key] === 'string' ? (event[key] as string) : '');
  if (!text('eventName') || !text('resourceUri')) {
    throw new WebhookEventError('The webhook body has no EventName or ResourceUri.');
  }
  return {
    eventName: text('eventName'),
    resourceUri: text('resourceUri'),
    resourceChangeUtcDate: text('resourceChangeUtcDate'),
  };
}

/** At-least-once delivery sends the same event again with the same three fields (R2). */
export function dedupeKeyOf(event: WebhookEvent): string {
  return `${event.eventName}|${event.resourceUri}|${event.resourceChangeUtcDate}`;
}

/** The ResourceUri host is not the Referrals API's (reference §4): the id is its last path segment. */
export function referralIdOf(event: WebhookEvent): string | null {
  try {
    const segments = new URL(event.resourceUri).pathname.split('/').filter(Boolean);
    return segments.length > 0 ? decodeURIComponent(segments[segments.length - 1]!) : null;
  } catch {
    const segments = event.resourceUri.split('/').filter(Boolean);
    return segments[segments.length - 1] ?? null;
  }
}

const isReferralEvent = (name: string) => name === 'referral-created' || name === 'referral-updated';
const isRelatedEvent = (name: string) => name.startsWith('related-referral-');

/**
 * Routes one inbox event to a job. `lookUp` false: only what needs no API call (referral events; related
 * events of a referral we already link) — the webhook handler answers 2xx right after. Returns false when the
 * event still needs a look-up (a related referral we do not know: resolved through its engagement, R2), or waits
 * for its link's running job. An event for a change cosell has already seen (its own write) queues nothing.
 */
export async function routeInboxEvent(
  ctx: IntakeContext,
  inbox: InboxEvent,
  lookUp: boolean,
): Promise<boolean> {
  const { store } = ctx;
  let event: WebhookEvent;
  try {
    event = parseWebhookEvent(inbox.payload);
  } catch (error) {
    ctx.logger.warn({ event: 'inbox-unreadable', inboxId: inbox.id, reason: (error as Error).message });
    await store.markInboxProcessed(inbox.id, ctx.now());
    return true;
  }
  const referralId = referralIdOf(event);
  if (!referralId || (!isReferralEvent(event.eventName) && !isRelatedEvent(event.eventName))) {
    // test-created and anything we did not subscribe to: stored, nothing to sync.
    await store.markInboxProcessed(inbox.id, ctx.now());
    return true;
  }
  const trigger: JobTrigger = 'partner-center-webhook';
  const known = await store.linkByReferral(referralId);
  if (known && isReferralEvent(event.eventName)) {
    // A job of this link running now may be writing this very change (Partner Center can send the webhook
    // before the write's answer arrives): route the event once that job has finished, when it can be told apart.
    if ((await store.listJobs({ linkId: known.id, state: 'running', limit: 1 })).length > 0) return false;
    const snapshot = await store.getSnapshot(known.id);
    if (alreadySeen(ctx.ownChanges, referralId, event.resourceChangeUtcDate, snapshot)) {
      ctx.logger.debug({
        event: 'webhook-already-seen',
        referralId,
        linkId: known.id,
        eventName: event.eventName,
      });
      await store.markInboxProcessed(inbox.id, ctx.now());
      return true;
    }
  }
  if (known) {
    await store.enqueueJob(known.id, trigger, ctx.now());
  } else if (isReferralEvent(event.eventName)) {
    const { link } = await store.findOrCreateLinkForReferral(referralId, {
      crmKind: ctx.crmKind,
      dealKind: 'opportunity',
    });
    await store.enqueueJob(link.id, trigger, ctx.now());
  } else {
    if (!lookUp) return false;
    await routeRelatedReferral(ctx, referralId, trigger);
  }
  await store.markInboxProcessed(inbox.id, ctx.now());
  return true;
}

/** A related-referral event names Microsoft's referral: our link is the one of the same engagement. */
async function routeRelatedReferral(
  ctx: IntakeContext,
  referralId: string,
  trigger: JobTrigger,
): Promise<void> {
  const { referral } = await ctx.referrals.get(referralId);
  if (isMicrosoftSide(referral)) await rememberMicrosoftSide(ctx.store, referral);
  const links = referral.engagementId ? await ctx.store.linksByEngagement(referral.engagementId) : [];
  if (links.length === 0) {
    if (!isMicrosoftSide(referral)) {
      const { link } = await ctx.store.findOrCreateLinkForReferral(referralId, {
        crmKind: ctx.crmKind,
        dealKind: 'opportunity',
        engagementId: referral.engagementId ?? null,
      });
      await ctx.store.enqueueJob(link.id, trigger, ctx.now());
      return;
    }
    // Our referral of that engagement is not linked yet (its create is still being confirmed): the create
    // syncs it, and the reconcile sweep catches anything else.
    ctx.logger.info({ event: 'related-referral-unlinked', referralId, engagementId: referral.engagementId });
    return;
  }
  for (const link of links) await ctx.store.enqueueJob(link.id, trigger, ctx.now());
}

// ---- CRM change feed -------------------------------------------------------------------------------------

/**
 * Remembers which hints were already queued, so the overlap window (the same changes listed again on the next
 * polls) costs no jobs. Keyed by deal, reason and stamp; entries are dropped once far behind the cursor.
 */
export class SeenChanges {
  /** key -> the change's stamp (ms; NaN when the CRM gave none), and whether it was settled when queued. */
  private readonly seen = new Map<string, { stamp: number; settled: boolean }>();

  /** Not queued yet, or queued within its stamp's second and now settled: a second save in that second carries
   *  the same stamp (crm-version.ts), so it gets one more look once the second is over. */
  isNew(change: DealChange, at: Date): boolean {
    const entry = this.seen.get(keyOf(change));
    if (!entry) return true;
    return !entry.settled && settledAt(change, at);
  }

  remember(change: DealChange, at: Date): void {
    this.seen.set(keyOf(change), {
      stamp: Date.parse(change.modifiedAt ?? ''),
      settled: settledAt(change, at),
    });
    // A feed that never says what it re-lists (or a burst) must not grow this without bound: forgetting a
    // hint costs at most one extra job, never a lost change.
    while (this.seen.size > SeenChanges.MAX_ENTRIES)
      this.seen.delete(this.seen.keys().next().value as string);
  }

  static readonly MAX_ENTRIES = 50_000;

  /** Changes stamped before `at` can no longer be listed (they are behind cursor - overlap). */
  forgetBefore(at: number): void {
    for (const [key, { stamp }] of this.seen) if (!(stamp >= at)) this.seen.delete(key);
  }
}

/** A row version names one version; a time stamp only once its second is over. */
const settledAt = (change: DealChange, at: Date) =>
  Boolean(change.version) || !change.modifiedAt || stampSettled(change.modifiedAt, at);

const keyOf = (change: DealChange) =>
  `${change.id}|${change.reason}|${change.modifiedAt ?? ''}|${change.version ?? ''}|${change.deleted ? 1 : 0}`;

/** One poll of the CRM change feed; returns how many new hints became jobs. */
export async function pollCrmChanges(ctx: IntakeContext, seen: SeenChanges): Promise<number> {
  const { store } = ctx;
  const cursor = await store.getCursor(CURSORS.crmChangeFeed);
  const page = await ctx.crm.listChangedDeals(cursor, {
    overlapMs: ctx.settings.crmPoll.overlapMs,
    now: ctx.now(),
  });
  const now = ctx.now();
  let queued = 0;
  for (const change of page.changes) {
    if (!seen.isNew(change, now)) continue;
    if (await alreadySynced(ctx, change)) {
      seen.remember(change, now);
      continue;
    }
    let link: Link | null;
    if (change.deleted) {
      link = await store.linkByCrm(ctx.crmKind, change.id);
    } else {
      ({ link } = await store.findOrCreateLinkForCrm(ctx.crmKind, change.id, { dealKind: change.kind }));
    }
    if (link) {
      await store.enqueueJob(link.id, 'crm-poll', now);
      queued++;
    }
    seen.remember(change, now);
  }
  await store.setCursor(CURSORS.crmChangeFeed, page.cursor);
  if (queued > 0) await store.setCursor(CURSORS.crmLastChange, now.toISOString());
  // The cursor is the adapter's own (a timestamp, a delta link): only the adapter says what is re-listed.
  const relisted = page.relistsAfter ? Date.parse(page.relistsAfter) : Number.NaN;
  if (!Number.isNaN(relisted)) seen.forgetBefore(relisted - 1_000);
  return queued;
}

/**
 * The last sync of this deal read exactly this version of it: nothing to do. A change of a related record (account,
 * contact role, solution row) is stamped with that record's version, so only the deal's own change can match.
 */
async function alreadySynced(ctx: IntakeContext, change: DealChange): Promise<boolean> {
  if (change.deleted || change.reason !== 'deal') return false;
  const version = crmVersionOf(change);
  if (version === null) return false;
  const link = await ctx.store.linkByCrm(ctx.crmKind, change.id);
  if (!link) return false;
  return (await ctx.store.getSnapshot(link.id))?.crmVersion === version;
}

/** Fast after activity, doubling while idle, within the configured bounds. */
export function nextPollInterval(
  previousMs: number,
  queued: number,
  bounds: { minIntervalMs: number; maxIntervalMs: number },
): number {
  if (queued > 0) return bounds.minIntervalMs;
  return Math.min(bounds.maxIntervalMs, Math.max(bounds.minIntervalMs, previousMs * 2));
}

// ---- reconcile sweep (R26) -----------------------------------------------------------------------------

/**
 * Partner Center referrals by updatedDateTime, newest first, back to the watermark minus the overlap: what
 * a dropped webhook missed. Referrals whose snapshot already has that updatedDateTime cost nothing.
 */
export async function reconcileReferrals(ctx: IntakeContext): Promise<number> {
  const { store, settings } = ctx;
  const now = ctx.now();
  const stored = await store.getCursor(CURSORS.reconcile);
  const watermark = stored ? Date.parse(stored) : now.getTime() - settings.reconcile.initialLookbackMs;
  const since = watermark - settings.reconcile.overlapMs;
  let newest = watermark;
  let queued = 0;
  pages: for await (const page of ctx.referrals.listPages({
    orderBy: [{ field: 'updatedDateTime', direction: 'desc' }],
  })) {
    for (const referral of page.referrals) {
      const updated = referral.updatedDateTime ? Date.parse(referral.updatedDateTime) : Number.NaN;
      if (Number.isNaN(updated) || updated < since) break pages;
      newest = Math.max(newest, updated);
      queued += await reconcileOne(ctx, referral);
    }
  }
  await store.setCursor(CURSORS.reconcile, new Date(newest).toISOString());
  return queued;
}

async function reconcileOne(ctx: IntakeContext, referral: Referral): Promise<number> {
  const { store } = ctx;
  const id = String(referral.id);
  const stamp = referral.updatedDateTime ?? '';
  if (isMicrosoftSide(referral)) {
    if (!referral.engagementId) return 0;
    // Every place that stores this version of Microsoft's side (a webhook, a sync, this sweep) queued our links
    // for it first or right after, durably: the same version in the sweep's overlap, or found again after a
    // restart, costs no job.
    if (
      (await readMicrosoftSide(store, referral.engagementId))?.updatedAt ===
      (referral.updatedDateTime ?? null)
    )
      return 0;
    const links = await store.linksByEngagement(referral.engagementId);
    for (const link of links) await store.enqueueJob(link.id, 'reconcile', ctx.now());
    await rememberMicrosoftSide(store, referral);
    return links.length;
  }
  const link = await store.linkByReferral(id);
  if (link) {
    if (link.state !== 'active') return 0;
    const snapshot = await store.getSnapshot(link.id);
    // Unchanged since the last success — or since the CRM refused to create its record: only a change in
    // Partner Center or a resubmit tries that again (a refusal repeats until someone fixes something).
    if (snapshot?.referralUpdatedAt === stamp && (!snapshot.error || !link.crmId)) return 0;
    await store.enqueueJob(link.id, 'reconcile', ctx.now());
    return 1;
  }
  const created = await store.findOrCreateLinkForReferral(id, {
    crmKind: ctx.crmKind,
    dealKind: 'opportunity',
    engagementId: referral.engagementId ?? null,
  });
  await store.enqueueJob(created.link.id, 'reconcile', ctx.now());
  return 1;
}

/** Links whose last sync failed (validation, closed referral) are checked again: a fix may not touch the deal. */
export async function requeueFailedLinks(ctx: IntakeContext): Promise<number> {
  const { store } = ctx;
  let queued = 0;
  let afterId = 0;
  // A new referral whose CRM record was refused has nothing in the CRM to re-check (no CRM id): it waits for a
  // change in Partner Center (webhook, sweep) or a resubmit, and failedLinkIds leaves it out.
  for (;;) {
    const ids = await store.failedLinkIds({ afterId, limit: 500 });
    if (ids.length === 0) break;
    for (const id of ids) {
      await store.enqueueJob(id, 'reconcile', ctx.now());
      queued++;
    }
    afterId = ids[ids.length - 1]!;
  }
  return queued;
}
