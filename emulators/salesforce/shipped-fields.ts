/**
 * What `packaging/salesforce/` ships, as data: the emulator tests cross-check it against the XML files, and the
 * Salesforce adapter's field list is cross-checked against it, so a field renamed in one place fails a test.
 */
export interface ShippedField {
  object: string;
  field: string;
  /** Metadata API type (`<type>` of the CustomField). */
  type: 'Checkbox' | 'Text' | 'Url' | 'LongTextArea' | 'Picklist' | 'Lookup' | 'MasterDetail' | 'DateTime';
  length?: number;
  externalId?: boolean;
  unique?: boolean;
  referenceTo?: string;
}

export const HOW_CAN_MICROSOFT_HELP_VALUES = [
  'Workload specific value proposition',
  'Customer technical architecture',
  'Proof of concept or demo',
  'Quotes or licensing',
  'Post sales customer success',
  'General or other',
] as const;

export const SOLUTION_CATALOGUE_OBJECT = 'Microsoft_Solution_Detail__c';
export const SOLUTION_JUNCTION_OBJECT = 'Microsoft_Partner_Center_Solution__c';
/** Child relationship from Opportunity to the junction, for SOQL subqueries. */
export const SOLUTION_JUNCTION_RELATIONSHIP = 'Microsoft_Partner_Center_Solutions__r';

/** Sync fields shared by Opportunity and Lead (leads arrive from Partner Center and must link and audit too). */
const SYNC_FIELDS = (object: 'Opportunity' | 'Lead'): ShippedField[] => [
  { object, field: 'Sync_with_Partner_Center__c', type: 'Checkbox' },
  { object, field: 'Referral_Identifier__c', type: 'Text', length: 100, externalId: true, unique: true },
  { object, field: 'Referral_Link__c', type: 'Url' },
  { object, field: 'Audit__c', type: 'LongTextArea', length: 100000 },
  { object, field: 'Microsoft_CRM_Identifier__c', type: 'Text', length: 100 },
];

export const SHIPPED_CUSTOM_FIELDS: readonly ShippedField[] = [
  ...SYNC_FIELDS('Opportunity'),
  { object: 'Opportunity', field: 'How_can_Microsoft_help__c', type: 'Picklist' },
  { object: 'Opportunity', field: 'Products__c', type: 'Text', length: 255 },
  { object: 'Opportunity', field: 'Referral_Visibility__c', type: 'Checkbox' },
  { object: 'Opportunity', field: 'Response_Deadline__c', type: 'DateTime' },
  { object: 'Opportunity', field: 'Partner_Role__c', type: 'Text', length: 255 },
  { object: 'Opportunity', field: 'Solution_Area__c', type: 'Text', length: 255 },
  { object: 'Opportunity', field: 'Solution_Play__c', type: 'Text', length: 255 },
  ...SYNC_FIELDS('Lead'),
  {
    object: SOLUTION_CATALOGUE_OBJECT,
    field: 'Solution_Id__c',
    type: 'Text',
    length: 50,
    externalId: true,
    unique: true,
  },
  { object: SOLUTION_CATALOGUE_OBJECT, field: 'Solution_Name__c', type: 'Text', length: 255 },
  { object: SOLUTION_CATALOGUE_OBJECT, field: 'Solution_Type__c', type: 'Text', length: 100 },
  { object: SOLUTION_CATALOGUE_OBJECT, field: 'Publisher_Name__c', type: 'Text', length: 255 },
  { object: SOLUTION_CATALOGUE_OBJECT, field: 'Active__c', type: 'Checkbox' },
  {
    object: SOLUTION_JUNCTION_OBJECT,
    field: 'Opportunity__c',
    type: 'MasterDetail',
    referenceTo: 'Opportunity',
  },
  {
    object: SOLUTION_JUNCTION_OBJECT,
    field: 'Solution__c',
    type: 'Lookup',
    referenceTo: SOLUTION_CATALOGUE_OBJECT,
  },
];

export const SHIPPED_CUSTOM_OBJECTS: readonly string[] = [
  SOLUTION_JUNCTION_OBJECT,
  SOLUTION_CATALOGUE_OBJECT,
];
