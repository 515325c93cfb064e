// The sync of one link (DESIGN.md §3): read both sides fresh (events are only hints), diff the normalised
// values against the last-synced snapshot, write only what changed, audit line and ✔ in the same CRM update
// as the data. Three shapes of link: referral only (new from Partner Center), deal only (a seller shared an
// opportunity), or both. Failures the seller must fix are thrown as SyncRefusal; the worker writes the ✖.
import { formatAuditLine, type SyncDirection } from '../core/audit.ts';
import {
  coSellConversionProblems,
  coSellConversionRequest,
  microsoftInvitationFor,
  SHARE_WITH_MICROSOFT_POINTER,
} from '../core/cosell-conversion.ts';
import {
  isCoSell,
  isLead,
  type RuleProblem,
  validateReferralForCreate,
  validateReferralUpdate,
  withServicesCoSellAttributes,
} from '../core/cosell-rules.ts';
import type { Deal, DealFields } from '../core/deal.ts';
import {
  createBodyOf,
  crmWriteFor,
  dealValues,
  defaultCloseDate,
  describeChange,
  fitContact,
  fitNewDeal,
  heldMoneyValues,
  isAwaitingAnswer,
  isEmptyCrmWrite,
  isMicrosoftSide,
  moneyProblemOf,
  newDealFromReferral,
  referralFromDeal,
  referralListItems,
  referralValues,
  servicesCoSellOf,
  syncMappingWith,
  withoutMoney,
} from '../core/deal-values.ts';
import {
  diffAgainstSnapshot,
  type FieldDiff,
  referralPatchFor,
  type SnapshotDiff,
  snapshotAfter,
  writesToCrm,
  writesToReferral,
} from '../core/diff.ts';
import { fitReferralValues } from '../core/fit.ts';
import { HOW_CAN_MICROSOFT_HELP_LABELS, referralValueOf, type Values } from '../core/mapping.ts';
import type { PatchOperation } from '../core/patchable.ts';
import { fromJsonPointer, setPath } from '../core/paths.ts';
import type { AssistanceCode, Referral } from '../core/referral.ts';
import { checkValuesForPartnerCenter } from '../core/value-rules.ts';
import type { CrmAdapter, CrmKind, SyncWrite } from '../crm/port.ts';
import { PartnerCenterError } from '../partner-center/errors.ts';
import type { ReferralsClient } from '../partner-center/referrals.ts';
import type {
  JobTrigger,
  Link,
  RunDirection,
  RunFieldChange,
  RunOutcome,
  Snapshot,
  Store,
} from '../store/store.ts';
import { crmVersionOf } from './crm-version.ts';
import { SyncRefusal } from './errors.ts';
import {
  type AttemptState,
  unchangedSinceFailure as isUnchangedSinceFailure,
  stateDigest,
} from './failed-states.ts';
import { describeMicrosoftSide, readMicrosoftSide, rememberMicrosoftSide } from './microsoft-side.ts';
import type { EngineSettings } from './settings.ts';

export interface SyncContext {
  store: Store;
  referrals: ReferralsClient;
  crm: CrmAdapter;
  crmKind: CrmKind;
  settings: EngineSettings;
  now: () => Date;
  referralLinkFor: (referralId: string) => string;
}

export interface SyncResult {
  outcome: Exclude<RunOutcome, 'failed' | 'dead'>;
  direction: RunDirection;
  link: Link;
  referralId: string | null;
  crmId: string | null;
  diff: RunFieldChange[];
  /** Why nothing was done, for skipped runs. */
  note?: string;
  /** A hint ignored on purpose that an admin should hear about (R16): on the run and logged as a warning. */
  ignored?: { message: string; fix: string | null };
  /** The sync went through but part of it could not (a currency the CRM has not enabled): ✖ on the record,
   *  on the run and logged as a warning. */
  problem?: { message: string; fix: string | null };
}

/** A problem that leaves the rest of the sync going (the ✖ and the audit line say it; the snapshot keeps it). */
type SyncProblem = { rule: string; message: string; fix: string };

interface PreRead {
  referral?: Referral;
  eTag?: string | undefined;
  deal?: Deal;
  /** The referral was just created by this sync (the audit line says "created", not "linked"). */
  created?: boolean;
}

/**
 * The referral as the last sync saw it, for a job only the CRM asked for: Partner Center's own changes come as
 * webhooks (and the reconcile sweep), each a job that reads it. The write carries If-Match on the cached eTag,
 * so a change cosell has not seen yet answers 412 and the sync runs again on a fresh read.
 */
function cachedReferral(
  snapshot: Snapshot | null,
  trigger: JobTrigger,
  attempt: AttemptState,
): { referral: Referral; eTag: string } | undefined {
  if (trigger !== 'crm-poll' || attempt.readReferral || snapshot?.error) return undefined;
  if (!snapshot?.referral || !snapshot.referralETag) return undefined;
  return { referral: snapshot.referral, eTag: snapshot.referralETag };
}

/**
 * The referral as the backfill listed it (kept in the snapshot when it was queued), for its import: a first try
 * only, since a re-run after a 412 or a failure reads Partner Center.
 */
async function listedReferral(
  ctx: SyncContext,
  link: Link,
  trigger: JobTrigger,
  attempt: AttemptState,
): Promise<{ referral: Referral; eTag: string } | undefined> {
  if (trigger !== 'backfill' || attempt.readReferral) return undefined;
  const snapshot = await ctx.store.getSnapshot(link.id);
  if (snapshot?.error || !snapshot?.referral || !snapshot.referralETag) return undefined;
  if (String(snapshot.referral.id) !== link.referralId) return undefined;
  return { referral: snapshot.referral, eTag: snapshot.referralETag };
}

/** Triggers that may mean Microsoft's side of the engagement moved (its events only reach us as hints). */
const MICROSOFT_SIDE_TRIGGERS: readonly JobTrigger[] = [
  'partner-center-webhook',
  'reconcile',
  'resubmit',
  'manual',
];

/** The note of a run skipped because a hint found a failed link as it was when it failed. */
export const UNCHANGED_SINCE_FAILURE =
  'Nothing changed on either side since the last failure (our own ✖ write coming back): not tried again.';

/** `attempt` receives what the sync saw, so the worker can remember it if the attempt fails for good. */
export async function syncLink(
  ctx: SyncContext,
  link: Link,
  trigger: JobTrigger,
  attempt: AttemptState = {},
): Promise<SyncResult> {
  attempt.startedAt = ctx.now();
  if (link.referralId && link.crmId) return syncPair(ctx, link, trigger, {}, attempt);
  if (link.referralId) return syncReferralOnly(ctx, link, trigger, attempt);
  if (link.crmId) return syncDealOnly(ctx, link, trigger, attempt);
  return result(link, 'skipped', 'none', [], 'The link names neither a referral nor a CRM record.');
}

// ---- referral only: a new referral from Partner Center (R4, R5, R16) ------------------------------------------

async function syncReferralOnly(
  ctx: SyncContext,
  link: Link,
  trigger: JobTrigger,
  attempt: AttemptState,
): Promise<SyncResult> {
  const { store, settings } = ctx;
  const { referral, eTag } =
    (await listedReferral(ctx, link, trigger, attempt)) ?? (await ctx.referrals.get(link.referralId!));
  const referralId = String(referral.id);
  attempt.referralUpdatedAt = referral.updatedDateTime ?? null;
  if (referral.name) attempt.name = referral.name;
  attempt.customer = referral.customerProfile?.name ?? attempt.customer;

  if (isMicrosoftSide(referral)) {
    // Microsoft's referral of one of our engagements: the hint is for our own referral's link (R2, R7).
    await rememberMicrosoftSide(store, referral);
    const ours = referral.engagementId ? await store.linksByEngagement(referral.engagementId) : [];
    for (const other of ours.filter((l) => l.id !== link.id && l.referralId !== referralId)) {
      await store.enqueueJob(other.id, trigger, ctx.now());
    }
    return result(link, 'skipped', 'none', [], "Microsoft's side of an engagement: its own link was queued.");
  }

  const crmId = referral.externalReferenceId ?? null;
  if (crmId) {
    // A referral naming a CRM record is linked to it, never created again (DESIGN.md §3).
    const existing = await store.linkByCrm(ctx.crmKind, crmId);
    if (existing) {
      const joined = await store.findOrCreateLinkForReferral(referralId, {
        crmKind: ctx.crmKind,
        dealKind: existing.dealKind,
        crmId,
        engagementId: referral.engagementId ?? null,
      });
      // The CRM record's own job (maybe its create, still running) carries on; sync the pair after it.
      await store.enqueueJob(joined.link.id, trigger, ctx.now());
      return result(joined.link, 'skipped', 'none', [], `Joined the link of CRM record ${crmId}.`);
    }
    // The referral's category says which kind of record it names (a converted lead's referral is relinked to
    // its opportunity, R9).
    const deal = await ctx.crm.findDeal({ kind: isLead(referral) ? 'lead' : 'opportunity', id: crmId });
    if (!deal) {
      // R16: ignored, not failed — nothing to resubmit, no ✖ anywhere; the run and the log say why.
      const ignored = {
        message: `Referral '${referral.name ?? referralId}' names CRM record ${crmId} (externalReferenceId), which does not exist in the CRM: the event is ignored and nothing is created (R16).`,
        fix: "Correct the referral's externalReferenceId in Partner Center if it belongs to another CRM record.",
      };
      return { ...result(link, 'skipped', 'none', [], ignored.message), ignored };
    }
    const joined = await store.findOrCreateLinkForReferral(referralId, {
      crmKind: ctx.crmKind,
      dealKind: deal.kind,
      crmId,
      engagementId: referral.engagementId ?? null,
    });
    return syncPair(ctx, joined.link, trigger, { referral, eTag, deal }, attempt);
  }

  if (settings.syncCoSellOnly && isLead(referral)) {
    return result(link, 'skipped', 'none', [], 'A lead, and "sync co-sell opportunities only" is on.');
  }
  if (referral.status === 'Closed') {
    return result(link, 'skipped', 'none', [], 'A closed referral with no CRM record is not imported (R34).');
  }

  const kind = isLead(referral) ? 'lead' : 'opportunity';
  const [support, limits] = await Promise.all([ctx.crm.currencies(), ctx.crm.fieldLimits(kind)]);
  const problem = moneyProblemOf(referral, support);
  // The snapshot is what the CRM will hold: values cut to its fields, and no deal value in a currency it lacks.
  let values = fitReferralValues(referralValues(referral, { dealKind: kind }), limits);
  // Microsoft sends many referrals without a close date, which Salesforce requires: cosell picks one and says so.
  const closeDate = referral.details?.closingDateTime
    ? null
    : settings.defaultCloseDays
      ? defaultCloseDate(ctx.now(), settings.defaultCloseDays)
      : null;
  if (closeDate) values = { ...values, closeDate };
  if (problem) values = { ...withoutMoney(values), ...heldMoneyValues(support) };
  const diff = Object.entries(values).map(
    ([field, after]): RunFieldChange => ({
      field,
      change: 'changedInPartnerCenter',
      winner: 'partnerCenter',
      after,
    }),
  );
  if (settings.dryRun) return result(link, 'changed', 'toCrm', diff, 'dry run: would create the CRM deal');

  const fitted = fitNewDeal(newDealFromReferral(referral, kind), limits);
  const input = fitted.deal;
  if (problem) input.fields = { ...input.fields, value: null, currency: null };
  if (closeDate) input.fields = { ...input.fields, closeDate };
  const extraFields = settings.mapping.createDefaults[kind];
  if (Object.keys(extraFields).length > 0) input.extraFields = extraFields;
  const owner = await ownerOf(ctx, referral);
  if (owner.id) input.ownerId = owner.id;
  const msx = referral.trackingInfo?.microsoftMsxId;
  const created = await ctx.crm.createDeal(input, {
    referralLink: ctx.referralLinkFor(referralId),
    ...(msx ? { microsoftCrmId: msx } : {}),
    auditLine: formatAuditLine({
      now: ctx.now(),
      direction: 'PC->CRM',
      changes: [
        `created from referral ${referralId}`,
        ...(owner.note ? [owner.note] : []),
        ...(closeDate
          ? [
              `close date ${closeDate} set by cosell: the referral has none (engine.defaultCloseDays = ${settings.defaultCloseDays}); change it here and Partner Center gets it`,
            ]
          : []),
        ...fitted.notes,
      ],
      ...(problem ? { error: problem } : {}),
    }),
    ...markOf(settings, problem),
  });
  // What the CRM record holds is recorded before the link names the record, and before anything else can fail
  // (the write-back's 412 when Microsoft edits the referral meanwhile, a crash): the re-run then sees Microsoft's
  // edit as a Partner Center change to follow, not as two values where a field's owner wins. A crash between the
  // two commits leaves a link without a CRM id, whose re-run finds the record and adopts it, never a linked
  // record without a base. A record an earlier, interrupted run created holds what that run read, so its own
  // values are the baseline.
  const existing = created.created ? null : await ctx.crm.findDeal({ kind: created.kind, id: created.id });
  const baseline = existing
    ? dealValues(existing, { snapshot: null, defaultCurrency: support.corporate || settings.defaultCurrency })
    : values;
  await store.saveSnapshot(link.id, {
    values: baseline,
    referralETag: eTag ?? null,
    referralUpdatedAt: referral.updatedDateTime ?? null,
    referral: eTag ? referral : null,
    crmVersion: null,
    error: problem ? { rule: problem.rule, message: problem.message } : null,
  });
  let current =
    created.kind === link.dealKind
      ? await store.attachCrm(link.id, created.id)
      : await store.replaceCrmId(link.id, created.id, created.kind);

  // The referral names its CRM record (R4), so Partner Center users and later syncs can find it.
  let after: { eTag: string | null; updatedAt: string | null; referral: Referral | null } = {
    eTag: eTag ?? null,
    updatedAt: referral.updatedDateTime ?? null,
    referral,
  };
  if (!referral.externalReferenceId) {
    const updated = await ctx.referrals.update(
      referralId,
      [{ op: 'replace', path: '/externalReferenceId', value: created.id }],
      { ...(eTag ? { ifMatch: eTag } : {}), returnRepresentation: true },
    );
    after = updated
      ? { eTag: updated.eTag ?? null, updatedAt: updated.updatedDateTime ?? null, referral: updated }
      : { ...after, referral: null };
  }
  if (referral.engagementId && !current.engagementId) {
    current = await store.attachReferral(current.id, referralId, referral.engagementId);
  }
  await store.saveSnapshot(current.id, {
    values: baseline,
    referralETag: after.eTag,
    referralUpdatedAt: after.updatedAt,
    referral: after.eTag ? after.referral : null,
    crmVersion: null,
    error: problem ? { rule: problem.rule, message: problem.message } : null,
  });
  if (existing) {
    // The referral may have changed since that earlier run read it: the pair sync brings the record up to date.
    await store.enqueueJob(current.id, trigger, ctx.now());
  }
  return {
    ...result(current, created.created ? 'changed' : 'unchanged', 'toCrm', diff),
    ...(problem ? { problem: { message: problem.message, fix: problem.fix } } : {}),
  };
}

// ---- deal only: a seller shared an opportunity (R10, R12) ------------------------------------------------

async function syncDealOnly(
  ctx: SyncContext,
  link: Link,
  trigger: JobTrigger,
  attempt: AttemptState,
): Promise<SyncResult> {
  const { store, settings } = ctx;
  const deal = await ctx.crm.findDeal({ kind: link.dealKind, id: link.crmId! });
  if (deal) attempt.name = deal.name;
  if (deal?.account?.name) attempt.customer = deal.account.name;
  if (!deal) {
    const orphaned = await store.setLinkState(link.id, 'orphaned');
    return result(orphaned, 'skipped', 'none', [], 'The CRM record was deleted (R31).');
  }
  if (deal.kind === 'lead' && deal.convertedOpportunityId) {
    // The change feed still lists a lead after its conversion: its opportunity carries the sync now (R9).
    const note = `A converted lead: opportunity ${deal.convertedOpportunityId} carries the sync.`;
    return result(link, 'skipped', 'none', [], note);
  }
  if (deal.mergedInto) {
    const note = `Merged into ${deal.kind} ${deal.mergedInto.id}, which carries the sync.`;
    return result(link, 'skipped', 'none', [], note);
  }
  if (deal.referralId) {
    // A Referral Identifier already on the record (a migration, R32, or our own create seen by the poll).
    const joined = await store.findOrCreateLinkForCrm(ctx.crmKind, deal.id, {
      dealKind: deal.kind,
      referralId: deal.referralId,
    });
    if (joined.link.id !== link.id || !joined.link.referralId) {
      await store.enqueueJob(joined.link.id, trigger, ctx.now());
      return result(joined.link, 'skipped', 'none', [], `Joined the link of referral ${deal.referralId}.`);
    }
    return syncPair(ctx, joined.link, trigger, { deal }, attempt);
  }
  if (!deal.syncWithPartnerCenter) {
    return result(link, 'skipped', 'none', [], 'Sync with Partner Center is not ticked.');
  }
  if (deal.kind === 'lead') {
    return result(link, 'skipped', 'none', [], 'Leads are not sent to Partner Center by this version.');
  }
  if (await unchangedSinceFailure(ctx, link, trigger, stateDigest(deal, null), attempt)) {
    return result(link, 'skipped', 'none', [], UNCHANGED_SINCE_FAILURE);
  }

  // After an unknown outcome (timeout, crash) the referral may exist: adopt it rather than POST again.
  let intent = await store.pendingCreateIntent(link.id);
  let referral: Referral | null = null;
  if (intent) {
    const since = new Date(intent.createdAt.getTime() - settings.createLookupMarginMs);
    referral = await ctx.referrals.findRecentOutgoingByExternalReferenceId(intent.externalReferenceId, since);
  }

  const support = await ctx.crm.currencies();
  const defaultCurrency = support.corporate || settings.defaultCurrency;
  if (referral) {
    // Adopted: the pair sync confirms the intent and writes the identifiers, diffing against the values the
    // referral was created from (saved before the POST).
    const linked = await store.attachReferral(link.id, String(referral.id), referral.engagementId ?? null);
    return syncPair(ctx, linked, trigger, { referral, deal }, attempt);
  }

  const crmValues = dealValues(deal, { defaultCurrency });
  const desired = referralFromDeal(deal, { defaultCurrency, taxonomy: settings.servicesTaxonomy });
  const problems = [
    ...(desired.inviteContext ? servicesCoSellOf(deal, settings.servicesTaxonomy).problems : []),
    ...validateReferralForCreate(desired),
    ...checkValuesForPartnerCenter(desired, { now: ctx.now() }),
  ].filter((p) => p.severity === 'error');
  if (problems.length > 0) {
    throw new SyncRefusal(
      problems.map((p) => p.rule).join(','),
      problems.map((p) => p.message).join(' '),
      null,
      { deal, direction: 'CRM->PC' },
    );
  }
  if (settings.dryRun) {
    const diff = Object.entries(crmValues).map(
      ([field, after]): RunFieldChange => ({ field, change: 'changedInCrm', winner: 'crm', after }),
    );
    return result(link, 'changed', 'toReferral', diff, 'dry run: would create the referral');
  }
  intent ??= await store.recordCreateIntent({
    linkId: link.id,
    crmId: deal.id,
    externalReferenceId: deal.id,
  });
  // The values the referral is created from are the base of the first diff, kept before the POST: whatever
  // interrupts the write-back (a CRM outage, a crash), the next sync of the pair adopts the referral instead of
  // reading Partner Center's own decisions (a co-sell is visible to Microsoft sellers) as a seller's change.
  await store.saveSnapshot(link.id, {
    values: crmValues,
    referralETag: null,
    referralUpdatedAt: null,
    crmVersion: crmVersionOf(deal, attempt.startedAt ?? ctx.now()),
  });
  try {
    referral = await ctx.referrals.create(createBodyOf(desired));
  } catch (error) {
    // A refused create certainly created nothing; anything else leaves the intent for the look-up.
    if (error instanceof PartnerCenterError && error.status === 400)
      await store.abandonCreateIntent(intent.id);
    throw error;
  }
  const { link: linked } = await store.confirmCreateIntent(intent.id, String(referral.id), 'confirmed');
  const synced = await syncPair(ctx, linked, trigger, { referral, deal, created: true }, attempt);
  const runDiff = Object.entries(crmValues).map(
    ([field, after]): RunFieldChange => ({ field, change: 'changedInCrm', winner: 'crm', after }),
  );
  return { ...synced, outcome: 'changed', direction: 'toReferral', diff: runDiff };
}

// ---- both sides exist: the 3-way diff (R6, R7, R11, R13, R17, R19, R20, R31) ------------------------------------

async function syncPair(
  ctx: SyncContext,
  link: Link,
  trigger: JobTrigger,
  pre: PreRead,
  attempt: AttemptState,
): Promise<SyncResult> {
  const { store, settings } = ctx;
  const snapshot = await store.getSnapshot(link.id);
  const cached = pre.referral ? undefined : cachedReferral(snapshot, trigger, attempt);
  const [read, deal] = await Promise.all([
    pre.referral
      ? { referral: pre.referral, eTag: pre.eTag }
      : (cached ?? ctx.referrals.get(link.referralId!)),
    pre.deal ?? ctx.crm.findDeal({ kind: link.dealKind, id: link.crmId! }),
  ]);
  const referral = read.referral;
  const name = deal?.name ?? referral.name;
  if (name) attempt.name = name;
  const customer = deal?.account?.name ?? referral.customerProfile?.name;
  if (customer) attempt.customer = customer;
  if (!deal) {
    const orphaned = await store.setLinkState(link.id, 'orphaned');
    return result(orphaned, 'skipped', 'none', [], 'The CRM record was deleted; the referral stays (R31).');
  }
  if (deal.kind === 'lead' && deal.convertedOpportunityId) {
    const opportunityId = deal.convertedOpportunityId;
    const note = `lead ${link.crmId} converted to opportunity ${opportunityId}`;
    return relinkTo(ctx, link, { target: { kind: 'opportunity', id: opportunityId }, note }, read, trigger);
  }
  if (deal.mergedInto) {
    const target = { kind: deal.kind, id: deal.mergedInto.id };
    const note = `${deal.kind} ${deal.id} merged into ${deal.kind} ${target.id}`;
    const release = deal.mergedInto.recordKept ? deal : undefined;
    return relinkTo(ctx, link, { target, note, ...(release ? { release } : {}) }, read, trigger);
  }
  if (!deal.syncWithPartnerCenter) return unshare(ctx, link, deal);
  let current = link.state === 'active' ? link : await store.setLinkState(link.id, 'active');

  const digest = stateDigest(deal, read.eTag ?? referral.eTag ?? null);
  if (await unchangedSinceFailure(ctx, current, trigger, digest, attempt, snapshot)) {
    return result(current, 'skipped', 'none', [], UNCHANGED_SINCE_FAILURE);
  }
  const [support, limits] = await Promise.all([ctx.crm.currencies(), ctx.crm.fieldLimits(deal.kind)]);
  const problem = moneyProblemOf(referral, support);
  const microsoftCrmId = await microsoftSideCrmId(ctx, referral, snapshot, trigger);
  // R7: what Microsoft did with its side of a co-sell, said once on the record.
  const side = isMicrosoftSide(referral) ? null : await readMicrosoftSide(store, referral.engagementId);
  const sideLine = side ? describeMicrosoftSide(side, snapshotSide(snapshot)) : null;
  let referralSide = fitReferralValues(
    referralValues(referral, { linked: true, microsoftCrmId, dealKind: deal.kind }),
    limits,
  );
  let crmSide = dealValues(deal, {
    snapshot: snapshot?.values ?? null,
    defaultCurrency: support.corporate || settings.defaultCurrency,
  });
  // A currency the CRM has not enabled: neither side speaks for the money fields until it is (R21).
  if (problem) [referralSide, crmSide] = [withoutMoney(referralSide), withoutMoney(crmSide)];
  const diff = diffAgainstSnapshot({
    referral: referralSide,
    crm: crmSide,
    snapshot: snapshot?.values ?? null,
    mapping: syncMappingWith(settings.mapping.fields),
  });
  const toReferral = writesToReferral(diff);
  const toCrm = writesToCrm(diff);

  const { ops, createOnly } = referralPatchFor(toReferral, referralListItems(deal));
  const conversion = coSellConversionOf(referral, ops, createOnly, deal, settings);
  // The referral names its CRM record (R4): a write-back lost to a 412 or a crash at the create is made here.
  // Microsoft's own side of a co-sell never names a partner record.
  if (!referral.externalReferenceId && !isMicrosoftSide(referral))
    ops.push({ op: 'replace', path: '/externalReferenceId', value: deal.id });
  const warnings: string[] = [];
  if (ops.length > 0 || createOnly.length > 0) {
    const desired = desiredReferral(referral, ops, createOnly);
    const problems = [
      ...(conversion?.problems ?? []),
      ...validateReferralUpdate(referral, desired),
      // Only the fields about to be sent: an odd value already in Partner Center blocks nothing else.
      ...checkValuesForPartnerCenter(desired, {
        now: ctx.now(),
        paths: ops.map((op) => fromJsonPointer(op.path)),
      }),
    ];
    const errors = problems.filter((p) => p.severity === 'error');
    if (errors.length > 0) {
      throw new SyncRefusal(
        errors.map((p) => p.rule).join(','),
        errors.map((p) => p.message).join(' '),
        null,
        { deal, direction: 'CRM->PC' },
      );
    }
    // R11: create-only edits are reported, not silently dropped.
    warnings.push(...problems.filter((p) => p.severity === 'warning').map((p) => p.message));
  }
  const write = crmWriteFor(toCrm, deal, referral);
  // R11: a co-sell referral is visible to Microsoft sellers, in the CRM as in Partner Center.
  if (conversion && deal.visibleToMicrosoft !== true)
    write.patch.fields = { ...write.patch.fields, visibleToMicrosoft: true };
  // R8 by a field: accepting also takes the deal out of on-hold, so its stage and the field agree.
  if (
    deal.onHold &&
    deal.decision === 'accept' &&
    toReferral.some((d) => d.field === 'status' && d.value === 'Accepted')
  )
    write.patch.fields = { ...write.patch.fields, onHold: false };
  const fitNotes: string[] = [];
  if (write.patch.addContacts) {
    write.patch.addContacts = write.patch.addContacts.map((c) => fitContact(c, limits, fitNotes));
  }
  const rawNotes = referral.details?.notes;
  if (
    write.patch.fields?.notes &&
    typeof rawNotes === 'string' &&
    rawNotes.length > write.patch.fields.notes.length
  ) {
    fitNotes.push(`notes cut to ${write.patch.fields.notes.length} characters to fit the CRM field`);
  }
  // The error state moves when a problem appears, changes or clears: each is worth one audit line (R19, R20).
  const errorChanged = problem ? snapshot?.error?.message !== problem.message : snapshot?.error != null;
  // The pair was joined without our create finishing (a crash after the POST, then the referral's webhook
  // linked it): close the create-intent and write the identifiers the CRM record is still missing.
  const referralId = String(referral.id);
  const intent = await store.pendingCreateIntent(link.id);
  if (intent && !settings.dryRun) await store.confirmCreateIntent(intent.id, referralId, 'adopted');
  const missingIdentifiers = deal.referralId !== referralId;
  const changed =
    ops.length > 0 ||
    !isEmptyCrmWrite(write) ||
    warnings.length > 0 ||
    errorChanged ||
    missingIdentifiers ||
    sideLine !== null ||
    conversion !== null;
  const runDiff = runDiffOf(diff);
  const direction: RunDirection =
    ops.length > 0 && !isEmptyCrmWrite(write)
      ? 'both'
      : ops.length > 0
        ? 'toReferral'
        : !isEmptyCrmWrite(write)
          ? 'toCrm'
          : 'none';
  if (settings.dryRun)
    return result(current, changed ? 'changed' : 'unchanged', direction, runDiff, 'dry run');

  let referralState = {
    eTag: read.eTag ?? referral.eTag ?? null,
    updatedAt: referral.updatedDateTime ?? null,
    referral: referral as Referral | null,
  };
  if (ops.length > 0) {
    // If-Match: a 412 means Partner Center changed meanwhile (since our read, or since the last sync when the
    // referral came from the snapshot); the worker re-runs the whole sync on fresh reads.
    const updated = await ctx.referrals.update(String(referral.id), ops, {
      ...(referralState.eTag ? { ifMatch: referralState.eTag } : {}),
      returnRepresentation: true,
    });
    referralState = updated
      ? { eTag: updated.eTag ?? null, updatedAt: updated.updatedDateTime ?? null, referral: updated }
      : { ...referralState, referral: null };
  }
  if (conversion) await inviteMicrosoft(ctx, referral, conversion.invitation);

  if (changed) {
    const sentToReferral = toReferral.filter((f) => !createOnly.includes(f));
    const lines = [
      ...(missingIdentifiers ? [linkedLine(referral, deal, pre.created === true)] : []),
      ...sentToReferral.map((f) => describeChange(f, f.referral)),
      ...(conversion ? [conversionLine(conversion.help, referral)] : []),
      ...toCrm
        .filter(isVisible)
        .map((f) => `${describeChange(f, f.crm === undefined ? f.snapshot : f.crm)} (from Partner Center)`),
      ...(sideLine ? [sideLine] : []),
      ...fitNotes,
      ...warnings,
    ];
    const auditDirection: SyncDirection =
      ops.length > 0 ||
      warnings.length > 0 ||
      conversion !== null ||
      (missingIdentifiers && isOwnReferral(referral, deal))
        ? 'CRM->PC'
        : 'PC->CRM';
    const sync: SyncWrite = {
      ...write.sync,
      ...(missingIdentifiers ? { referralId, referralLink: ctx.referralLinkFor(referralId) } : {}),
      auditLine: formatAuditLine({
        now: ctx.now(),
        direction: auditDirection,
        changes: lines,
        // A problem already shown is not repeated: the ✖ stays, the line says only what changed.
        ...(problem && errorChanged ? { error: problem } : {}),
      }),
      ...markOf(settings, problem),
    };
    if (write.close) {
      await ctx.crm.closeDeal(deal, write.close, write.patch, sync);
    } else {
      await ctx.crm.updateDeal(deal, write.patch, sync);
    }
  }
  if (referral.engagementId && !current.engagementId) {
    current = await store.attachReferral(current.id, String(referral.id), referral.engagementId);
  }
  const after = conversion ? { ...snapshotAfter(diff), visibility: true } : snapshotAfter(diff);
  await store.saveSnapshot(current.id, {
    values: side?.substatus ? { ...after, [MICROSOFT_SIDE]: side.substatus } : after,
    referralETag: referralState.eTag,
    referralUpdatedAt: referralState.updatedAt,
    referral: referralState.eTag ? referralState.referral : null,
    crmVersion: crmVersionOf(deal, attempt.startedAt ?? ctx.now()),
    error: problem ? { rule: problem.rule, message: problem.message } : null,
  });
  return {
    ...result(current, changed ? 'changed' : 'unchanged', direction, runDiff),
    ...(problem ? { problem: { message: problem.message, fix: problem.fix } } : {}),
  };
}

/**
 * R29: who owns the record of a referral Microsoft sent: the CRM user with the e-mail of one of the referral's
 * partner team members, else the configured default owner. The note says which, for the audit line.
 */
async function ownerOf(
  ctx: SyncContext,
  referral: Referral,
): Promise<{ id: string | null; note: string | null }> {
  if (referral.direction !== 'Incoming') return { id: null, note: null };
  const emails = (referral.team ?? []).map((m) => m.email?.trim()).filter((e): e is string => Boolean(e));
  for (const email of emails) {
    const id = await ctx.crm.findUserByEmail(email);
    if (id) return { id, note: `owner ${email} (partner team member)` };
  }
  const unmatched = emails.length
    ? `no CRM user has the e-mail of the partner team (${emails.join(', ')})`
    : 'the referral names no partner team member';
  const fallback = ctx.settings.defaultOwnerId;
  return fallback
    ? { id: fallback, note: `owner: the default owner, as ${unmatched}` }
    : { id: null, note: `owner: the integration user, as ${unmatched} and engine.defaultOwnerId is not set` };
}

/** The snapshot key of what Microsoft's side last said (not a mapped field: shown on the record, never synced). */
const MICROSOFT_SIDE = 'microsoftSide';

function snapshotSide(snapshot: Snapshot | null): string | null {
  const value = snapshot?.values?.[MICROSOFT_SIDE];
  return typeof value === 'string' ? value : null;
}

/** The referral was created from this deal (by this sync or one that was interrupted before its write-back). */
function isOwnReferral(referral: Referral, deal: Deal): boolean {
  return referral.direction === 'Outgoing' && referral.externalReferenceId === deal.id;
}

/** The first audit words of a pair whose CRM record does not carry its Referral Identifier yet. */
function linkedLine(referral: Referral, deal: Deal, createdNow: boolean): string {
  const id = String(referral.id);
  if (createdNow) return `created referral ${id}`;
  if (isOwnReferral(referral, deal)) return `created referral ${id} (written back after an interruption)`;
  return `linked to referral ${id}`;
}

/**
 * Records what this attempt saw (for the worker, should it fail for good) and tells whether a change-feed hint
 * finds the link exactly as its last failure left it: then the failure would only repeat, and the hint is most
 * likely the echo of the ✖ that failure wrote.
 */
async function unchangedSinceFailure(
  ctx: SyncContext,
  link: Link,
  trigger: JobTrigger,
  digest: string,
  attempt: AttemptState,
  snapshot?: Snapshot | null,
): Promise<boolean> {
  attempt.seen = { linkId: link.id, digest };
  const state = snapshot === undefined ? await ctx.store.getSnapshot(link.id) : snapshot;
  return isUnchangedSinceFailure(state?.error, digest, trigger);
}

/** R31: un-ticking Sync with Partner Center stops the sync of that record; the link is kept. */
async function unshare(ctx: SyncContext, link: Link, deal: Deal): Promise<SyncResult> {
  if (link.state === 'unshared')
    return result(link, 'skipped', 'none', [], 'Sync with Partner Center is off.');
  if (!ctx.settings.dryRun) {
    await ctx.crm.updateDeal(
      deal,
      {},
      {
        auditLine: formatAuditLine({
          now: ctx.now(),
          direction: 'CRM->PC',
          changes: [
            'Sync with Partner Center unticked: this deal no longer syncs; the referral stays in Partner Center',
          ],
        }),
        ...(ctx.settings.displayCheckMark ? { mark: null } : {}),
      },
    );
  }
  const unshared = ctx.settings.dryRun ? link : await ctx.store.setLinkState(link.id, 'unshared');
  return result(unshared, 'changed', 'toCrm', [], 'Sync with Partner Center unticked (R31).');
}

/** Where a link moves when the seller converted (R9) or merged (R31) its record. */
interface Relink {
  target: { kind: Deal['kind']; id: string };
  /** The audit and run note: what happened, in the seller's words. */
  note: string;
  /** A merged record that still exists holds the Referral Identifier (an alternate key in Dataverse): it is
   *  cleared there first, so the survivor can take it. */
  release?: Deal;
}

/**
 * R9 / R31: a seller converted (qualified) the lead of a referral, or merged its record into another. The new
 * record takes over the link: the referral names it (externalReferenceId), it carries the Referral Identifier,
 * Link and Sync flag, and the next pair sync sends what the seller entered meanwhile (and accepts the referral
 * when an open opportunity now answers it). Every step is idempotent: a retry after a crash finishes the move.
 */
async function relinkTo(
  ctx: SyncContext,
  link: Link,
  move: Relink,
  read: { referral: Referral; eTag?: string | null },
  trigger: JobTrigger,
): Promise<SyncResult> {
  const { store } = ctx;
  const referralId = String(read.referral.id);
  const { target } = move;
  const survivor = await ctx.crm.findDeal(target);
  if (!survivor) {
    return result(
      link,
      'skipped',
      'none',
      [],
      `${move.note}; ${target.kind} ${target.id} cannot be read yet.`,
    );
  }
  const held = await store.linkByCrm(ctx.crmKind, target.id);
  const other =
    held?.referralId && held.referralId !== referralId ? held.referralId : (survivor.referralId ?? null);
  if (other && other !== referralId)
    return keepOtherReferral(ctx, link, survivor, other, referralId, move.note);
  const note = `${move.note}, now linked to referral ${referralId}`;
  if (ctx.settings.dryRun)
    return result(link, 'changed', 'toReferral', [], `dry run: would relink (${note})`);
  if (read.referral.externalReferenceId !== target.id) {
    await ctx.referrals.update(
      referralId,
      [{ op: 'replace', path: '/externalReferenceId', value: target.id }],
      read.eTag ? { ifMatch: read.eTag } : {},
    );
  }
  if (move.release?.referralId) {
    await ctx.crm.updateDeal(
      move.release,
      {},
      {
        referralId: null,
        referralLink: null,
        auditLine: formatAuditLine({ now: ctx.now(), direction: 'PC->CRM', changes: [note] }),
      },
    );
  }
  // Neither a conversion nor a merge carries over the referral's visibility in every CRM: the record starts
  // from the referral's, and its first pair sync fills what it lacks.
  const visible = read.referral.consent?.consentToShareReferralWithMicrosoftSellers ?? null;
  const fields: Partial<DealFields> = {};
  if (!survivor.syncWithPartnerCenter) fields.syncWithPartnerCenter = true;
  if (survivor.kind === 'opportunity' && visible !== null && survivor.visibleToMicrosoft !== visible)
    fields.visibleToMicrosoft = visible;
  await ctx.crm.updateDeal(survivor, Object.keys(fields).length > 0 ? { fields } : {}, {
    referralId,
    referralLink: ctx.referralLinkFor(referralId),
    auditLine: formatAuditLine({ now: ctx.now(), direction: 'PC->CRM', changes: [note] }),
  });
  const relinked = await store.replaceCrmId(link.id, target.id, target.kind);
  // The old record's values say nothing about the new one: its first pair sync starts fresh (an empty side
  // takes the other's value; where both have one, the field's owner wins), keeping only whether the referral
  // still waits for an answer, so that an open opportunity accepts it (R8).
  const before = await store.getSnapshot(relinked.id);
  const status = before?.values?.status;
  await store.saveSnapshot(relinked.id, {
    values: status === undefined ? null : { status },
    crmVersion: null,
    error: null,
  });
  await store.enqueueJob(relinked.id, trigger, ctx.now());
  return result(relinked, 'changed', 'toReferral', [], note);
}

/**
 * R31: the record a seller merged into already syncs with another referral. A CRM record carries one referral,
 * so it keeps its own; the merged record's referral stays in Partner Center, no longer synced (the link is
 * orphaned, so `cosell runs` and doctor list it), and the survivor's audit says so.
 */
async function keepOtherReferral(
  ctx: SyncContext,
  link: Link,
  survivor: Deal,
  kept: string,
  dropped: string,
  what: string,
): Promise<SyncResult> {
  const note =
    `${what}, which already syncs with referral ${kept}: referral ${dropped} is no longer synced ` +
    '(update it in Partner Center or link it to another record)';
  if (ctx.settings.dryRun) return result(link, 'skipped', 'none', [], `dry run: ${note}`);
  await ctx.crm.updateDeal(
    survivor,
    {},
    {
      auditLine: formatAuditLine({ now: ctx.now(), direction: 'CRM->PC', changes: [note] }),
    },
  );
  const orphaned = await ctx.store.setLinkState(link.id, 'orphaned');
  return result(orphaned, 'skipped', 'none', [], note);
}

/** Microsoft's CRM id from its side of a co-sell engagement (R7), looked up only while we have none and only
 *  when a hint may come from that side: one list call. Undefined = not looked up. */
async function microsoftSideCrmId(
  ctx: SyncContext,
  referral: Referral,
  snapshot: Snapshot | null,
  trigger: JobTrigger,
): Promise<string | null | undefined> {
  if (
    !referral.engagementId ||
    referral.trackingInfo?.microsoftMsxId ||
    snapshot?.values?.microsoftCrmId ||
    referral.direction !== 'Outgoing' ||
    // Co-sell from the start, or made co-sell later (R11: the help then lives only in the snapshot).
    !(isCoSell(referral) || snapshot?.values?.howCanMicrosoftHelp) ||
    !MICROSOFT_SIDE_TRIGGERS.includes(trigger)
  ) {
    return undefined;
  }
  const related = await ctx.referrals.listRelated(referral.engagementId, { excludeId: String(referral.id) });
  return related.find(isMicrosoftSide)?.trackingInfo?.microsoftMsxId ?? null;
}

// ---- a non co-sell referral becomes co-sell (R11) ----------------------------------------------------------

interface CoSellConversion {
  help: AssistanceCode;
  invitation: Referral;
  problems: RuleProblem[];
}

/**
 * The seller asked Microsoft for help on a referral that is not co-sell: instead of a create-only warning, the
 * referral is shared with Microsoft sellers (added to `ops`) and Microsoft is invited into its engagement.
 * Takes the help edit out of `createOnly`.
 */
function coSellConversionOf(
  referral: Referral,
  ops: PatchOperation[],
  createOnly: FieldDiff[],
  deal: Deal,
  settings: EngineSettings,
): CoSellConversion | null {
  const edit = createOnly.find((f) => f.field === 'howCanMicrosoftHelp');
  const help = edit ? coSellConversionRequest(referral, edit.value) : null;
  if (!edit || !help) return null;
  createOnly.splice(createOnly.indexOf(edit), 1);
  const share = ops.find((op) => op.path === SHARE_WITH_MICROSOFT_POINTER);
  if (share) share.value = true;
  else if (referral.consent?.consentToShareReferralWithMicrosoftSellers !== true)
    ops.push({ op: 'replace', path: SHARE_WITH_MICROSOFT_POINTER, value: true });
  // Services co-sell (R11): the invitation is a new referral, so it can carry what the first one could not.
  const services = servicesCoSellOf(deal, settings.servicesTaxonomy);
  let invitation = microsoftInvitationFor(desiredReferral(referral, ops, []), help);
  if (services.attributes)
    invitation = withServicesCoSellAttributes(invitation, services.attributes, { mark: true });
  return { help, invitation, problems: [...services.problems, ...coSellConversionProblems(invitation)] };
}

/** POSTs the Microsoft-targeted referral unless the engagement has one (a retry after a lost answer). */
async function inviteMicrosoft(ctx: SyncContext, referral: Referral, invitation: Referral): Promise<void> {
  const related = referral.engagementId
    ? await ctx.referrals.listRelated(referral.engagementId, { excludeId: String(referral.id) })
    : [];
  if (related.some(isMicrosoftSide)) return;
  await ctx.referrals.create(createBodyOf(invitation));
}

function conversionLine(help: AssistanceCode, referral: Referral): string {
  const label = HOW_CAN_MICROSOFT_HELP_LABELS[help] ?? help;
  return `How can Microsoft help? (none) -> ${label}: referral ${referral.id} is now co-sell, visible to Microsoft sellers, and Microsoft is invited to its engagement`;
}

/** The referral as Partner Center would hold it after the patch, create-only edits included (for the rules). */
function desiredReferral(referral: Referral, ops: PatchOperation[], createOnly: FieldDiff[]): Referral {
  let out = referral;
  for (const op of ops) out = setPath(out, fromJsonPointer(op.path), op.value);
  for (const f of createOnly) {
    if (f.value !== undefined)
      out = setPath(out, f.mapping.referralPath, referralValueOf(f.mapping, f.value));
  }
  return out;
}

/** Status writes the CRM does not follow (an open stage) are not shown as changes. */
function isVisible(f: FieldDiff): boolean {
  return (
    f.field !== 'status' ||
    (f.value === 'Accepted' && isAwaitingAnswer(f.snapshot)) ||
    f.value === 'Won' ||
    f.value === 'Lost' ||
    f.value === 'Declined' ||
    f.value === 'Expired'
  );
}

function runDiffOf(diff: SnapshotDiff): RunFieldChange[] {
  return diff.fields
    .filter((f) => f.change !== 'unchanged')
    .map((f) => {
      const before = f.winner === 'crm' ? f.referral : f.crm;
      const entry: RunFieldChange = { field: f.field, change: f.change };
      if (f.winner) entry.winner = f.winner;
      if (before !== undefined) entry.before = before;
      if (f.value !== undefined) entry.after = f.value;
      return entry;
    });
}

function markOf(settings: EngineSettings, problem?: SyncProblem | null): Pick<SyncWrite, 'mark'> {
  if (!settings.displayCheckMark) return {};
  return { mark: problem ? 'error' : 'ok' };
}

function result(
  link: Link,
  outcome: SyncResult['outcome'],
  direction: RunDirection,
  diff: RunFieldChange[],
  note?: string,
): SyncResult {
  return {
    outcome,
    direction,
    link,
    referralId: link.referralId,
    crmId: link.crmId,
    diff,
    ...(note ? { note } : {}),
  };
}

export type { Values };
