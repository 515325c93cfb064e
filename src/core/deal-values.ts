// Translations between the two sides in the engine's vocabulary: a CRM-neutral Deal and a Partner Center
// Referral, both read into canonical Values (core/mapping.ts) for the 3-way diff, and diff results turned
// back into a DealPatch or a referral body. Pure: no I/O, no clock.

import {
  type RuleId,
  type RuleProblem,
  requirementAttributePath,
  SERVICES_COSELL_ATTRIBUTE_TYPES,
  type ServicesCoSellAttribute,
  servicesCoSellAttributes,
  withServicesCoSellAttributes,
} from './cosell-rules.ts';
import { countryCodeFromName } from './countries.ts';
import type { CurrencySupport, DealPatch, NewDeal, SyncWrite } from './deal.ts';
import {
  type ContactInput,
  type Deal,
  type DealFields,
  type DealKind,
  SERVICES_DEAL_FIELDS,
  type SolutionRef,
} from './deal.ts';
import type { FieldDiff } from './diff.ts';
import { type FieldLimits, fitEmail, fitLabelled } from './fit.ts';
import {
  type CanonicalValue,
  DEFAULT_MAPPING,
  type FieldMapping,
  HOW_CAN_MICROSOFT_HELP_LABELS,
  readCrmValues,
  readReferralValues,
  resolveCrmFieldNames,
  type Values,
} from './mapping.ts';
import { normalizeDate, normalizeMoney, normalizeText } from './normalize.ts';
import { createOnlyFieldOf } from './patchable.ts';
import {
  ASSISTANCE_REQUEST_CODES,
  type AssistanceRequestCode,
  type Member,
  type Referral,
} from './referral.ts';
import {
  asksForServicesCoSell,
  DEFAULT_TAXONOMY,
  resolveServicesValues,
  type ServicesField,
  type ServicesTaxonomy,
} from './services-taxonomy.ts';
import type { ReferralSubstatus } from './transitions.ts';
import { isPlausibleDealValue, VALUE_LIMITS } from './value-rules.ts';

/**
 * The default mapping with CRM field placeholders resolved to Deal properties: the adapter has already
 * translated its own field names (R21) into the Deal shape, so the engine maps Deal <-> Referral.
 * `status` reads a substatus the engine derives from the deal (see crmStatusOf).
 */
const DEAL_PROPERTY_OF: Readonly<Record<string, string>> = {
  nameField: 'name',
  dealValueField: 'value',
  currencyField: 'currency',
  closeDateField: 'closeDate',
  notesField: 'notes',
  howCanMicrosoftHelpField: 'assistance',
  visibilityField: 'visibleToMicrosoft',
  microsoftCrmIdField: 'microsoftCrmId',
  responseDeadlineField: 'responseDeadline',
  solutionsField: 'solutions',
  contactsField: 'contacts',
  stageField: 'status',
  partnerRoleField: 'partnerRole',
  solutionAreaField: 'solutionArea',
  solutionPlayField: 'solutionPlay',
};

export const SYNC_MAPPING: readonly FieldMapping[] = resolveCrmFieldNames(
  DEFAULT_MAPPING,
  DEAL_PROPERTY_OF,
).mapping;

/** The sync mapping with a deployment's per-field direction and owner (R22, engine.mapping.fields). */
export function syncMappingWith(
  overrides: Readonly<
    Partial<Record<string, { direction?: FieldMapping['direction']; owner?: FieldMapping['owner'] }>>
  >,
): readonly FieldMapping[] {
  if (Object.keys(overrides).length === 0) return SYNC_MAPPING;
  return SYNC_MAPPING.map((m) => {
    const o = overrides[m.field];
    return o
      ? { ...m, ...(o.direction ? { direction: o.direction } : {}), ...(o.owner ? { owner: o.owner } : {}) }
      : m;
  });
}

const CLOSED_LOST_LIKE: readonly string[] = ['Lost', 'Declined', 'Expired'];

/** Substatuses of an incoming referral still waiting for the partner's answer (R8). */
const AWAITING_ANSWER: readonly string[] = ['Pending', 'Received'];

/** The referral waits for the seller's accept or decline (as last synced). */
export function isAwaitingAnswer(status: CanonicalValue | undefined): boolean {
  return typeof status === 'string' && AWAITING_ANSWER.includes(status);
}

/**
 * The referral substatus a deal stands for, or undefined when the deal says nothing about it. Only a seller's
 * decisions count (R8, R13): accepting an incoming referral (moving the deal out of on-hold, or the decision
 * field), declining it (closing it lost while it waits, or the decision field), winning or losing. An open
 * deal's stage is otherwise the seller's own business (DESIGN.md §3 "ownership by transition"), and a
 * closed-lost deal whose referral was declined or expired agrees with it.
 */
export function crmStatusOf(
  deal: Deal,
  snapshotStatus: CanonicalValue | undefined,
): ReferralSubstatus | undefined {
  if (deal.kind !== 'opportunity') return undefined;
  const awaiting = isAwaitingAnswer(snapshotStatus);
  if (!deal.isClosed) {
    // Where the org answers by a field (R8), its value is the answer; leaving on-hold still accepts.
    if (awaiting && deal.decision === 'decline') return 'Declined';
    return awaiting && (!deal.onHold || deal.decision === 'accept') ? 'Accepted' : undefined;
  }
  if (deal.isWon) return 'Won';
  if (awaiting) return 'Declined';
  return typeof snapshotStatus === 'string' && CLOSED_LOST_LIKE.includes(snapshotStatus)
    ? (snapshotStatus as ReferralSubstatus)
    : 'Lost';
}

/** Deal properties a lead does not have (neither CRM's lead carries them): a lead says nothing about them. */
const OPPORTUNITY_ONLY: readonly string[] = [
  'assistance',
  'visibleToMicrosoft',
  'solutions',
  'responseDeadline',
  ...SERVICES_DEAL_FIELDS,
];

/**
 * How a deal property reads into the mapping where it is not the plain property value. Everything else in
 * SYNC_MAPPING reads `deal[m.crmField]` (the resolved CRM field of the sync mapping is the Deal property), so a
 * new mapped field is one row in core/mapping.ts plus its Deal property.
 */
const DEAL_READS: Readonly<Record<string, (deal: Deal, defaultCurrency: string | null) => unknown>> = {
  currency: (deal, defaultCurrency) => deal.currency ?? defaultCurrency,
  assistance: (deal) => (deal.assistance ? (HOW_CAN_MICROSOFT_HELP_LABELS[deal.assistance] ?? null) : null),
};

/** Canonical values of a deal. */
export function dealValues(
  deal: Deal,
  options: { snapshot?: Values | null; defaultCurrency?: string | null } = {},
): Values {
  const status = crmStatusOf(deal, options.snapshot?.status);
  // R8: a referral waiting in the on-hold stage does not hear about the seller's edits until it is accepted
  // (the snapshot keeps the values Partner Center has, so the edits go out with the accept).
  if (deal.onHold && !deal.decision && isAwaitingAnswer(options.snapshot?.status)) return {};
  const record: Record<string, unknown> = {};
  const properties = deal as unknown as Readonly<Record<string, unknown>>;
  for (const { crmField: property } of SYNC_MAPPING) {
    if (
      property === 'status' ||
      (deal.kind !== 'opportunity' && OPPORTUNITY_ONLY.includes(property)) ||
      deal.lacks?.some((lacked) => lacked === property)
    )
      continue;
    const read = DEAL_READS[property];
    record[property] = read ? read(deal, options.defaultCurrency ?? null) : (properties[property] ?? null);
  }
  // The status a deal stands for is derived (crmStatusOf): an open deal's stage alone says nothing.
  if (status !== undefined) record.status = status;
  return readCrmValues(record, SYNC_MAPPING);
}

/**
 * Canonical values of a referral. `linked` drops the create-only fields (name, How can Microsoft help?):
 * Partner Center never changes them after the create, so once a pair is linked only the CRM speaks for them
 * and a CRM edit becomes an audit line (R11) instead of a write that flips back and forth.
 * Our own referral rarely carries the Microsoft CRM identifier: Microsoft's side of the engagement does (R7).
 * `microsoftCrmId` is what that side said, or undefined when it was not looked up: then a referral without its
 * own says nothing (rather than erasing what an earlier look-up found).
 */
export function referralValues(
  referral: Referral,
  options: { linked?: boolean; microsoftCrmId?: string | null; dealKind?: DealKind } = {},
): Values {
  const values: Record<string, CanonicalValue> = { ...readReferralValues(referral, SYNC_MAPPING) };
  if (!values.microsoftCrmId) {
    if (options.microsoftCrmId) values.microsoftCrmId = options.microsoftCrmId;
    else if (options.microsoftCrmId === undefined) delete values.microsoftCrmId;
  }
  if (options.linked) {
    for (const m of SYNC_MAPPING) if (createOnlyFieldOf(m.referralPath)) delete values[m.field];
  }
  // R30: the deadline matters only while the referral waits for the partner's answer.
  // A referral without a close date says nothing about it: the CRM record keeps the date cosell or the seller
  // gave it (a CRM that requires one would otherwise be asked to clear it).
  if (values.closeDate === null) delete values.closeDate;
  if (options.dealKind === 'lead') delete values.responseDeadline;
  else if (!isAwaitingAnswer(referral.substatus)) values.responseDeadline = null;
  return values;
}

/** Microsoft's own referral in an engagement: it targets Microsoft (reference §3 "Shared engagement"). */
export function isMicrosoftSide(referral: Referral): boolean {
  return (referral.target ?? []).some(
    (t) => t.type === 'BusinessProfileLocation' && t.id?.toLowerCase() === 'msft',
  );
}

const dateTimeOfDay = (day: string | null | undefined) => (day ? `${day}T00:00:00Z` : null);

function memberOf(contact: Deal['contacts'][number]): Member {
  const member: Member = { lastName: contact.lastName };
  if (contact.firstName) member.firstName = contact.firstName;
  if (contact.email) member.email = contact.email;
  if (contact.phone) member.phoneNumber = contact.phone;
  return member;
}

function solutionTagOf(solution: SolutionRef): { id: string; name?: string } {
  return solution.name ? { id: solution.id, name: solution.name } : { id: solution.id };
}

/** List elements Partner Center should receive for a list field, by field key (for referralPatchFor). */
export function referralListItems(deal: Deal): Record<string, unknown[]> {
  return {
    solutions: deal.solutions.map(solutionTagOf),
    contacts: deal.contacts.filter((c) => normalizeText(c.email)).map(memberOf),
  };
}

/**
 * The referral a deal asks for (R10, R11): validated with the co-sell rules, then POSTed. Help requested
 * makes it a Shared (co-sell) referral visible to Microsoft sellers; otherwise visibility follows the deal.
 */
export function referralFromDeal(
  deal: Deal,
  options: { defaultCurrency?: string | null; taxonomy?: ServicesTaxonomy } = {},
): Referral {
  const help = deal.assistance && deal.assistance !== 'Unknown' ? deal.assistance : null;
  const address = deal.account?.address ?? {};
  const customerProfile: NonNullable<Referral['customerProfile']> = {
    name: deal.account?.name ?? null,
    address: {
      addressLine1: address.street ?? null,
      city: address.city ?? null,
      state: address.state ?? null,
      postalCode: address.postalCode ?? null,
      country: address.country ?? null,
    },
    team: deal.contacts.map(memberOf),
    ids: deal.account?.duns ? [{ profileType: 'Duns', id: deal.account.duns }] : [],
  };
  const referral: Referral = {
    name: deal.name,
    externalReferenceId: deal.id,
    type: help ? 'Shared' : 'Independent',
    qualification: 'SalesQualified',
    customerProfile,
    consent: {
      consentToContact: true,
      consentToShareReferralWithMicrosoftSellers: Boolean(help) || deal.visibleToMicrosoft === true,
    },
    details: {
      notes: deal.notes ?? null,
      dealValue: deal.value ?? null,
      currency: deal.currency ?? options.defaultCurrency ?? null,
      closingDateTime: dateTimeOfDay(deal.closeDate),
      requirements: { solutions: deal.solutions.map(solutionTagOf) },
    },
  };
  if (help) referral.inviteContext = { assistanceRequestCode: help };
  const services = help ? servicesCoSellOf(deal, options.taxonomy ?? DEFAULT_TAXONOMY) : null;
  return services?.attributes
    ? withServicesCoSellAttributes(referral, services.attributes, { mark: true })
    : referral;
}

/**
 * R11: the Services co-sell attributes a deal asks for, spelled as Microsoft's lists of the fiscal year spell
 * them, or null when the seller filled none of them; `problems` say what is missing or unknown (errors: the
 * referral is not created until they are fixed).
 */
export function servicesCoSellOf(
  deal: Deal,
  taxonomy: ServicesTaxonomy,
): { attributes: Record<ServicesCoSellAttribute, string> | null; problems: RuleProblem[] } {
  if (deal.kind !== 'opportunity' || !asksForServicesCoSell(deal)) return { attributes: null, problems: [] };
  const { values, problems } = resolveServicesValues(deal, taxonomy);
  const ruleOf = (field: ServicesField, missing: boolean): RuleId =>
    missing ? SERVICES_REQUIRED_RULES[field] : 'services-value-unknown';
  const out = problems.map(
    (p): RuleProblem => ({
      rule: ruleOf(p.field, !normalizeText(deal[p.field])),
      path: requirementAttributePath(SERVICES_COSELL_ATTRIBUTE_TYPES[p.field]),
      message: `Services co-sell deal '${deal.name}': ${p.message}`,
      severity: 'error',
    }),
  );
  const { partnerRole, solutionArea, solutionPlay } = values;
  return {
    attributes:
      partnerRole && solutionArea && solutionPlay ? { partnerRole, solutionArea, solutionPlay } : null,
    problems: out,
  };
}

const SERVICES_REQUIRED_RULES: Readonly<Record<ServicesField, RuleId>> = {
  partnerRole: 'services-partner-role-required',
  solutionArea: 'services-solution-area-required',
  solutionPlay: 'services-solution-play-required',
};

/** The POST body: the referral without nulls (Partner Center omits them too). */
export function createBodyOf(referral: Referral): Record<string, unknown> {
  return withoutNulls(referral) as Record<string, unknown>;
}

function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== null && v !== undefined) out[key] = withoutNulls(v);
  return out;
}

const isAssistanceCode = (code: unknown): code is AssistanceRequestCode =>
  typeof code === 'string' && (ASSISTANCE_REQUEST_CODES as readonly string[]).includes(code);

function contactOf(member: Member): ContactInput | null {
  const lastName =
    normalizeText(member.lastName) ?? normalizeText(member.firstName) ?? normalizeText(member.email);
  if (!lastName) return null;
  return {
    lastName,
    firstName: normalizeText(member.firstName),
    email: normalizeText(member.email),
    phone: normalizeText(member.phoneNumber),
  };
}

/** The close date of a record whose referral has none: `days` after `now` (UTC day). */
export function defaultCloseDate(now: Date, days: number): string {
  return new Date(now.getTime() + days * 86_400_000).toISOString().slice(0, 10);
}

/** A new CRM deal for a referral that came from Partner Center (R4, R5). */
export function newDealFromReferral(referral: Referral, kind: NewDeal['kind']): NewDeal {
  const profile = referral.customerProfile ?? {};
  const address = profile.address ?? {};
  const code = referral.inviteContext?.assistanceRequestCode;
  const closeDate = referral.details?.closingDateTime?.slice(0, 10) ?? null;
  const fields: DealFields = {
    name: normalizeText(referral.name) ?? normalizeText(profile.name) ?? `Referral ${referral.id}`,
    closeDate,
    value: referral.details?.dealValue ?? null,
    currency: normalizeText(referral.details?.currency),
    notes: normalizeText(referral.details?.notes),
    syncWithPartnerCenter: true,
    assistance: isAssistanceCode(code) && code !== 'Unknown' ? code : null,
    visibleToMicrosoft: referral.consent?.consentToShareReferralWithMicrosoftSellers ?? null,
    // R8: an incoming referral waits in the on-hold stage for the seller's accept or decline.
    onHold: kind === 'opportunity' && referral.status === 'New',
    responseDeadline:
      kind === 'opportunity' && isAwaitingAnswer(referral.substatus)
        ? normalizeDate(referral.expirationDateTime, { precision: 'second', timeZone: 'UTC' })
        : null,
    ...(kind === 'opportunity' ? servicesCoSellAttributes(referral) : {}),
  };
  const duns = (profile.ids ?? []).find((id) => id.profileType.toLowerCase() === 'duns')?.id ?? null;
  const street = [address.addressLine1, address.addressLine2].map(normalizeText).filter(Boolean).join('\n');
  return {
    kind,
    referralId: String(referral.id),
    fields,
    account: {
      name: normalizeText(profile.name) ?? fields.name,
      duns,
      address: {
        street: street || null,
        city: normalizeText(address.city),
        state: normalizeText(address.state),
        postalCode: normalizeText(address.postalCode),
        country: normalizeText(address.country),
      },
    },
    contacts: (profile.team ?? []).map(contactOf).filter((c): c is ContactInput => c !== null),
    solutions: (referral.details?.requirements?.solutions ?? []).map((s) => ({
      id: s.id,
      name: normalizeText(s.name),
    })),
  };
}

export interface CrmWrite {
  patch: DealPatch;
  sync: Pick<SyncWrite, 'microsoftCrmId'>;
  /** A Partner Center close the CRM follows (R13 the other way: Microsoft declined, Partner Center expired). */
  close?: 'won' | 'lost';
}

/** A canonical value as the Deal property of its mapping holds it (scalar fields). */
function dealValueOf(m: FieldMapping, v: CanonicalValue): unknown {
  if (v === null) return m.kind === 'boolean' ? false : null;
  switch (m.kind) {
    case 'money':
      return Number(v);
    case 'date':
      return typeof v === 'string' && (m.precision ?? 'day') === 'day' ? v.slice(0, 10) : v;
    case 'boolean':
      return v === true;
    default:
      return typeof v === 'string' ? v : null;
  }
}

type WriteRule = (v: CanonicalValue, out: CrmWrite, deal: Deal, referral: Referral) => void;

/** The fields whose winning Partner Center value is not simply written to their Deal property. */
const CRM_WRITES: Readonly<Record<string, WriteRule>> = {
  // Every deal has a name: Partner Center clearing its own never clears the deal's.
  name: (v, out) => {
    if (typeof v === 'string') setField(out, 'name', v);
  },
  // A code the CRM's picklist cannot show is not written (an unknown value says nothing).
  howCanMicrosoftHelp: (v, out) => {
    setField(out, 'assistance', isAssistanceCode(v) ? v : null);
  },
  // Written with the link fields, not as deal data.
  microsoftCrmId: (v, out) => {
    out.sync.microsoftCrmId = typeof v === 'string' ? v : null;
  },
  solutions: (v, out, deal, referral) => {
    const wanted = new Set((v as readonly string[] | null) ?? []);
    const have = new Set(deal.solutions.map((s) => s.id.toLowerCase()));
    const tags = referral.details?.requirements?.solutions ?? [];
    const add = tags.filter((t) => wanted.has(t.id.toLowerCase()) && !have.has(t.id.toLowerCase()));
    const remove = deal.solutions.filter((s) => !wanted.has(s.id.toLowerCase())).map((s) => s.id);
    if (add.length) out.patch.addSolutions = add.map((t) => ({ id: t.id, name: normalizeText(t.name) }));
    if (remove.length) out.patch.removeSolutions = remove;
  },
  contacts: (v, out, deal, referral) => {
    const wanted = new Set(((v as readonly string[] | null) ?? []).map((e) => e.toLowerCase()));
    const have = new Set(deal.contacts.map((c) => c.email?.toLowerCase()).filter(Boolean));
    const add = (referral.customerProfile?.team ?? [])
      .filter((m) => m.email && wanted.has(m.email.toLowerCase()) && !have.has(m.email.toLowerCase()))
      .map(contactOf)
      .filter((c): c is ContactInput => c !== null);
    // Removed from the customer team in Partner Center: unlinked from the deal (the contact stays in the CRM).
    const remove = deal.contacts
      .map((c) => c.email)
      .filter((e): e is string => Boolean(e) && !wanted.has(String(e).toLowerCase()));
    if (add.length) out.patch.addContacts = add;
    if (remove.length) out.patch.removeContacts = remove;
  },
  status: (v, out, deal) => {
    // Accepted in Partner Center itself: the deal leaves the on-hold stage (R8).
    if (!deal.isClosed && v === 'Accepted' && deal.onHold) setField(out, 'onHold', false);
    else if (!deal.isClosed && v === 'Won') out.close = 'won';
    else if (!deal.isClosed && typeof v === 'string' && CLOSED_LOST_LIKE.includes(v)) out.close = 'lost';
  },
};

function setField(out: CrmWrite, property: string, value: unknown): void {
  out.patch.fields = { ...out.patch.fields, [property]: value } as Partial<DealFields>;
}

/** What Partner Center's winning values mean for the deal. Lists are reconciled item by item. */
export function crmWriteFor(writes: readonly FieldDiff[], deal: Deal, referral: Referral): CrmWrite {
  const out: CrmWrite = { patch: {}, sync: {} };
  for (const f of writes) {
    const v = f.value ?? null;
    const rule = CRM_WRITES[f.field];
    if (rule) rule(v, out, deal, referral);
    // The sync mapping's CRM field is the Deal property (SYNC_MAPPING).
    else setField(out, f.mapping.crmField, dealValueOf(f.mapping, v));
  }
  return out;
}

/** True when the CRM write would change nothing. */
export function isEmptyCrmWrite(write: CrmWrite): boolean {
  const p = write.patch;
  return (
    !p.fields &&
    !p.addContacts?.length &&
    !p.removeContacts?.length &&
    !p.addSolutions?.length &&
    !p.removeSolutions?.length &&
    write.sync.microsoftCrmId === undefined &&
    !write.close
  );
}

/** 'deal value 1000 -> 1200', 'solutions SOL-1, SOL-2' for audit lines and run history. */
export function describeChange(f: FieldDiff, before: CanonicalValue | undefined): string {
  const label = f.mapping.label ?? f.field;
  const show = (v: CanonicalValue | undefined) =>
    v === undefined || v === null ? '(none)' : Array.isArray(v) ? v.join(', ') || '(none)' : String(v);
  if (Array.isArray(f.value)) return `${label} ${show(f.value)}`;
  if (f.field === 'notes') return label;
  return `${label} ${show(before)} -> ${show(f.value)}`;
}

// ---- currencies the CRM cannot hold (R21) ---------------------------------------------------------------

/** The snapshot error rule of a referral whose currency the CRM has not enabled. */
export const CURRENCY_NOT_ENABLED = 'currencyNotEnabled';

/** The money fields that move together: a value means nothing without its currency. */
const MONEY_FIELDS = ['dealValue', 'currency'] as const;

/**
 * Why the CRM cannot hold this referral's deal value, or null when it can: not a plausible amount, or in a
 * currency the CRM has not enabled. A deal without a currency of its own
 * is in the CRM's corporate currency, so writing a EUR value there would turn ¥5,000,000 into $5,000,000 —
 * and the next sync would send that "currency change" back to Microsoft.
 */
export function moneyProblemOf(
  referral: Referral,
  support: CurrencySupport,
): { rule: string; message: string; fix: string } | null {
  const code = normalizeText(referral.details?.currency)?.toUpperCase();
  const value = referral.details?.dealValue;
  // The plausibility cosell asks of a seller's deal value (R12) holds for Microsoft's too: a typo such as 1e20
  // or -5 is not written into the CRM (which would refuse 1e20 on every retry, or forecast it).
  const money = normalizeMoney(value);
  if (money !== null && !isPlausibleDealValue(Number(money))) {
    return {
      rule: 'deal-value-invalid',
      message:
        `The referral's deal value ${money}${code ? ` ${code}` : ''} is not a plausible amount (negative, or more than ` +
        `${VALUE_LIMITS.maxDealValue.toLocaleString('en-US')}). The deal value and currency are not synced until it ` +
        'is corrected in Partner Center; the CRM keeps its own.',
      fix: 'Ask the Microsoft seller to correct the deal value in Partner Center; cosell writes it at its next check of this record.',
    };
  }
  if (!code || support.enabled.includes(code)) return null;
  const amount = value === null || value === undefined ? '' : ` (${value} ${code})`;
  return {
    rule: CURRENCY_NOT_ENABLED,
    message:
      `The referral's deal value${amount} is in ${code}, which is not enabled in the CRM ` +
      `(enabled: ${support.enabled.join(', ') || 'none'}). The deal value and currency are not synced until it is, ` +
      `so the amount is never read as ${support.corporate || 'another currency'}; Partner Center keeps ${code}.`,
    fix: `Enable ${code} as a currency in the CRM (multiple currencies on); cosell then writes the deal value at its next check of this record.`,
  };
}

/** Both sides' values without the money fields: while the CRM cannot hold the currency, neither side speaks
 *  for them and the snapshot keeps what the CRM holds. */
export function withoutMoney(values: Values): Values {
  const out: Record<string, CanonicalValue> = { ...values };
  for (const field of MONEY_FIELDS) delete out[field];
  return out;
}

/** What a CRM deal created without its deal value holds: no value, in the corporate currency. Stored as the
 *  snapshot's money fields, so once the currency is enabled Partner Center's value is written, not overwritten. */
export function heldMoneyValues(support: CurrencySupport): Values {
  return readCrmValues({ value: null, currency: support.corporate || null }, SYNC_MAPPING);
}

// ---- fitting into the CRM's fields (R4, R19) ------------------------------------------------------------

/** A contact as the CRM can hold it: names cut to length, an e-mail it would refuse left out (with a note). */
export function fitContact(contact: ContactInput, limits: FieldLimits, notes: string[]): ContactInput {
  const email = fitEmail(contact.email, limits.contact.email);
  if (email.problem) notes.push(`contact ${contact.lastName}: ${email.problem}, so it was left out`);
  return {
    ...contact,
    firstName: fitLabelled(contact.firstName, limits.contact.firstName, 'contact first name', notes),
    lastName: fitLabelled(contact.lastName, limits.contact.lastName, 'contact last name', notes),
    email: email.email,
    phone: fitLabelled(contact.phone, limits.contact.phone, 'contact phone', notes),
  };
}

/** A new deal cut to the CRM's field lengths; `notes` say what was cut, for the audit line. */
export function fitNewDeal(input: NewDeal, limits: FieldLimits): { deal: NewDeal; notes: string[] } {
  const notes: string[] = [];
  const fields: DealFields = {
    ...input.fields,
    name: fitLabelled(input.fields.name, limits.deal.name, 'name', notes),
    notes: fitLabelled(input.fields.notes, limits.deal.notes, 'notes', notes),
  };
  const deal: NewDeal = { ...input, fields };
  if (input.account) {
    const a = limits.account;
    const address = { ...(input.account.address ?? {}) };
    // Partner Center should send an ISO code; anything else ('usa', 'us') is translated, and what is no
    // country at all ('XX') is left off the account instead of written into it.
    if (address.country) {
      const code = countryCodeFromName(address.country);
      if (!code) {
        notes.push(
          `customer country '${address.country}' is not a country code or name, so it was left off the account: set the account's country here`,
        );
      }
      address.country = code ?? null;
    }
    deal.account = {
      ...input.account,
      name: fitLabelled(input.account.name, a.name, 'account name', notes),
      address: {
        ...address,
        street: fitLabelled(address.street, a.street, 'account street', notes),
        city: fitLabelled(address.city, a.city, 'account city', notes),
        state: fitLabelled(address.state, a.state, 'account state', notes),
        postalCode: fitLabelled(address.postalCode, a.postalCode, 'account postal code', notes),
      },
    };
  }
  if (input.contacts) deal.contacts = input.contacts.map((c) => fitContact(c, limits, notes));
  return { deal, notes };
}
