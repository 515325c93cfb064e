// Salesforce records <-> CRM-neutral deals. Pure functions over settings and the org's shape (which country and
// currency fields exist), so they are tested with plain values.

import countries from 'i18n-iso-countries';
import english from 'i18n-iso-countries/langs/en.json' with { type: 'json' };
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
import { ASSISTANCE_PICKLIST, FIELD_LIMITS } from './fields.ts';
import type { SalesforceSettings } from './settings.ts';

countries.registerLocale(english);

/** What describe told us about the org, read once per adapter. */
export interface OrgShape {
  /** Account field holding the country, and whether it holds a name (needs translation) or a code. */
  accountCountryField: string;
  accountCountryIsName: boolean;
  /** Lead's country field, same rule (`CountryCode` with picklists, else `Country`). */
  leadCountryField: string;
  leadCountryIsName: boolean;
  /** Null in a single-currency org: CurrencyIsoCode does not exist there. */
  currencyField: string | null;
  auditMaxLength: number;
  opportunityNameMaxLength: number;
  /** Account has the configured DUNS field. */
  accountDunsField: string | null;
}

export type SfRecord = Record<string, unknown>;

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const bool = (v: unknown): boolean => v === true;

/** `Solution__c` -> `Solution__r`; standard lookups drop `Id` (`AccountId` -> `Account`). */
export function relationshipOf(field: string): string {
  if (field.endsWith('__c')) return `${field.slice(0, -3)}__r`;
  if (field.endsWith('Id')) return field.slice(0, -2);
  return field;
}

/** Two-letter code from a stored country (code or English name such as "United States"). */
export function countryCodeOf(value: string | null, isName: boolean): string | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^[A-Za-z]{2}$/.test(trimmed) && countries.isValid(trimmed.toUpperCase())) return trimmed.toUpperCase();
  if (!isName) return trimmed;
  return countries.getAlpha2Code(trimmed, 'en') ?? trimmed;
}

/** What to store for a two-letter code: the code, or the short English name when the field holds names. */
export function countryValueFor(code: string | null | undefined, isName: boolean): string | null {
  if (!code) return null;
  if (!isName) return code.toUpperCase();
  return countries.getName(code.toUpperCase(), 'en', { select: 'alias' }) ?? code;
}

export function opportunityFieldList(s: SalesforceSettings, org: OrgShape): string[] {
  const f = s.fields;
  const fields = [
    'Id',
    'Name',
    'StageName',
    'CloseDate',
    'AccountId',
    'OwnerId',
    'IsClosed',
    'IsWon',
    'SystemModstamp',
    f.dealValue,
    f.notes,
    f.syncFlag,
    f.referralId,
    f.referralLink,
    f.audit,
    f.assistance,
    f.visibility,
    f.microsoftCrmId,
    f.responseDeadline,
    f.partnerRole,
    f.solutionArea,
    f.solutionPlay,
    ...accountFieldList(org).map((a) => `Account.${a}`),
  ];
  if (org.currencyField) fields.push(org.currencyField);
  if (s.decision) fields.push(s.decision.field);
  return [...new Set(fields)];
}

export function accountFieldList(org: OrgShape): string[] {
  const fields = [
    'Id',
    'Name',
    'BillingStreet',
    'BillingCity',
    'BillingState',
    'BillingPostalCode',
    org.accountCountryField,
  ];
  if (org.accountDunsField) fields.push(org.accountDunsField);
  return fields;
}

export function leadFieldList(s: SalesforceSettings, org: OrgShape): string[] {
  const f = s.fields;
  const fields = [
    'Id',
    'FirstName',
    'LastName',
    'Company',
    'Email',
    'Phone',
    'Street',
    'City',
    'State',
    'PostalCode',
    org.leadCountryField,
    'Status',
    'Description',
    'OwnerId',
    'IsConverted',
    'ConvertedOpportunityId',
    'IsDeleted',
    'MasterRecordId',
    'SystemModstamp',
    f.syncFlag,
    f.referralId,
    f.referralLink,
    f.audit,
    f.microsoftCrmId,
  ];
  if (org.currencyField) fields.push(org.currencyField);
  return [...new Set(fields)];
}

export const CONTACT_ROLE_FIELDS = [
  'Id',
  'ContactId',
  'Role',
  'IsPrimary',
  'Contact.FirstName',
  'Contact.LastName',
  'Contact.Email',
  'Contact.Phone',
];

export function accountFromRecord(rec: SfRecord | null | undefined, org: OrgShape): Account | null {
  if (!rec || typeof rec !== 'object') return null;
  const name = str(rec.Name);
  if (!name) return null;
  return {
    id: str(rec.Id),
    name,
    duns: org.accountDunsField ? str(rec[org.accountDunsField]) : null,
    address: {
      street: str(rec.BillingStreet),
      city: str(rec.BillingCity),
      state: str(rec.BillingState),
      postalCode: str(rec.BillingPostalCode),
      country: countryCodeOf(str(rec[org.accountCountryField]), org.accountCountryIsName),
    },
  };
}

export function accountToRecord(account: AccountInput, org: OrgShape): SfRecord {
  const address = account.address ?? {};
  const rec: SfRecord = { Name: account.name.slice(0, FIELD_LIMITS.accountName) };
  if (address.street) rec.BillingStreet = address.street;
  if (address.city) rec.BillingCity = address.city;
  if (address.state) rec.BillingState = address.state;
  if (address.postalCode) rec.BillingPostalCode = address.postalCode;
  const country = countryValueFor(address.country, org.accountCountryIsName);
  if (country) rec[org.accountCountryField] = country;
  if (account.duns && org.accountDunsField) rec[org.accountDunsField] = account.duns;
  return rec;
}

export function contactFromRole(role: SfRecord): Contact | null {
  const contact = (role.Contact ?? null) as SfRecord | null;
  const lastName = str(contact?.LastName);
  if (!lastName) return null;
  return {
    id: str(role.ContactId),
    firstName: str(contact?.FirstName),
    lastName,
    email: str(contact?.Email),
    phone: str(contact?.Phone),
    role: str(role.Role),
    isPrimary: bool(role.IsPrimary),
  };
}

export function contactToRecord(contact: ContactInput, accountId: string | undefined): SfRecord {
  const rec: SfRecord = { LastName: contact.lastName };
  if (contact.firstName) rec.FirstName = contact.firstName;
  if (contact.email) rec.Email = contact.email;
  if (contact.phone) rec.Phone = contact.phone;
  if (accountId) rec.AccountId = accountId;
  return rec;
}

export function solutionFromJunction(row: SfRecord, s: SalesforceSettings): SolutionRef | null {
  const catalogue = (row[relationshipOf(s.solutions.junctionSolution)] ?? null) as SfRecord | null;
  const id = str(catalogue?.[s.solutions.catalogueSolutionId]);
  if (!id) return null;
  return {
    id,
    name: str(catalogue?.[s.solutions.catalogueSolutionName]) ?? str(catalogue?.Name),
    crmId: str(row[s.solutions.junctionSolution]),
  };
}

const assistanceTables = new WeakMap<SalesforceSettings, ValueMap<AssistanceCode, string>>();

/** "How can Microsoft help?" picklist values of this org: the package's, with the config's overrides (R22). */
export function assistanceValues(s: SalesforceSettings): ValueMap<AssistanceCode, string> {
  let table = assistanceTables.get(s);
  if (!table) {
    table = new ValueMap(ASSISTANCE_PICKLIST, s.values.assistance);
    assistanceTables.set(s, table);
  }
  return table;
}

export function opportunityToDeal(
  rec: SfRecord,
  related: { roles: SfRecord[]; solutions: SfRecord[] },
  s: SalesforceSettings,
  org: OrgShape,
): Deal {
  const f = s.fields;
  const rawName = str(rec.Name) ?? '';
  return {
    kind: 'opportunity',
    id: String(rec.Id),
    name: stripStatusMarks(rawName),
    mark: statusMarkOf(rawName) ?? null,
    stage: str(rec.StageName),
    onHold: !bool(rec.IsClosed) && str(rec.StageName) === s.stages.onHold,
    decision: s.decision ? decisionOf(rec[s.decision.field], s.decision) : null,
    closeDate: str(rec.CloseDate),
    value: num(rec[f.dealValue]),
    currency: org.currencyField ? str(rec[org.currencyField]) : null,
    notes: str(rec[f.notes]),
    syncWithPartnerCenter: bool(rec[f.syncFlag]),
    assistance: assistanceValues(s).fromCrm(str(rec[f.assistance])),
    visibleToMicrosoft: bool(rec[f.visibility]),
    referralId: str(rec[f.referralId]),
    referralLink: str(rec[f.referralLink]),
    microsoftCrmId: str(rec[f.microsoftCrmId]),
    responseDeadline: str(rec[f.responseDeadline]),
    partnerRole: str(rec[f.partnerRole]),
    solutionArea: str(rec[f.solutionArea]),
    solutionPlay: str(rec[f.solutionPlay]),
    audit: str(rec[f.audit]),
    isClosed: bool(rec.IsClosed),
    isWon: bool(rec.IsWon),
    account: rec.AccountId
      ? accountFromRecord({ ...(rec.Account as SfRecord), Id: rec.AccountId }, org)
      : null,
    contacts: related.roles.map(contactFromRole).filter((c): c is Contact => c !== null),
    solutions: related.solutions
      .map((row) => solutionFromJunction(row, s))
      .filter((x): x is SolutionRef => x !== null),
    ownerId: str(rec.OwnerId),
    modifiedAt: str(rec.SystemModstamp),
  };
}

/** What a Salesforce lead has no field for: it never speaks for these values of its referral. */
const LEAD_LACKS: Deal['lacks'] = ['name', 'closeDate', 'value'];

export function leadToDeal(rec: SfRecord, s: SalesforceSettings, org: OrgShape): Deal {
  const f = s.fields;
  const lastName = str(rec.LastName);
  const company = str(rec.Company) ?? '';
  return {
    kind: 'lead',
    id: String(rec.Id),
    // A lead has no deal name of its own; the company stands in for it.
    name: stripStatusMarks(company),
    mark: statusMarkOf(company) ?? null,
    stage: str(rec.Status),
    closeDate: null,
    value: null,
    currency: org.currencyField ? str(rec[org.currencyField]) : null,
    notes: str(rec.Description),
    syncWithPartnerCenter: bool(rec[f.syncFlag]),
    assistance: null,
    visibleToMicrosoft: null,
    referralId: str(rec[f.referralId]),
    referralLink: str(rec[f.referralLink]),
    microsoftCrmId: str(rec[f.microsoftCrmId]),
    audit: str(rec[f.audit]),
    isClosed: bool(rec.IsConverted),
    isWon: false,
    account: {
      id: null,
      name: stripStatusMarks(company) || '(no company)',
      duns: null,
      address: {
        street: str(rec.Street),
        city: str(rec.City),
        state: str(rec.State),
        postalCode: str(rec.PostalCode),
        country: countryCodeOf(str(rec[org.leadCountryField]), org.leadCountryIsName),
      },
    },
    contacts: lastName
      ? [
          {
            id: null,
            firstName: str(rec.FirstName),
            lastName,
            email: str(rec.Email),
            phone: str(rec.Phone),
            role: null,
            isPrimary: true,
          },
        ]
      : [],
    solutions: [],
    convertedOpportunityId: str(rec.ConvertedOpportunityId),
    // Read through queryAll: a lead merged away is deleted and names the survivor (R31).
    mergedInto:
      rec.IsDeleted === true && str(rec.MasterRecordId)
        ? { id: String(rec.MasterRecordId), recordKept: false }
        : null,
    ownerId: str(rec.OwnerId),
    lacks: LEAD_LACKS,
    modifiedAt: str(rec.SystemModstamp),
  };
}

/** Opportunity fields for the present keys of `fields` (absent keys are not written; null clears). */
export function dealFieldsToOpportunity(
  fields: Partial<DealFields>,
  s: SalesforceSettings,
  org: OrgShape,
): SfRecord {
  const f = s.fields;
  const rec: SfRecord = {};
  if (fields.stage !== undefined) rec.StageName = fields.stage;
  // R8: leaving the on-hold stage moves the deal to the configured active stage.
  else if (fields.onHold !== undefined && fields.onHold !== null)
    rec.StageName = fields.onHold ? s.stages.onHold : s.stages.active;
  if (fields.closeDate !== undefined) rec.CloseDate = fields.closeDate;
  if (fields.value !== undefined) rec[f.dealValue] = fields.value;
  if (fields.currency !== undefined && org.currencyField) rec[org.currencyField] = fields.currency;
  if (fields.notes !== undefined) rec[f.notes] = fields.notes;
  if (fields.syncWithPartnerCenter !== undefined) rec[f.syncFlag] = fields.syncWithPartnerCenter ?? false;
  if (fields.assistance !== undefined) rec[f.assistance] = assistanceValues(s).toCrm(fields.assistance);
  if (fields.visibleToMicrosoft !== undefined) rec[f.visibility] = fields.visibleToMicrosoft ?? false;
  if (fields.responseDeadline !== undefined) rec[f.responseDeadline] = fields.responseDeadline;
  for (const key of SERVICES_DEAL_FIELDS) if (fields[key] !== undefined) rec[f[key]] = fields[key];
  return rec;
}

/** The stored name: clean name plus the mark when marks are displayed (R20). */
export function storedName(
  name: string,
  mark: StatusMark | null | undefined,
  s: SalesforceSettings,
  maxLength: number,
): string {
  return withStatusMark(name, s.displayCheckMark ? (mark ?? null) : null, maxLength);
}
