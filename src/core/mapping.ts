// The field mapping between a referral and a CRM deal, as data (R4, R13, R22).
//
// Values on both sides are read into one canonical vocabulary before they are compared: the referral's
// (Partner Center enums, ISO codes), money as a decimal string, dates as 'YYYY-MM-DD' (or UTC seconds),
// lists as sorted keys. CRM field names are placeholders here ('{dealValueField}'); the CRM adapter
// resolves them from its settings (R21), so this table stays CRM-neutral.

import { requirementAttributePath, SERVICES_COSELL_ATTRIBUTE_TYPES } from './cosell-rules.ts';
import {
  type DatePrecision,
  mapPicklist,
  normalizeBoolean,
  normalizeDate,
  normalizeMoney,
  normalizeText,
  stripStatusMarks,
} from './normalize.ts';
import { readPath } from './paths.ts';
import type { ASSISTANCE_REQUEST_CODES } from './referral.ts';

export { fromJsonPointer, readPath, setPath, toJsonPointer } from './paths.ts';

export type FieldKind = 'text' | 'money' | 'date' | 'picklist' | 'boolean' | 'list';
export type FieldDirection = 'both' | 'toCrm' | 'toReferral';
export type FieldOwner = 'crm' | 'partnerCenter';

export interface FieldMapping {
  /** Canonical field key, the same in snapshots, diffs and audit lines ('dealValue'). */
  field: string;
  /** Dotted referral path ('details.dealValue'); '' for a CRM-only field that just gets `default`. */
  referralPath: string;
  /** CRM field name, or a '{settingKey}' placeholder the adapter resolves. */
  crmField: string;
  direction: FieldDirection;
  /** Who wins when both sides changed the field since the last sync. */
  owner: FieldOwner;
  kind: FieldKind;
  /** Picklists: referral value -> CRM value (booleans: 'true'/'false' -> CRM value). */
  valueMap?: Readonly<Record<string, string>>;
  /** Picklists, CRM -> referral only, consulted before `valueMap`: several CRM values for one referral
   *  value (every open sales stage -> 'Accepted'). */
  crmValueMap?: Readonly<Record<string, string>>;
  /** Value written to the CRM on create when the referral has none (R22 extra mandatory fields). */
  default?: unknown;
  /** Dates: compare to the day (CRM date-only fields) or the second. Default 'day'. */
  precision?: DatePrecision;
  /** Lists: the item property that identifies an element ('id' for solutions, 'email' for contacts). */
  itemKey?: string;
  /** Values that mean "not set" ('Unknown' for How can Microsoft help?). */
  emptyValues?: readonly string[];
  /** Strip ✔/✖ before comparing (the deal name, R20). */
  stripStatusMarks?: boolean;
  /** Referral values Partner Center owns whatever the field owner (system moves such as Expired). */
  partnerCenterOwnedValues?: readonly string[];
  /** A human label for audit lines ('deal value'). Default: the field key. */
  label?: string;
}

export type CanonicalValue = string | boolean | readonly string[] | null;
/** Canonical values by field key. A missing key means "this side says nothing about the field". */
export type Values = Readonly<Record<string, CanonicalValue>>;

/** Partner Center's "How can Microsoft help?" codes and the R18 picklist labels (1:1, reference §3). */
export const HOW_CAN_MICROSOFT_HELP_LABELS: Readonly<Record<string, string>> = {
  WorkloadSpecificValueProposition: 'Workload specific value proposition',
  CustomerTechnicalArchitecture: 'Customer technical architecture',
  ProofOfConceptOrDemo: 'Proof of concept or demo',
  QuotesOrLicensing: 'Quotes or licensing',
  PostSalesCustomerSuccess: 'Post sales customer success',
  GeneralOrOther: 'General or other',
} satisfies Partial<Record<(typeof ASSISTANCE_REQUEST_CODES)[number], string>>;

/**
 * The default mapping (R4, R13). The stage value map is deployment data (R21 active / on-hold stage
 * names), so `status` ships without one; the CRM adapter or the config supplies it through mergeMapping.
 * `status` is read from the substatus, which determines the status (transitions.statusOfSubstatus).
 */
export const DEFAULT_MAPPING: readonly FieldMapping[] = [
  {
    field: 'name',
    referralPath: 'name',
    crmField: '{nameField}',
    direction: 'both',
    owner: 'crm',
    kind: 'text',
    stripStatusMarks: true,
    label: 'name',
  },
  {
    field: 'dealValue',
    referralPath: 'details.dealValue',
    crmField: '{dealValueField}',
    direction: 'both',
    owner: 'crm',
    kind: 'money',
    label: 'deal value',
  },
  {
    field: 'currency',
    referralPath: 'details.currency',
    crmField: '{currencyField}',
    direction: 'both',
    owner: 'crm',
    kind: 'text',
    label: 'currency',
  },
  {
    field: 'closeDate',
    referralPath: 'details.closingDateTime',
    crmField: '{closeDateField}',
    direction: 'both',
    owner: 'crm',
    kind: 'date',
    precision: 'day',
    label: 'close date',
  },
  {
    field: 'notes',
    referralPath: 'details.notes',
    crmField: '{notesField}',
    direction: 'both',
    owner: 'crm',
    kind: 'text',
    label: 'notes',
  },
  {
    field: 'howCanMicrosoftHelp',
    referralPath: 'inviteContext.assistanceRequestCode',
    crmField: '{howCanMicrosoftHelpField}',
    direction: 'both',
    owner: 'crm',
    kind: 'picklist',
    valueMap: HOW_CAN_MICROSOFT_HELP_LABELS,
    emptyValues: ['Unknown'],
    label: 'How can Microsoft help?',
  },
  {
    field: 'visibility',
    referralPath: 'consent.consentToShareReferralWithMicrosoftSellers',
    crmField: '{visibilityField}',
    direction: 'both',
    owner: 'crm',
    kind: 'boolean',
    label: 'visibility',
  },
  {
    field: 'microsoftCrmId',
    referralPath: 'trackingInfo.microsoftMsxId',
    crmField: '{microsoftCrmIdField}',
    direction: 'toCrm',
    owner: 'partnerCenter',
    kind: 'text',
    label: 'Microsoft CRM identifier',
  },
  {
    // R30: read from the referral only while it waits for an answer (see the engine's referralValues).
    field: 'responseDeadline',
    referralPath: 'expirationDateTime',
    crmField: '{responseDeadlineField}',
    direction: 'toCrm',
    owner: 'partnerCenter',
    kind: 'date',
    precision: 'second',
    label: 'response deadline',
  },
  {
    field: 'solutions',
    referralPath: 'details.requirements.solutions',
    crmField: '{solutionsField}',
    direction: 'both',
    owner: 'crm',
    kind: 'list',
    itemKey: 'id',
    label: 'solutions',
  },
  {
    field: 'contacts',
    referralPath: 'customerProfile.team',
    crmField: '{contactsField}',
    direction: 'both',
    owner: 'crm',
    kind: 'list',
    itemKey: 'email',
    label: 'customer contacts',
  },
  {
    field: 'status',
    referralPath: 'substatus',
    crmField: '{stageField}',
    direction: 'both',
    owner: 'crm',
    kind: 'picklist',
    partnerCenterOwnedValues: ['Expired'],
    label: 'status',
  },
  ...Object.entries(SERVICES_COSELL_ATTRIBUTE_TYPES).map(
    ([field, type]): FieldMapping => ({
      field,
      referralPath: requirementAttributePath(type),
      crmField: `{${field}Field}`,
      direction: 'both',
      owner: 'crm',
      kind: 'text',
      label: type.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase(),
    }),
  ),
];

/** An override names a field; every other property is optional. `remove: true` drops a default field. */
export type FieldMappingOverride = Partial<FieldMapping> & { field: string; remove?: boolean };

/**
 * The defaults with per-deployment overrides applied (R22): an override of a known field replaces the
 * properties it sets; an override of an unknown field adds it (an extra mandatory CRM field with a
 * default, or another mapped field). Problems in the result are reported by `checkMapping`.
 */
export function mergeMapping(
  defaults: readonly FieldMapping[],
  overrides: readonly FieldMappingOverride[],
): FieldMapping[] {
  const merged = new Map<string, FieldMapping>(defaults.map((m) => [m.field, { ...m }]));
  for (const { remove, ...override } of overrides) {
    if (remove) {
      merged.delete(override.field);
      continue;
    }
    const base = merged.get(override.field);
    merged.set(
      override.field,
      base
        ? { ...base, ...override }
        : {
            referralPath: '',
            crmField: '',
            direction: override.referralPath ? 'both' : 'toCrm',
            owner: 'crm',
            kind: 'text',
            ...override,
          },
    );
  }
  return [...merged.values()];
}

/** Every problem in a mapping, each naming the field: the config loader reports them all at once. */
export function checkMapping(mapping: readonly FieldMapping[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const m of mapping) {
    const at = `mapping field '${m.field}'`;
    if (seen.has(m.field)) problems.push(`${at} appears twice: keep one entry per field.`);
    seen.add(m.field);
    if (!m.crmField) problems.push(`${at} has no crmField: name the CRM field it maps to.`);
    if (!m.referralPath && m.default === undefined) {
      problems.push(`${at} has neither a referralPath nor a default: give it one of them.`);
    }
    if (!m.referralPath && m.direction !== 'toCrm') {
      problems.push(`${at} has no referralPath, so its direction must be 'toCrm'.`);
    }
    if (m.kind === 'list' && !m.itemKey)
      problems.push(`${at} is a list without itemKey: say which property identifies an item.`);
    if (m.valueMap && m.kind !== 'picklist' && m.kind !== 'boolean') {
      problems.push(
        `${at} has a valueMap but kind '${m.kind}': value maps apply to picklist and boolean fields.`,
      );
    }
  }
  return problems;
}

/** Replaces '{settingKey}' placeholders with real CRM field names; entries whose setting is not given are
 *  returned in `unresolved` (doctor reports them) and left out of `mapping`. */
export function resolveCrmFieldNames(
  mapping: readonly FieldMapping[],
  names: Readonly<Record<string, string | undefined>>,
): { mapping: FieldMapping[]; unresolved: FieldMapping[] } {
  const resolved: FieldMapping[] = [];
  const unresolved: FieldMapping[] = [];
  for (const m of mapping) {
    const placeholder = /^\{(.+)\}$/.exec(m.crmField);
    const name = placeholder ? names[placeholder[1]!] : m.crmField;
    if (name) resolved.push({ ...m, crmField: name });
    else unresolved.push(m);
  }
  return { mapping: resolved, unresolved };
}

export type Side = 'referral' | 'crm';

/** One value read from one side into the canonical vocabulary; undefined when it cannot be mapped
 *  (an unknown CRM picklist value says nothing, rather than erasing the other side). */
export function canonicalValue(mapping: FieldMapping, raw: unknown, side: Side): CanonicalValue | undefined {
  if (raw === undefined) return undefined;
  switch (mapping.kind) {
    case 'money':
      return normalizeMoney(raw);
    case 'date':
      return normalizeDate(raw, { precision: mapping.precision ?? 'day', timeZone: 'UTC' });
    case 'boolean': {
      if (side === 'crm' && mapping.valueMap && typeof raw === 'string') {
        const mapped = mapPicklist(raw, mapping.valueMap, 'toReferral');
        return mapped === undefined ? undefined : normalizeBoolean(mapped);
      }
      return normalizeBoolean(raw);
    }
    case 'list':
      return listKeys(raw, mapping.itemKey);
    case 'picklist': {
      const text = normalizeText(raw);
      if (text === null || mapping.emptyValues?.includes(text)) return null;
      if (side === 'referral' || (!mapping.valueMap && !mapping.crmValueMap)) return text;
      const extra = mapping.crmValueMap ? lookupIgnoringCase(mapping.crmValueMap, text) : undefined;
      const mapped = extra ?? mapPicklist(text, mapping.valueMap ?? {}, 'toReferral');
      if (mapped === undefined) return undefined;
      return mapped === null || mapping.emptyValues?.includes(mapped) ? null : mapped;
    }
    default: {
      const text = normalizeText(raw);
      return text !== null && mapping.stripStatusMarks ? normalizeText(stripStatusMarks(text)) : text;
    }
  }
}

function lookupIgnoringCase(map: Readonly<Record<string, string>>, key: string): string | undefined {
  const wanted = key.toLowerCase();
  return Object.entries(map).find(([k]) => k.trim().toLowerCase() === wanted)?.[1];
}

/** A list as sorted unique keys: strings as given, objects by their `itemKey`. Keys compare without case
 *  (emails are case-insensitive; solution ids are GUID-like). */
function listKeys(raw: unknown, itemKey: string | undefined): readonly string[] | null {
  if (raw === null) return [];
  if (!Array.isArray(raw)) return null;
  const keys = new Set<string>();
  for (const item of raw) {
    const key =
      typeof item === 'string'
        ? item
        : itemKey && item !== null && typeof item === 'object'
          ? (item as Record<string, unknown>)[itemKey]
          : undefined;
    const text = normalizeText(key);
    if (text !== null) keys.add(text.toLowerCase());
  }
  return [...keys].sort();
}

/** Canonical values of a referral, one per mapped field that has a referral path. */
export function readReferralValues(referral: unknown, mapping: readonly FieldMapping[]): Values {
  const values: Record<string, CanonicalValue> = {};
  for (const m of mapping) {
    if (!m.referralPath) continue;
    const raw = readPath(referral, m.referralPath);
    // Absent on a referral means empty: Partner Center omits null members.
    const value = canonicalValue(m, raw === undefined ? null : raw, 'referral');
    if (value !== undefined) values[m.field] = value;
  }
  return values;
}

/** Canonical values of a CRM record given as { crmField: value } (field names already resolved).
 *  Fields the record does not carry are left out: the adapter did not read them. */
export function readCrmValues(
  record: Readonly<Record<string, unknown>>,
  mapping: readonly FieldMapping[],
): Values {
  const values: Record<string, CanonicalValue> = {};
  for (const m of mapping) {
    if (!m.referralPath || !Object.hasOwn(record, m.crmField)) continue;
    const value = canonicalValue(m, record[m.crmField], 'crm');
    if (value !== undefined) values[m.field] = value;
  }
  return values;
}

/** A canonical value as the CRM should receive it (picklists through the value map, money as a number). */
export function crmValueOf(mapping: FieldMapping, value: CanonicalValue): unknown {
  if (value === null) return null;
  switch (mapping.kind) {
    case 'money':
      return Number(value);
    case 'picklist':
      return mapping.valueMap ? (mapping.valueMap[value as string] ?? null) : value;
    case 'boolean':
      return mapping.valueMap ? (mapping.valueMap[String(value)] ?? value) : value;
    default:
      return value;
  }
}

/** A canonical value as Partner Center should receive it (money as a number, day dates at UTC midnight). */
export function referralValueOf(mapping: FieldMapping, value: CanonicalValue): unknown {
  if (value === null) return null;
  switch (mapping.kind) {
    case 'money':
      return Number(value);
    case 'date':
      return typeof value === 'string' && value.length === 10 ? `${value}T00:00:00Z` : value;
    default:
      return value;
  }
}

/** Values for a new CRM record's extra fields: each mapping default the values do not already cover. */
export function crmDefaults(mapping: readonly FieldMapping[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of mapping) if (m.default !== undefined) out[m.crmField] = m.default;
  return out;
}
