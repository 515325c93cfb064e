// Dataverse rows <-> CRM-neutral deals. Pure functions over the effective settings (environment variables and
// config, R21) and the environment's currencies, so they are tested with plain values.

import { countryCodeFromName, countryNameFromCode } from '../../core/countries.ts';
import {
  type Account,
  type AccountInput,
  type Contact,
  type ContactInput,
  type Deal,
  type DealFields,
  SERVICES_DEAL_FIELDS,
  type SolutionRef,
} from '../../core/deal.ts';
import { decisionOf } from '../../core/decision.ts';
import { type StatusMark, statusMarkOf, stripStatusMarks, withStatusMark } from '../../core/normalize.ts';
import type { AssistanceCode } from '../../core/referral.ts';
import { ValueMap } from '../../core/value-map.ts';
import {
  ACCOUNT_COLUMNS,
  ASSISTANCE_CHOICES,
  CONTACT_COLUMNS,
  LEAD_STATE,
  OPPORTUNITY_COLUMNS,
  OPPORTUNITY_STATE,
  OPPORTUNITY_STATUS,
  type SolutionNames,
  solutionNames,
  VISIBILITY_CHOICES,
} from './fields.ts';
import type { DynamicsSettings } from './settings.ts';

export type Row = Record<string, unknown>;

/** Where an effective setting came from (doctor prints it). */
export type SettingSource =
  | 'config'
  | 'environment variable (current value)'
  | 'environment variable (default value)'
  | 'built-in default';

/** The settings after environment variables and config are merged (R21). */
export interface Effective {
  names: SolutionNames;
  dealValueField: string;
  accountCountryField: string;
  countryFormat: 'code' | 'name';
  accountCountryLookup: DynamicsSettings['accountCountryLookup'];
  decision: DynamicsSettings['decision'];
  /** "How can Microsoft help?" choice values: the solution's, with the config's overrides (R22). */
  assistance: ValueMap<AssistanceCode, number>;
  accountDunsField: string | null;
  displayCheckMark: boolean;
  syncCoSellOpportunitiesOnly: boolean;
  sources: Record<
    'dealValueField' | 'accountCountryField' | 'displayCheckMark' | 'syncCoSellOpportunitiesOnly',
    SettingSource
  >;
}

export interface VariableValue {
  value: string | null;
  defaultValue: string | null;
}

const yes = (text: string) => /^(yes|true|1)$/i.test(text.trim());

/** Merges config over environment variables (current value over default value) over built-in defaults. */
export function effectiveSettings(
  settings: DynamicsSettings,
  variables: Map<string, VariableValue>,
): Effective {
  const names = solutionNames(settings.prefix);
  const sources = {} as Effective['sources'];
  const pick = <T>(
    key: keyof Effective['sources'],
    configured: T | null,
    variable: string,
    parse: (t: string) => T,
    fallback: T,
  ): T => {
    if (configured !== null) {
      sources[key] = 'config';
      return configured;
    }
    const v = variables.get(variable.toLowerCase());
    if (v?.value !== null && v?.value !== undefined && v.value.trim() !== '') {
      sources[key] = 'environment variable (current value)';
      return parse(v.value);
    }
    if (v?.defaultValue !== null && v?.defaultValue !== undefined && v.defaultValue.trim() !== '') {
      sources[key] = 'environment variable (default value)';
      return parse(v.defaultValue);
    }
    sources[key] = 'built-in default';
    return fallback;
  };
  const vars = names.variables;
  const column = (t: string) => t.trim().toLowerCase();
  return {
    names,
    dealValueField: pick(
      'dealValueField',
      settings.dealValueField,
      vars.dealValueField,
      column,
      'estimatedvalue',
    ),
    accountCountryField: pick(
      'accountCountryField',
      settings.accountCountryField,
      vars.accountCountryField,
      column,
      'address1_country',
    ),
    countryFormat: settings.countryFormat,
    accountCountryLookup: settings.accountCountryLookup,
    decision: settings.decision,
    assistance: new ValueMap(ASSISTANCE_CHOICES, settings.values.assistance),
    accountDunsField: settings.accountDunsField,
    displayCheckMark: pick('displayCheckMark', settings.displayCheckMark, vars.displayCheckMark, yes, true),
    syncCoSellOpportunitiesOnly: pick(
      'syncCoSellOpportunitiesOnly',
      settings.syncCoSellOpportunitiesOnly,
      vars.syncCoSellOpportunitiesOnly,
      yes,
      false,
    ),
    sources,
  };
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** A row's `versionnumber`: selected, or from the `@odata.etag` (`W/"1234"`) every row carries. */
export function versionOf(row: Row): string | null {
  if (row.versionnumber !== undefined && row.versionnumber !== null) return String(row.versionnumber);
  const etag = row['@odata.etag'];
  const match = typeof etag === 'string' ? /^W\/"(\d+)"$/.exec(etag) : null;
  return match ? match[1]! : null;
}
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * A date-and-time column as text. dynamics-web-api turns every `2026-12-20T05:31:44Z` in an answer into a Date
 * (its JSON reviver), so a datetime column arrives as a Date, not the string Dataverse sent.
 */
export function dateTimeOf(v: unknown): string | null {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString().replace(/\.000Z$/, 'Z');
  return str(v);
}

/** Two-letter code from a stored country: a code, or an English name such as "United States". */
export function countryCodeOf(value: unknown): string | null {
  const text = str(value)?.trim();
  if (!text) return null;
  // Unknown text is kept as it is, so the co-sell rules can name it in the audit line.
  return countryCodeFromName(text) ?? text;
}

/** What a text country column gets for a code: the code (the seed's rule) or its short English name. */
export function countryValueFor(code: string | null | undefined, format: 'code' | 'name'): string | null {
  if (!code) return null;
  if (format === 'code') return code.toUpperCase();
  return countryNameFromCode(code) ?? code;
}

export function accountColumns(e: Effective): string[] {
  const columns: string[] = [
    ACCOUNT_COLUMNS.id,
    ACCOUNT_COLUMNS.name,
    ACCOUNT_COLUMNS.street,
    ACCOUNT_COLUMNS.city,
    ACCOUNT_COLUMNS.state,
    ACCOUNT_COLUMNS.postalCode,
  ];
  if (!e.accountCountryLookup) columns.push(e.accountCountryField);
  else columns.push(`_${e.accountCountryLookup.navigation.toLowerCase()}_value`);
  if (e.accountDunsField) columns.push(e.accountDunsField);
  return [...new Set(columns)];
}

export function contactColumns(): string[] {
  return Object.values(CONTACT_COLUMNS);
}

/** A catalogue solution row as a deal's solutions read it. */
export function catalogueColumns(e: Effective): string[] {
  return [e.names.catalogue.id, e.names.catalogue.solutionId, e.names.catalogue.name];
}

export function opportunityColumns(e: Effective): string[] {
  const c = e.names.columns;
  return [
    ...new Set([
      OPPORTUNITY_COLUMNS.id,
      OPPORTUNITY_COLUMNS.name,
      OPPORTUNITY_COLUMNS.closeDate,
      OPPORTUNITY_COLUMNS.notes,
      OPPORTUNITY_COLUMNS.state,
      OPPORTUNITY_COLUMNS.status,
      OPPORTUNITY_COLUMNS.step,
      OPPORTUNITY_COLUMNS.modified,
      `_${OPPORTUNITY_COLUMNS.account}_value`,
      `_${OPPORTUNITY_COLUMNS.contact}_value`,
      `_${OPPORTUNITY_COLUMNS.currency}_value`,
      `_${OPPORTUNITY_COLUMNS.owner}_value`,
      e.dealValueField,
      c.syncFlag,
      c.referralId,
      c.referralLink,
      c.audit,
      c.assistance,
      c.visibility,
      c.microsoftCrmId,
      c.responseDeadline,
      c.partnerRole,
      c.solutionArea,
      c.solutionPlay,
      ...(e.decision ? [e.decision.field] : []),
    ]),
  ];
}

export function leadColumns(e: Effective): string[] {
  const c = e.names.columns;
  return [
    'leadid',
    'subject',
    'firstname',
    'lastname',
    'companyname',
    'emailaddress1',
    'telephone1',
    'address1_line1',
    'address1_city',
    'address1_stateorprovince',
    'address1_postalcode',
    'address1_country',
    'estimatedamount',
    'estimatedclosedate',
    'description',
    'statecode',
    'statuscode',
    'modifiedon',
    '_qualifyingopportunityid_value',
    '_masterid_value',
    '_ownerid_value',
    c.syncFlag,
    c.referralId,
    c.referralLink,
    c.audit,
    c.microsoftCrmId,
  ];
}

export function accountFromRow(
  row: Row | null | undefined,
  e: Effective,
  lookupCodes?: Map<string, string>,
): Account | null {
  if (!row || !str(row.accountid)) return null;
  const country = e.accountCountryLookup
    ? (lookupCodes?.get(String(row[`_${e.accountCountryLookup.navigation.toLowerCase()}_value`] ?? '')) ??
      null)
    : countryCodeOf(row[e.accountCountryField]);
  return {
    id: String(row.accountid),
    name: String(row.name ?? ''),
    duns: e.accountDunsField ? str(row[e.accountDunsField]) : null,
    address: {
      street: str(row[ACCOUNT_COLUMNS.street]),
      city: str(row[ACCOUNT_COLUMNS.city]),
      state: str(row[ACCOUNT_COLUMNS.state]),
      postalCode: str(row[ACCOUNT_COLUMNS.postalCode]),
      country,
    },
  };
}

/** Account columns for a new account; the country as the configured column holds it (a lookup is bound by the
 *  caller, which knows the country table's ids). */
export function accountToRow(account: AccountInput, e: Effective): Row {
  const a = account.address ?? {};
  const row: Row = { [ACCOUNT_COLUMNS.name]: account.name };
  if (a.street) row[ACCOUNT_COLUMNS.street] = a.street;
  if (a.city) row[ACCOUNT_COLUMNS.city] = a.city;
  if (a.state) row[ACCOUNT_COLUMNS.state] = a.state;
  if (a.postalCode) row[ACCOUNT_COLUMNS.postalCode] = a.postalCode;
  if (a.country && !e.accountCountryLookup)
    row[e.accountCountryField] = countryValueFor(a.country, e.countryFormat);
  if (account.duns && e.accountDunsField) row[e.accountDunsField] = account.duns;
  return row;
}

export function contactFromRow(row: Row): Contact {
  return {
    id: String(row.contactid),
    firstName: str(row.firstname),
    lastName: String(row.lastname ?? ''),
    email: str(row.emailaddress1),
    phone: str(row.telephone1),
  };
}

export function contactToRow(contact: ContactInput, accountId: string | undefined): Row {
  const row: Row = { lastname: contact.lastName };
  if (contact.firstName) row.firstname = contact.firstName;
  if (contact.email) row.emailaddress1 = contact.email;
  if (contact.phone) row.telephone1 = contact.phone;
  if (accountId) row['parentcustomerid_account@odata.bind'] = `/accounts(${accountId})`;
  return row;
}

export interface DealParts {
  account: Row | null;
  contacts: Row[];
  /** Catalogue rows attached through the junction table. */
  solutions: Row[];
  currencyCode: string | null;
  lookupCodes?: Map<string, string>;
}

export function opportunityToDeal(row: Row, parts: DealParts, e: Effective): Deal {
  const c = e.names.columns;
  const rawName = String(row.name ?? '');
  const state = Number(row.statecode ?? 0);
  const assistance = e.assistance.fromCrm(row[c.assistance]);
  return {
    kind: 'opportunity',
    id: String(row.opportunityid),
    name: stripStatusMarks(rawName),
    mark: statusMarkOf(rawName) ?? null,
    stage:
      state === OPPORTUNITY_STATE.open ? str(row.stepname) : state === OPPORTUNITY_STATE.won ? 'Won' : 'Lost',
    onHold: state === OPPORTUNITY_STATE.open && Number(row.statuscode) === OPPORTUNITY_STATUS.onHold,
    decision: e.decision ? decisionOf(row[e.decision.field], e.decision) : null,
    closeDate: str(row.estimatedclosedate),
    value: num(row[e.dealValueField]),
    currency: parts.currencyCode,
    notes: str(row.description),
    syncWithPartnerCenter: row[c.syncFlag] === true,
    assistance,
    visibleToMicrosoft: row[c.visibility] === VISIBILITY_CHOICES.visible,
    referralId: str(row[c.referralId]),
    referralLink: str(row[c.referralLink]),
    microsoftCrmId: str(row[c.microsoftCrmId]),
    responseDeadline: dateTimeOf(row[c.responseDeadline]),
    partnerRole: str(row[c.partnerRole]),
    solutionArea: str(row[c.solutionArea]),
    solutionPlay: str(row[c.solutionPlay]),
    audit: str(row[c.audit]),
    isClosed: state !== OPPORTUNITY_STATE.open,
    isWon: state === OPPORTUNITY_STATE.won,
    account: accountFromRow(parts.account, e, parts.lookupCodes),
    contacts: parts.contacts.map(contactFromRow),
    solutions: parts.solutions.map(
      (s): SolutionRef => ({
        id: String(s[e.names.catalogue.solutionId]),
        name: str(s[e.names.catalogue.name]),
        crmId: str(s[e.names.catalogue.id]),
      }),
    ),
    ownerId: str(row._ownerid_value),
    modifiedAt: str(row.modifiedon),
    version: versionOf(row),
  };
}

export function leadToDeal(row: Row, e: Effective): Deal {
  const c = e.names.columns;
  const state = Number(row.statecode ?? 0);
  const lastName = str(row.lastname);
  return {
    kind: 'lead',
    id: String(row.leadid),
    name: String(row.subject ?? row.companyname ?? ''),
    mark: null,
    stage: null,
    closeDate: str(row.estimatedclosedate),
    value: num(row.estimatedamount),
    currency: null,
    notes: str(row.description),
    syncWithPartnerCenter: row[c.syncFlag] === true,
    assistance: null,
    visibleToMicrosoft: false,
    referralId: str(row[c.referralId]),
    referralLink: str(row[c.referralLink]),
    microsoftCrmId: str(row[c.microsoftCrmId]),
    audit: str(row[c.audit]),
    isClosed: state !== LEAD_STATE.open,
    isWon: state === LEAD_STATE.qualified,
    account: str(row.companyname)
      ? {
          id: null,
          name: String(row.companyname),
          duns: null,
          address: {
            street: str(row.address1_line1),
            city: str(row.address1_city),
            state: str(row.address1_stateorprovince),
            postalCode: str(row.address1_postalcode),
            country: countryCodeOf(row.address1_country),
          },
        }
      : null,
    contacts: lastName
      ? [
          {
            id: null,
            firstName: str(row.firstname),
            lastName,
            email: str(row.emailaddress1),
            phone: str(row.telephone1),
          },
        ]
      : [],
    solutions: [],
    convertedOpportunityId: str(row._qualifyingopportunityid_value),
    // A merged lead stays, deactivated, naming the survivor (R31).
    mergedInto: str(row._masterid_value) ? { id: String(row._masterid_value), recordKept: true } : null,
    ownerId: str(row._ownerid_value),
    modifiedAt: str(row.modifiedon),
    version: versionOf(row),
  };
}

/** Opportunity columns for the present keys of `fields` (absent keys are not written; null clears). The
 *  currency is bound by the caller (it needs the transactioncurrency id). */
export function dealFieldsToOpportunity(fields: Partial<DealFields>, e: Effective): Row {
  const c = e.names.columns;
  const row: Row = {};
  if (fields.stage !== undefined && fields.stage !== 'Won' && fields.stage !== 'Lost')
    row.stepname = fields.stage;
  // R8: the On Hold status reason of an open opportunity is the incoming referral waiting for an answer.
  if (fields.onHold !== undefined && fields.onHold !== null) {
    row.statuscode = fields.onHold ? OPPORTUNITY_STATUS.onHold : OPPORTUNITY_STATUS.inProgress;
  }
  if (fields.closeDate !== undefined) row.estimatedclosedate = fields.closeDate;
  if (fields.value !== undefined) row[e.dealValueField] = fields.value;
  if (fields.notes !== undefined) row.description = fields.notes;
  if (fields.syncWithPartnerCenter !== undefined) row[c.syncFlag] = fields.syncWithPartnerCenter ?? false;
  if (fields.assistance !== undefined) row[c.assistance] = e.assistance.toCrm(fields.assistance);
  if (fields.visibleToMicrosoft !== undefined) {
    row[c.visibility] = fields.visibleToMicrosoft ? VISIBILITY_CHOICES.visible : VISIBILITY_CHOICES.hidden;
  }
  if (fields.responseDeadline !== undefined) row[c.responseDeadline] = fields.responseDeadline;
  for (const key of SERVICES_DEAL_FIELDS) if (fields[key] !== undefined) row[c[key]] = fields[key];
  return row;
}

export function storedName(
  name: string,
  mark: StatusMark | null | undefined,
  e: Effective,
  maxLength: number,
): string {
  return withStatusMark(name, e.displayCheckMark ? (mark ?? null) : null, maxLength);
}

/** A string literal for `$filter` or a key: single quotes doubled (reference §A.5). */
export function quote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** `(col='value')` key segment for an alternate key, URL-safe. */
export function keyOf(column: string, value: string): string {
  return `${column}=${encodeURIComponent(quote(value))}`;
}
