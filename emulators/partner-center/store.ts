// The referrals the emulator holds and every way they change: a partner through the Referrals API, Microsoft
// through the control API, Partner Center itself (expiry), seeding. Each write stamps `updatedDateTime` and
// a new eTag and announces the matching webhook event.
import { checkPatch, createOnlyFieldsChanged } from '../../src/core/patchable.ts';
import { camelCaseKeys, referralSchema } from '../../src/core/referral.ts';
import {
  checkStatusPair,
  checkTransition,
  isClosed,
  REFERRAL_STATUSES,
  REFERRAL_SUBSTATUSES,
  type ReferralStatus,
  type ReferralSubstatus,
  type StatusPair,
  SUBSTATUSES_OF,
} from '../../src/core/transitions.ts';
import { addDays, type MonotonicClock, newETag, newId, newMsxId, toPartnerCenterTime } from './clock.ts';
import {
  DEMO_MPN_ID,
  DEMO_ORGANIZATION_ID,
  DEMO_ORGANIZATION_NAME,
  INCOMING_EXPIRY_DAYS,
  MICROSOFT_ORG_ID,
  MICROSOFT_ORG_NAME,
} from './constants.ts';
import { isRecord, PartnerCenterError } from './http.ts';
import { applyPatch, type PatchOp } from './jsonpatch.ts';
import { isCoSell, type RuleProblem, validateReferralForCreate, validateReferralUpdate } from './rules.ts';
import type { ReferralEventName } from './webhooks/hub.ts';

/** A referral as stored: the camelCase wire object without `links` (they depend on the caller's host). */
export type StoredReferral = Record<string, unknown>;

export type { ReferralEventName };

export type MicrosoftDecision = 'accept' | 'decline' | 'close-won' | 'close-lost';

const DECISIONS: Readonly<Record<MicrosoftDecision, StatusPair>> = {
  accept: { status: 'Active', substatus: 'Accepted' },
  decline: { status: 'Closed', substatus: 'Declined' },
  'close-won': { status: 'Closed', substatus: 'Won' },
  'close-lost': { status: 'Closed', substatus: 'Lost' },
};

/** Fields only Partner Center sets; ignored when a partner sends them on create (reference §3 readOnly). */
const SERVER_FIELDS = [
  'id',
  'organizationId',
  'organizationName',
  'createdDateTime',
  'updatedDateTime',
  'acceptedDateTime',
  'closedDateTime',
  'expirationDateTime',
  'direction',
  'eTag',
  'links',
  'quality',
  'isSpam',
  'tags',
  'registrations',
  'registrationStatus',
  'trackingInfo',
  '@odata.context',
  '@odata.etag',
] as const;

const SERVER_TIMES = [
  'createdDateTime',
  'updatedDateTime',
  'acceptedDateTime',
  'closedDateTime',
  'expirationDateTime',
] as const;
const PARTNER_CENTER_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$/;

const REQUIRED_ON_CREATE = ['type', 'customerProfile', 'consent', 'details'] as const;

export interface StoreOptions {
  clock: MonotonicClock;
  /** `changedAt`: the referral's `updatedDateTime`, the event's `ResourceChangeUtcDate`. */
  emit: (eventName: ReferralEventName, referralId: string, changedAt?: Date) => void;
}

const get = (value: unknown, ...keys: string[]): unknown => {
  let current = value;
  for (const key of keys) current = isRecord(current) ? current[key] : undefined;
  return current;
};

/** The Microsoft side of an engagement: the referral whose target is Microsoft's business profile. */
export function isMicrosoftSide(referral: StoredReferral): boolean {
  const target = referral.target;
  return (
    Array.isArray(target) &&
    target.some((t) => isRecord(t) && t.type === 'BusinessProfileLocation' && t.id === MICROSOFT_ORG_ID)
  );
}

function statusPairOf(referral: StoredReferral): StatusPair {
  const status = (REFERRAL_STATUSES as readonly unknown[]).includes(referral.status)
    ? (referral.status as ReferralStatus)
    : 'None';
  const substatus = (REFERRAL_SUBSTATUSES as readonly unknown[]).includes(referral.substatus)
    ? (referral.substatus as ReferralSubstatus)
    : (SUBSTATUSES_OF[status][0] ?? 'None');
  return { status, substatus };
}

function refuse(problems: RuleProblem[]): never {
  throw new PartnerCenterError(
    400,
    'invalidRequest',
    problems.map((p) => p.message).join(' '),
    problems[0]?.path ?? 'referral',
  );
}

/** camelCase keys and a schema check (types, enums, ISO dates); money strings become numbers. */
function normalise(input: unknown, what = 'referral'): StoredReferral {
  if (!isRecord(input))
    throw new PartnerCenterError(
      400,
      'invalidRequest',
      `The request body must be a ${what} JSON object.`,
      'body',
    );
  const result = referralSchema.safeParse(camelCaseKeys(input));
  if (!result.success) {
    const issues = result.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    const target = result.error.issues[0]?.path.join('.') || 'referral';
    throw new PartnerCenterError(
      400,
      'invalidRequest',
      `The ${what} is not valid: ${issues.join('; ')}.`,
      target,
    );
  }
  return result.data as StoredReferral;
}

function deepMerge(base: unknown, patch: unknown): unknown {
  if (!isRecord(base) || !isRecord(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch))
    out[key] = value === undefined ? base[key] : deepMerge(base[key], value);
  return out;
}

/** Writes remembered for `changedSince`; older list views are rebuilt instead of patched. */
const CHANGE_LOG_LIMIT = 10_000;

export class ReferralStore {
  private referrals = new Map<string, StoredReferral>();
  /** engagementId -> referral ids: joins and "is this engagement shared with Microsoft?" stay O(1) at 100k. */
  private engagements = new Map<string, Set<string>>();
  private changeLog: Array<{ version: number; id: string }> = [];
  /** The oldest version `changedSince` can answer for. */
  private logStart = 0;
  /** Bumped by every write. */
  version = 0;

  constructor(private readonly options: StoreOptions) {}

  get(id: string): StoredReferral | undefined {
    return this.referrals.get(id);
  }

  all(): StoredReferral[] {
    return [...this.referrals.values()];
  }

  get size(): number {
    return this.referrals.size;
  }

  clear(): void {
    this.referrals.clear();
    this.engagements.clear();
    this.version++;
    this.changeLog = [];
    this.logStart = this.version;
  }

  changedSince(version: number): string[] | undefined {
    if (version === this.version) return [];
    if (version < this.logStart) return undefined;
    return this.changeLog.filter((entry) => entry.version > version).map((entry) => entry.id);
  }

  toJSON(): StoredReferral[] {
    return this.all();
  }

  private require(id: string): StoredReferral {
    const referral = this.referrals.get(id);
    if (!referral)
      throw new PartnerCenterError(404, 'itemNotFound', `Referral '${id}' was not found.`, 'referral');
    return referral;
  }

  private engagement(engagementId: unknown): StoredReferral[] {
    const ids = this.engagements.get(String(engagementId)) ?? new Set<string>();
    return [...ids].map((id) => this.referrals.get(id)).filter((r): r is StoredReferral => r !== undefined);
  }

  private save(referral: StoredReferral, event: ReferralEventName | undefined): StoredReferral {
    const id = String(referral.id);
    const previous = this.referrals.get(id);
    if (previous && previous.engagementId !== referral.engagementId) {
      this.engagements.get(String(previous.engagementId))?.delete(id);
    }
    const engagementId = String(referral.engagementId);
    if (!this.engagements.has(engagementId)) this.engagements.set(engagementId, new Set());
    this.engagements.get(engagementId)!.add(id);
    this.referrals.set(id, referral);
    this.version++;
    this.changeLog.push({ version: this.version, id });
    if (this.changeLog.length > CHANGE_LOG_LIMIT) {
      this.changeLog = this.changeLog.slice(CHANGE_LOG_LIMIT / 2);
      this.logStart = this.changeLog[0]!.version - 1;
    }
    if (event) {
      const changedAt = new Date(String(referral.updatedDateTime));
      this.options.emit(
        event,
        referral.id as string,
        Number.isNaN(changedAt.getTime()) ? undefined : changedAt,
      );
    }
    return referral;
  }

  /** Stamps a write: new updatedDateTime and eTag, plus accepted/closed times on the matching moves. */
  private stamp(
    before: StatusPair | undefined,
    referral: StoredReferral,
    now = this.options.clock.timestamp(),
  ): StoredReferral {
    referral.updatedDateTime = now;
    referral.eTag = newETag();
    const after = statusPairOf(referral);
    if (after.status === 'Active' && before?.status !== 'Active' && !referral.acceptedDateTime)
      referral.acceptedDateTime = now;
    if (after.status === 'Closed' && before?.status !== 'Closed') referral.closedDateTime = now;
    return referral;
  }

  private eventFor(referral: StoredReferral, action: 'created' | 'updated'): ReferralEventName {
    return isMicrosoftSide(referral) ? `related-referral-${action}` : `referral-${action}`;
  }

  /** `POST /referrals`: a partner creates a referral (and, for co-sell, Partner Center opens Microsoft's side). */
  createByPartner(input: unknown): StoredReferral {
    const body = normalise(input);
    const missing = REQUIRED_ON_CREATE.filter((field) => body[field] === undefined || body[field] === null);
    if (missing.length > 0) {
      refuse(
        missing.map((field) => ({
          rule: 'required',
          path: field,
          message: `The field '${field}' is required to create a referral.`,
        })),
      );
    }
    const problems = validateReferralForCreate(body);
    if (problems.length > 0) refuse(problems);
    for (const field of SERVER_FIELDS) delete body[field];

    const microsoftSide = isMicrosoftSide(body);
    let engagementId =
      typeof body.engagementId === 'string' && body.engagementId !== '' ? body.engagementId : undefined;
    if (engagementId !== undefined) {
      const members = this.engagement(engagementId);
      if (members.length === 0) {
        throw new PartnerCenterError(
          400,
          'invalidRequest',
          `No engagement '${engagementId}' exists: omit engagementId to start a new engagement.`,
          'engagementId',
        );
      }
      if (microsoftSide && members.some(isMicrosoftSide)) {
        throw new PartnerCenterError(
          400,
          'invalidRequest',
          `Engagement '${engagementId}' is already shared with Microsoft: it has a referral targeting 'msft'.`,
          'target',
        );
      }
      // Microsoft sellers are invited into an engagement only after the partner shared it with them (R11).
      const shared = members.some(
        (m) =>
          !isMicrosoftSide(m) && get(m, 'consent', 'consentToShareReferralWithMicrosoftSellers') === true,
      );
      if (microsoftSide && !shared) {
        throw new PartnerCenterError(
          400,
          'invalidRequest',
          `Engagement '${engagementId}' is not shared with Microsoft sellers: set consent.consentToShareReferralWithMicrosoftSellers on the partner's referral before inviting Microsoft.`,
          'consent',
        );
      }
    }
    engagementId ??= newId();

    let pair: StatusPair = { status: 'Active', substatus: 'Accepted' };
    if (microsoftSide) {
      pair = { status: 'New', substatus: 'Pending' }; // Microsoft decides on its side, never the partner.
    } else if (typeof body.status === 'string') {
      pair = statusPairOf(body);
      const verdict = checkTransition({ status: 'None', substatus: 'None' }, pair);
      if (!verdict.allowed) throw new PartnerCenterError(400, 'invalidRequest', verdict.reason, 'status');
    }
    if (isCoSell(body))
      body.consent = { ...(body.consent as object), consentToShareReferralWithMicrosoftSellers: true };

    const now = this.options.clock.timestamp();
    const referral: StoredReferral = {
      id: newId(),
      engagementId,
      organizationId: DEMO_ORGANIZATION_ID,
      organizationName: DEMO_ORGANIZATION_NAME,
      mpnId: DEMO_MPN_ID,
      ...body,
      createdDateTime: now,
      updatedDateTime: now,
      status: pair.status,
      substatus: pair.substatus,
      direction: 'Outgoing',
    };
    referral.engagementId = engagementId;
    if (pair.status === 'Active') referral.acceptedDateTime = now;
    if (pair.status === 'Closed') referral.closedDateTime = now;
    referral.eTag = newETag();
    this.save(referral, this.eventFor(referral, 'created'));

    const sharedWithMicrosoft =
      get(referral, 'consent', 'consentToShareReferralWithMicrosoftSellers') === true;
    if (
      !microsoftSide &&
      isCoSell(referral) &&
      sharedWithMicrosoft &&
      !this.engagement(engagementId).some(isMicrosoftSide)
    ) {
      this.openMicrosoftSide(referral);
    }
    return referral;
  }

  /** The Microsoft seller's referral Partner Center creates for a co-sell engagement (R7). */
  private openMicrosoftSide(partnerReferral: StoredReferral): StoredReferral {
    const now = this.options.clock.timestamp();
    const microsoftSide: StoredReferral = {
      id: newId(),
      engagementId: partnerReferral.engagementId,
      organizationId: partnerReferral.organizationId,
      organizationName: partnerReferral.organizationName,
      name: partnerReferral.name,
      externalReferenceId: null,
      createdDateTime: now,
      updatedDateTime: now,
      status: 'New',
      substatus: 'Pending',
      type: 'Shared',
      qualification: partnerReferral.qualification ?? 'SalesQualified',
      direction: 'Outgoing',
      customerProfile: structuredClone(partnerReferral.customerProfile),
      consent: structuredClone(partnerReferral.consent),
      details: structuredClone(partnerReferral.details),
      team: [],
      inviteContext: {
        ...(isRecord(partnerReferral.inviteContext) ? structuredClone(partnerReferral.inviteContext) : {}),
        invitedBy: {
          organizationId: partnerReferral.organizationId,
          organizationName: partnerReferral.organizationName,
        },
      },
      target: [{ type: 'BusinessProfileLocation', id: MICROSOFT_ORG_ID }],
      trackingInfo: { microsoftMsxId: null },
      eTag: newETag(),
    };
    return this.save(microsoftSide, 'related-referral-created');
  }

  private checkIfMatch(
    referral: StoredReferral,
    ifMatch: string | undefined,
    eTagMatches: (a: string, b: string) => boolean,
  ): void {
    if (ifMatch !== undefined && !eTagMatches(ifMatch, String(referral.eTag))) {
      throw new PartnerCenterError(
        412,
        'preconditionFailed',
        `The referral was changed since you read it: If-Match ${ifMatch} does not match the current eTag. Read it again and re-apply your change.`,
        'If-Match',
      );
    }
  }

  /** `PATCH /referrals/{id}`: JSON Patch limited to the documented paths and ops. */
  patchByPartner(
    id: string,
    ops: unknown,
    ifMatch: string | undefined,
    eTagMatches: (a: string, b: string) => boolean,
  ): StoredReferral {
    const before = this.require(id);
    this.checkIfMatch(before, ifMatch, eTagMatches);
    const problems = checkPatch(ops, { allowRegistrations: true });
    if (problems.length > 0) {
      throw new PartnerCenterError(
        400,
        'invalidRequest',
        problems.map((p) => p.message).join(' '),
        problems[0]?.path || 'body',
      );
    }
    const patch = (ops as PatchOp[]).map((op) => ({ op: op.op, path: op.path, value: op.value }));
    if (patch.length === 0)
      throw new PartnerCenterError(400, 'invalidRequest', 'The patch has no operations.', 'body');
    const from = statusPairOf(before);
    const registrationOps = patch.filter((op) => op.path.startsWith('/registrations/'));
    if (isClosed(from.status)) {
      // A Won referral may still get its deal registration (reference §2); nothing else changes once closed (R17).
      if (registrationOps.length !== patch.length || from.substatus !== 'Won') {
        throw new PartnerCenterError(
          400,
          'invalidRequest',
          `The referral is closed (${from.status}/${from.substatus}) and accepts no further changes.`,
          'status',
        );
      }
    } else if (registrationOps.length > 0) {
      throw new PartnerCenterError(
        400,
        'invalidRequest',
        'A deal can be registered only after the referral is Closed/Won.',
        'registrations',
      );
    }
    const now = this.options.clock.timestamp();
    for (const op of patch) {
      if (op.path === '/registrations/-' && isRecord(op.value)) {
        op.value = { id: newId(), registrationDateTime: now, status: 'ReviewPending', ...op.value };
      }
    }
    const after = normalise(applyPatch(before, patch));
    const to = statusPairOf(after);
    if (isMicrosoftSide(before) && (to.status !== from.status || to.substatus !== from.substatus)) {
      throw new PartnerCenterError(
        400,
        'invalidRequest',
        'Only Microsoft accepts, declines or closes the Microsoft side of an engagement (the referral targeting msft).',
        'status',
      );
    }
    return this.commitUpdate(before, after, {}, now);
  }

  /** `PUT /referrals/{id}` (deprecated): the whole referral back, If-Match required, no links. */
  replaceByPartner(
    id: string,
    input: unknown,
    ifMatch: string | undefined,
    eTagMatches: (a: string, b: string) => boolean,
  ): StoredReferral {
    const before = this.require(id);
    if (ifMatch === undefined) {
      throw new PartnerCenterError(
        400,
        'invalidRequest',
        'PUT requires an If-Match header with the referral eTag (PUT is deprecated: use PATCH).',
        'If-Match',
      );
    }
    this.checkIfMatch(before, ifMatch, eTagMatches);
    if (isRecord(input) && Object.keys(input).some((key) => key.toLowerCase() === 'links')) {
      throw new PartnerCenterError(
        400,
        'invalidRequest',
        'Remove the links object from the referral before PUT: links are set by the server.',
        'links',
      );
    }
    const body = normalise(input);
    const createOnly = createOnlyFieldsChanged(before, body);
    if (createOnly.length > 0) {
      throw new PartnerCenterError(
        400,
        'invalidRequest',
        `These fields can only be set when the referral is created: ${createOnly.map((c) => c.label).join(', ')}.`,
        createOnly[0]!.path,
      );
    }
    if (isClosed(statusPairOf(before).status)) {
      const pair = statusPairOf(before);
      throw new PartnerCenterError(
        400,
        'invalidRequest',
        `The referral is closed (${pair.status}/${pair.substatus}) and accepts no further changes.`,
        'status',
      );
    }
    const after: StoredReferral = { ...before, ...body };
    for (const field of SERVER_FIELDS) {
      if (field in before) after[field] = before[field];
      else delete after[field];
    }
    for (const field of ['engagementId', 'status', 'substatus'] as const)
      if (!(field in body)) after[field] = before[field];
    after.engagementId = before.engagementId;
    return this.commitUpdate(before, after, {});
  }

  /** Transition table, rules, stamps, save, event: the common end of every update. */
  private commitUpdate(
    before: StoredReferral,
    after: StoredReferral,
    options: { bySystem?: boolean; asMicrosoft?: boolean },
    now?: string,
  ): StoredReferral {
    const from = statusPairOf(before);
    const to = statusPairOf(after);
    const verdict = checkTransition(from, to, { bySystem: options.bySystem ?? false });
    if (!verdict.allowed) throw new PartnerCenterError(400, 'invalidRequest', verdict.reason, 'status');
    if (!options.asMicrosoft) {
      const problems = validateReferralUpdate(before, after);
      if (problems.length > 0) refuse(problems);
    }
    this.stamp(from, after, now);
    return this.save(after, this.eventFor(after, 'updated'));
  }

  /** Control API: Microsoft edits fields (a deep merge; lists are replaced). */
  editAsMicrosoft(id: string, input: unknown): StoredReferral {
    const before = this.require(id);
    const partial = normalise(input, 'partial referral');
    if (partial.id !== undefined && partial.id !== id) {
      throw new PartnerCenterError(400, 'invalidRequest', 'The referral id cannot be changed.', 'id');
    }
    const after = deepMerge(before, partial) as StoredReferral;
    // `{"status":"Active"}` alone is unambiguous; `{"status":"Closed"}` alone is not, and the pair check says so.
    const substatuses = SUBSTATUSES_OF[statusPairOf(after).status];
    if (typeof partial.status === 'string' && partial.substatus === undefined && substatuses.length === 1) {
      after.substatus = substatuses[0];
    }
    return this.commitUpdate(before, after, { bySystem: true, asMicrosoft: true });
  }

  /** Control API: Microsoft's seller accepts / declines / closes (accept fills the MSX opportunity id). */
  decideAsMicrosoft(id: string, decision: MicrosoftDecision, statusReason?: string): StoredReferral {
    const before = this.require(id);
    const after = structuredClone(before);
    Object.assign(after, DECISIONS[decision]);
    if (statusReason !== undefined) after.statusReason = statusReason;
    if (decision === 'accept' && !get(after, 'trackingInfo', 'microsoftMsxId')) {
      after.trackingInfo = {
        ...(isRecord(after.trackingInfo) ? after.trackingInfo : {}),
        microsoftMsxId: newMsxId(),
      };
    }
    return this.commitUpdate(before, after, { asMicrosoft: true });
  }

  /** Control API: Partner Center's own expiry of an unanswered referral (R30). */
  expire(id: string): StoredReferral {
    const before = this.require(id);
    const after = { ...structuredClone(before), status: 'Closed', substatus: 'Expired' };
    return this.commitUpdate(before, after, { bySystem: true, asMicrosoft: true });
  }

  /** Control API: a Microsoft seller sends the partner a referral (New/Pending, 14 days to answer). */
  createIncoming(input: unknown): StoredReferral {
    const partial = normalise(input ?? {}, 'partial referral');
    for (const field of ['id', 'createdDateTime', 'updatedDateTime', 'eTag', 'links', 'direction'] as const)
      delete partial[field];
    const now = this.options.clock.timestamp();
    const defaults: StoredReferral = {
      id: newId(),
      engagementId: newId(),
      organizationId: DEMO_ORGANIZATION_ID,
      organizationName: DEMO_ORGANIZATION_NAME,
      mpnId: DEMO_MPN_ID,
      name: 'Fabrikam cloud migration',
      createdDateTime: now,
      updatedDateTime: now,
      expirationDateTime: addDays(now, INCOMING_EXPIRY_DAYS),
      status: 'New',
      substatus: 'Pending',
      type: 'Shared',
      qualification: 'SalesQualified',
      direction: 'Incoming',
      customerProfile: {
        name: 'Fabrikam, Inc.',
        size: '251to1000employees',
        address: {
          addressLine1: '1 Microsoft Way',
          city: 'Redmond',
          state: 'WA',
          postalCode: '98052',
          country: 'US',
        },
        team: [
          {
            firstName: 'Dana',
            lastName: 'Fabrikam',
            email: 'dana@fabrikam.example',
            phoneNumber: '+1 425 555 0100',
          },
        ],
        ids: [],
      },
      consent: {
        consentToContact: true,
        consentToToShareInfoWithOthers: true,
        consentToShareReferralWithMicrosoftSellers: true,
        consentToMicrosoftToContactSpecificPartners: true,
      },
      details: {
        notes: 'Sent by a Microsoft seller from the Partner Center emulator.',
        dealValue: 50000,
        currency: 'USD',
        closingDateTime: addDays(now, 90),
        requirements: { solutions: [] },
      },
      team: [],
      inviteContext: {
        notes: 'Please engage the customer.',
        assistanceRequestCode: 'GeneralOrOther',
        invitedBy: { organizationId: MICROSOFT_ORG_ID, organizationName: MICROSOFT_ORG_NAME },
      },
      target: [{ type: 'BusinessProfileLocation', id: DEMO_ORGANIZATION_ID }],
      trackingInfo: { microsoftMsxId: newMsxId() },
    };
    const referral = deepMerge(defaults, partial) as StoredReferral;
    referral.direction = 'Incoming';
    const pair = statusPairOf(referral);
    const valid = checkStatusPair(pair);
    if (!valid.allowed) throw new PartnerCenterError(400, 'invalidRequest', valid.reason, 'status');
    Object.assign(referral, pair);
    if (typeof referral.expirationDateTime !== 'string')
      referral.expirationDateTime = addDays(String(referral.createdDateTime), INCOMING_EXPIRY_DAYS);
    referral.eTag = newETag();
    return this.save(referral, 'referral-created');
  }

  /**
   * Puts referrals in as given (seed file, `POST /_emulator/seed`, persistence): no rules, no events,
   * missing server fields filled. An existing id is replaced.
   */
  seed(entries: unknown[]): StoredReferral[] {
    const normalised = entries.map((entry, index) => {
      try {
        return normalise(entry, `seed referral #${index}`);
      } catch (error) {
        throw error instanceof PartnerCenterError
          ? new PartnerCenterError(400, 'invalidRequest', error.message, `referrals.${index}.${error.target}`)
          : error;
      }
    });
    return normalised.map((referral) => {
      delete referral.links;
      const now = this.options.clock.timestamp();
      referral.id ??= newId();
      referral.engagementId ??= newId();
      referral.organizationId ??= DEMO_ORGANIZATION_ID;
      referral.organizationName ??= DEMO_ORGANIZATION_NAME;
      referral.direction ??= 'Outgoing';
      referral.createdDateTime ??= now;
      referral.updatedDateTime ??= referral.createdDateTime;
      for (const field of SERVER_TIMES) {
        const value = referral[field];
        // Seeds may say `2026-01-01T00:00:00Z`; Partner Center always writes 7 fractional digits.
        if (typeof value === 'string' && !PARTNER_CENTER_TIME.test(value))
          referral[field] = toPartnerCenterTime(new Date(value));
      }
      if (referral.status === undefined || referral.status === null) {
        Object.assign(
          referral,
          referral.direction === 'Incoming'
            ? { status: 'New', substatus: 'Pending' }
            : { status: 'Active', substatus: 'Accepted' },
        );
      } else {
        Object.assign(referral, statusPairOf(referral));
      }
      if (referral.direction === 'Incoming')
        referral.expirationDateTime ??= addDays(String(referral.createdDateTime), INCOMING_EXPIRY_DAYS);
      referral.eTag ??= newETag();
      return this.save(referral, undefined);
    });
  }
}
