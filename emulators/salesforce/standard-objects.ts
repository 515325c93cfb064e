/**
 * Standard objects of a Salesforce org as the emulator serves them: the fields cosell reads or writes plus the
 * system fields every record has. Facts from reference/crm.md §B.11 (required fields, default stages and lead
 * statuses, key prefixes).
 */
import { type FieldDef, type FieldSpec, fieldDef, type ObjectDef, type PicklistValue } from './types.ts';

export interface StageInfo {
  name: string;
  probability: number;
  isClosed: boolean;
  isWon: boolean;
  forecastCategoryName: 'Pipeline' | 'Best Case' | 'Commit' | 'Closed' | 'Omitted';
}

/** Default Opportunity stages of a new org, in order; IsClosed/IsWon/Probability derive from them. */
export const OPPORTUNITY_STAGES: readonly StageInfo[] = [
  { name: 'Prospecting', probability: 10, isClosed: false, isWon: false, forecastCategoryName: 'Pipeline' },
  { name: 'Qualification', probability: 10, isClosed: false, isWon: false, forecastCategoryName: 'Pipeline' },
  {
    name: 'Needs Analysis',
    probability: 20,
    isClosed: false,
    isWon: false,
    forecastCategoryName: 'Pipeline',
  },
  {
    name: 'Value Proposition',
    probability: 50,
    isClosed: false,
    isWon: false,
    forecastCategoryName: 'Pipeline',
  },
  {
    name: 'Id. Decision Makers',
    probability: 60,
    isClosed: false,
    isWon: false,
    forecastCategoryName: 'Pipeline',
  },
  {
    name: 'Perception Analysis',
    probability: 70,
    isClosed: false,
    isWon: false,
    forecastCategoryName: 'Pipeline',
  },
  {
    name: 'Proposal/Price Quote',
    probability: 75,
    isClosed: false,
    isWon: false,
    forecastCategoryName: 'Pipeline',
  },
  {
    name: 'Negotiation/Review',
    probability: 90,
    isClosed: false,
    isWon: false,
    forecastCategoryName: 'Pipeline',
  },
  { name: 'Closed Won', probability: 100, isClosed: true, isWon: true, forecastCategoryName: 'Closed' },
  { name: 'Closed Lost', probability: 0, isClosed: true, isWon: false, forecastCategoryName: 'Omitted' },
];

export const LEAD_STATUSES = [
  'Open - Not Contacted',
  'Working - Contacted',
  'Closed - Converted',
  'Closed - Not Converted',
] as const;
export const DEFAULT_LEAD_STATUS = 'Open - Not Contacted';
export const CONVERTED_LEAD_STATUS = 'Closed - Converted';

export const CONTACT_ROLES = [
  'Business User',
  'Decision Maker',
  'Economic Buyer',
  'Economic Decision Maker',
  'Evaluator',
  'Executive Sponsor',
  'Influencer',
  'Technical Buyer',
  'Other',
] as const;

/** ISO 4217 codes enabled in the emulated multi-currency org; the first is the corporate currency. */
export const ORG_CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY', 'AUD', 'CAD', 'INR', 'CHF'] as const;

export const STANDARD_KEY_PREFIXES = {
  Account: '001',
  Contact: '003',
  Opportunity: '006',
  Lead: '00Q',
  OpportunityContactRole: '00K',
  User: '005',
  Organization: '00D',
  CurrencyType: '01L',
} as const;

function picklistValues(values: readonly string[], defaultValue?: string): PicklistValue[] {
  return values.map((value) => ({ value, label: value, active: true, defaultValue: value === defaultValue }));
}

const str = (name: string, length: number, extra: Partial<FieldDef> = {}): FieldSpec => ({
  name,
  type: 'string',
  length,
  ...extra,
});
const textarea = (name: string, length: number): FieldSpec => ({ name, type: 'textarea', length });
const picklist = (name: string, values: readonly string[], extra: Partial<FieldDef> = {}): FieldSpec => ({
  name,
  type: 'picklist',
  length: 255,
  picklistValues: picklistValues(
    values,
    typeof extra.defaultValue === 'string' ? extra.defaultValue : undefined,
  ),
  ...extra,
});
const ref = (
  name: string,
  to: string,
  relationshipName: string,
  extra: Partial<FieldDef> = {},
): FieldSpec => ({
  name,
  type: 'reference',
  length: 18,
  referenceTo: [to],
  relationshipName,
  ...extra,
});
const readOnly: Partial<FieldDef> = { createable: false, updateable: false, calculated: true };
const money = (name: string): FieldSpec => ({ name, type: 'currency', precision: 18, scale: 2 });

/** Fields every record has; `OwnerId` is added per object because detail objects have none. */
function systemFields(): FieldSpec[] {
  return [
    { name: 'IsDeleted', type: 'boolean', ...readOnly },
    { name: 'CreatedDate', type: 'datetime', nillable: false, ...readOnly },
    ref('CreatedById', 'User', 'CreatedBy', { nillable: false, ...readOnly }),
    { name: 'LastModifiedDate', type: 'datetime', nillable: false, ...readOnly },
    ref('LastModifiedById', 'User', 'LastModifiedBy', { nillable: false, ...readOnly }),
    { name: 'SystemModstamp', type: 'datetime', nillable: false, ...readOnly },
  ];
}

function idField(): FieldSpec {
  return { name: 'Id', type: 'id', length: 18, nillable: false, ...readOnly };
}

const owner = (): FieldSpec => ref('OwnerId', 'User', 'Owner', { nillable: false });

function address(prefix: string): FieldSpec[] {
  return [
    textarea(`${prefix}Street`, 255),
    str(`${prefix}City`, 40),
    str(`${prefix}State`, 80),
    str(`${prefix}PostalCode`, 20),
    str(`${prefix}Country`, 80),
  ];
}

const INDUSTRIES = [
  'Agriculture',
  'Banking',
  'Communications',
  'Education',
  'Energy',
  'Finance',
  'Government',
  'Healthcare',
  'Manufacturing',
  'Retail',
  'Technology',
  'Other',
];
const LEAD_SOURCES = ['Web', 'Phone Inquiry', 'Partner Referral', 'Purchased List', 'Other'];

interface StandardObjectSpec {
  name: string;
  label: string;
  labelPlural: string;
  fields: FieldSpec[];
  createable?: boolean;
  /** Whether the object carries CurrencyIsoCode in a multi-currency org. */
  hasCurrency: boolean;
  /** Exists only in multi-currency orgs (CurrencyType). */
  multiCurrencyOnly?: boolean;
}

const STANDARD_OBJECT_SPECS: StandardObjectSpec[] = [
  {
    name: 'Account',
    label: 'Account',
    labelPlural: 'Accounts',
    hasCurrency: true,
    fields: [
      idField(),
      str('Name', 255, { nillable: false, required: true }),
      str('AccountNumber', 40),
      picklist('Type', ['Prospect', 'Customer - Direct', 'Customer - Channel', 'Partner', 'Other']),
      ref('ParentId', 'Account', 'Parent'),
      ...address('Billing'),
      ...address('Shipping'),
      { name: 'Phone', type: 'phone', length: 40 },
      { name: 'Website', type: 'url', length: 255 },
      picklist('Industry', INDUSTRIES),
      money('AnnualRevenue'),
      { name: 'NumberOfEmployees', type: 'int', precision: 8 },
      textarea('Description', 32000),
      owner(),
      ref('MasterRecordId', 'Account', 'MasterRecord', readOnly),
      ...systemFields(),
    ],
  },
  {
    name: 'Contact',
    label: 'Contact',
    labelPlural: 'Contacts',
    hasCurrency: true,
    fields: [
      idField(),
      ref('AccountId', 'Account', 'Account'),
      str('LastName', 80, { nillable: false, required: true }),
      str('FirstName', 40),
      picklist('Salutation', ['Mr.', 'Ms.', 'Mrs.', 'Dr.', 'Prof.']),
      str('Name', 121, { nillable: false, ...readOnly }),
      { name: 'Email', type: 'email', length: 80 },
      { name: 'Phone', type: 'phone', length: 40 },
      { name: 'MobilePhone', type: 'phone', length: 40 },
      str('Title', 128),
      ...address('Mailing'),
      textarea('Description', 32000),
      owner(),
      ref('MasterRecordId', 'Contact', 'MasterRecord', readOnly),
      ...systemFields(),
    ],
  },
  {
    name: 'Opportunity',
    label: 'Opportunity',
    labelPlural: 'Opportunities',
    hasCurrency: true,
    fields: [
      idField(),
      ref('AccountId', 'Account', 'Account'),
      str('Name', 120, { nillable: false, required: true }),
      textarea('Description', 32000),
      picklist(
        'StageName',
        OPPORTUNITY_STAGES.map((s) => s.name),
        // Stage drives IsClosed/IsWon/Probability, so unknown stages are refused like a restricted picklist.
        { nillable: false, required: true, restrictedPicklist: true },
      ),
      money('Amount'),
      { name: 'Probability', type: 'percent', precision: 3, scale: 0 },
      { name: 'CloseDate', type: 'date', nillable: false, required: true },
      picklist('Type', ['Existing Customer - Upgrade', 'Existing Customer - Replacement', 'New Customer']),
      str('NextStep', 255),
      picklist('LeadSource', LEAD_SOURCES),
      { name: 'IsClosed', type: 'boolean', ...readOnly },
      { name: 'IsWon', type: 'boolean', ...readOnly },
      picklist('ForecastCategoryName', ['Omitted', 'Pipeline', 'Best Case', 'Commit', 'Closed']),
      ref('ContactId', 'Contact', 'Contact'),
      owner(),
      ...systemFields(),
    ],
  },
  {
    name: 'OpportunityContactRole',
    label: 'Opportunity Contact Role',
    labelPlural: 'Opportunity Contact Roles',
    hasCurrency: false,
    fields: [
      idField(),
      ref('OpportunityId', 'Opportunity', 'Opportunity', {
        nillable: false,
        required: true,
        updateable: false,
      }),
      ref('ContactId', 'Contact', 'Contact', { nillable: false, required: true }),
      picklist('Role', CONTACT_ROLES),
      { name: 'IsPrimary', type: 'boolean' },
      ...systemFields(),
    ],
  },
  {
    name: 'Lead',
    label: 'Lead',
    labelPlural: 'Leads',
    hasCurrency: true,
    fields: [
      idField(),
      str('LastName', 80, { nillable: false, required: true }),
      str('FirstName', 40),
      str('Name', 121, { nillable: false, ...readOnly }),
      str('Title', 128),
      str('Company', 255, { nillable: false, required: true }),
      ...address(''),
      { name: 'Phone', type: 'phone', length: 40 },
      { name: 'Email', type: 'email', length: 80 },
      { name: 'Website', type: 'url', length: 255 },
      textarea('Description', 32000),
      picklist('LeadSource', LEAD_SOURCES),
      picklist('Status', LEAD_STATUSES, { nillable: false, defaultValue: DEFAULT_LEAD_STATUS }),
      picklist('Industry', INDUSTRIES),
      money('AnnualRevenue'),
      { name: 'NumberOfEmployees', type: 'int', precision: 8 },
      { name: 'IsConverted', type: 'boolean', ...readOnly },
      { name: 'ConvertedDate', type: 'date', ...readOnly },
      ref('ConvertedAccountId', 'Account', 'ConvertedAccount', readOnly),
      ref('ConvertedContactId', 'Contact', 'ConvertedContact', readOnly),
      ref('ConvertedOpportunityId', 'Opportunity', 'ConvertedOpportunity', readOnly),
      owner(),
      ref('MasterRecordId', 'Lead', 'MasterRecord', readOnly),
      ...systemFields(),
    ],
  },
  {
    name: 'User',
    label: 'User',
    labelPlural: 'Users',
    hasCurrency: false,
    createable: false,
    fields: [
      idField(),
      str('Username', 80, { nillable: false, required: true, unique: true }),
      str('LastName', 80, { nillable: false, required: true }),
      str('FirstName', 40),
      str('Name', 121, { nillable: false, ...readOnly }),
      { name: 'Email', type: 'email', length: 128, nillable: false, required: true },
      str('Alias', 8, { nillable: false, required: true }),
      { name: 'IsActive', type: 'boolean', defaultValue: true },
      ...systemFields(),
    ],
  },
  {
    // One row: the org itself. DefaultCurrencyIsoCode is the corporate currency, the one every amount of a
    // single-currency org is in (reference/crm.md §B: CurrencyIsoCode exists only in multi-currency orgs).
    name: 'Organization',
    label: 'Organization',
    labelPlural: 'Organizations',
    hasCurrency: false,
    createable: false,
    fields: [
      idField(),
      str('Name', 80, { nillable: false, ...readOnly }),
      str('DefaultCurrencyIsoCode', 3, readOnly),
      { name: 'IsMultiCurrencyEnabled', type: 'boolean', ...readOnly },
      ...systemFields(),
    ],
  },
  {
    // The currencies an admin enabled (Setup -> Manage Currencies); one is the corporate currency.
    name: 'CurrencyType',
    label: 'Currency Type',
    labelPlural: 'Currency Types',
    hasCurrency: false,
    multiCurrencyOnly: true,
    createable: false,
    fields: [
      idField(),
      str('IsoCode', 3, { nillable: false, ...readOnly }),
      { name: 'IsActive', type: 'boolean', ...readOnly },
      { name: 'IsCorporate', type: 'boolean', ...readOnly },
      { name: 'ConversionRate', type: 'double', precision: 18, scale: 6, ...readOnly },
      { name: 'DecimalPlaces', type: 'int', precision: 1, ...readOnly },
      ...systemFields(),
    ],
  },
];

export function currencyField(): FieldDef {
  return fieldDef({
    name: 'CurrencyIsoCode',
    label: 'Currency ISO Code',
    type: 'picklist',
    length: 3,
    restrictedPicklist: true,
    defaultValue: ORG_CURRENCIES[0],
    picklistValues: picklistValues(ORG_CURRENCIES, ORG_CURRENCIES[0]),
  });
}

/** Builds fresh standard object definitions (callers add custom fields to them). */
export function standardObjects(options: { multiCurrency: boolean }): ObjectDef[] {
  return STANDARD_OBJECT_SPECS.filter((spec) => options.multiCurrency || !spec.multiCurrencyOnly).map(
    (spec) => {
      const fields = new Map<string, FieldDef>();
      for (const field of spec.fields) fields.set(field.name, fieldDef(field));
      if (options.multiCurrency && spec.hasCurrency) fields.set('CurrencyIsoCode', currencyField());
      const createable = spec.createable ?? true;
      return {
        name: spec.name,
        label: spec.label,
        labelPlural: spec.labelPlural,
        keyPrefix: STANDARD_KEY_PREFIXES[spec.name as keyof typeof STANDARD_KEY_PREFIXES],
        custom: false,
        createable,
        updateable: createable,
        deletable: createable,
        fields,
        childRelationships: [],
      };
    },
  );
}

/** Custom objects carry the same system fields as standard ones. */
export function customObjectSystemFields(options: { hasOwner: boolean }): FieldDef[] {
  const specs: FieldSpec[] = [idField(), ...(options.hasOwner ? [owner()] : []), ...systemFields()];
  return specs.map(fieldDef);
}

/** Standard child relationships (custom ones come from the package's lookup fields). */
export const STANDARD_CHILD_RELATIONSHIPS: readonly {
  parent: string;
  child: string;
  field: string;
  name: string;
}[] = [
  { parent: 'Account', child: 'Contact', field: 'AccountId', name: 'Contacts' },
  { parent: 'Account', child: 'Opportunity', field: 'AccountId', name: 'Opportunities' },
  {
    parent: 'Opportunity',
    child: 'OpportunityContactRole',
    field: 'OpportunityId',
    name: 'OpportunityContactRoles',
  },
  { parent: 'Contact', child: 'OpportunityContactRole', field: 'ContactId', name: 'OpportunityContactRoles' },
];
