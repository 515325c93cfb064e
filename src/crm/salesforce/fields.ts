// Salesforce facts as data: object and field API names of the shipped package (packaging/salesforce/),
// standard objects cosell reads, stage names, the "How can Microsoft help?" picklist, key prefixes.
// Logic reads field names from settings (R21) whose defaults come from here; nothing else names a field.
import type { AssistanceRequestCode } from '../../core/referral.ts';

export const DEFAULT_API_VERSION = '66.0';
export const DEFAULT_LOGIN_URL = 'https://login.salesforce.com';

/** Standard objects (names fixed by Salesforce). */
export const STANDARD_OBJECTS = {
  opportunity: 'Opportunity',
  lead: 'Lead',
  account: 'Account',
  contact: 'Contact',
  contactRole: 'OpportunityContactRole',
} as const;

/** The custom objects and fields the package ships (R18); the package XML is the source of truth and a test
 *  cross-checks this list against it. */
export const PACKAGE_OBJECTS = {
  solutionCatalogue: 'Microsoft_Solution_Detail__c',
  solutionJunction: 'Microsoft_Partner_Center_Solution__c',
} as const;

export const PACKAGE_FIELDS = {
  syncFlag: 'Sync_with_Partner_Center__c',
  referralId: 'Referral_Identifier__c',
  referralLink: 'Referral_Link__c',
  audit: 'Audit__c',
  assistance: 'How_can_Microsoft_help__c',
  visibility: 'Referral_Visibility__c',
  microsoftCrmId: 'Microsoft_CRM_Identifier__c',
  responseDeadline: 'Response_Deadline__c',
  partnerRole: 'Partner_Role__c',
  solutionArea: 'Solution_Area__c',
  solutionPlay: 'Solution_Play__c',
  products: 'Products__c',
  catalogueSolutionId: 'Solution_Id__c',
  catalogueSolutionName: 'Solution_Name__c',
  catalogueSolutionType: 'Solution_Type__c',
  cataloguePublisherName: 'Publisher_Name__c',
  catalogueActive: 'Active__c',
  junctionDeal: 'Opportunity__c',
  junctionSolution: 'Solution__c',
} as const;

/** The permission set of the package that grants field-level security on every custom field. */
export const PERMISSION_SET = 'Cosell_Integration';
export const PACKAGE_SOURCE_DIR = 'packaging/salesforce/force-app';

/** `sf` CLI commands an admin runs to install the package (R18, R23). */
export function deployCommand(sourceDir: string = PACKAGE_SOURCE_DIR, alias = '<alias>'): string {
  return `sf project deploy start --source-dir ${sourceDir} --target-org ${alias}`;
}
/** Without `--on-behalf-of` the CLI assigns the set to the admin running it, not to cosell's integration user. */
export function assignPermissionSetCommand(alias = '<alias>', user = '<integration user>'): string {
  return `sf org assign permset --name ${PERMISSION_SET} --target-org ${alias} --on-behalf-of ${user}`;
}

/** Picklist values of "How can Microsoft help?" (seed 001) for Partner Center's `assistanceRequestCode`: the
 *  shipped package's; `settings.values.assistance` overrides entries (R22). */
export const ASSISTANCE_PICKLIST: Readonly<Record<Exclude<AssistanceRequestCode, 'Unknown'>, string>> = {
  WorkloadSpecificValueProposition: 'Workload specific value proposition',
  CustomerTechnicalArchitecture: 'Customer technical architecture',
  ProofOfConceptOrDemo: 'Proof of concept or demo',
  QuotesOrLicensing: 'Quotes or licensing',
  PostSalesCustomerSuccess: 'Post sales customer success',
  GeneralOrOther: 'General or other',
};

/** Default stages of a new org (reference/crm.md §B.11). */
export const DEFAULT_STAGES = {
  /** Stage of a new opportunity created from an accepted / own referral. */
  active: 'Qualification',
  /** Stage of an incoming referral not yet accepted: edits there do not sync (R8). */
  onHold: 'Prospecting',
  won: 'Closed Won',
  lost: 'Closed Lost',
} as const;

export const DEFAULT_LEAD_STATUS = 'Open - Not Contacted';
export const DEFAULT_CONTACT_ROLE = 'Business User';

/** Length limits of standard fields cosell writes (describe of a default org). */
export const FIELD_LIMITS = {
  opportunityName: 120,
  accountName: 255,
  auditDefault: 100_000,
} as const;

/** Key prefixes tell which object an id belongs to. */
export const KEY_PREFIXES = {
  '001': 'Account',
  '003': 'Contact',
  '006': 'Opportunity',
  '00Q': 'Lead',
  '00K': 'OpportunityContactRole',
  '005': 'User',
} as const;

/** Standard field names the adapter reads on each object, beyond the configurable ones. */
export const OPPORTUNITY_STANDARD_FIELDS = {
  name: 'Name',
  stage: 'StageName',
  closeDate: 'CloseDate',
  accountId: 'AccountId',
  ownerId: 'OwnerId',
  isClosed: 'IsClosed',
  isWon: 'IsWon',
  modstamp: 'SystemModstamp',
  isDeleted: 'IsDeleted',
} as const;

/** Salesforce's composite request accepts at most 25 subrequests (reference/crm.md §B.6). */
export const COMPOSITE_MAX_SUBREQUESTS = 25;
/** …of which at most 5 may be queries or collections. */
export const COMPOSITE_MAX_QUERIES = 5;
/** sObject Collections take at most 200 records. */
export const COLLECTION_MAX_RECORDS = 200;
/** `/composite/graph`: graphs per request, and nodes in all of them. */
export const GRAPH_MAX_GRAPHS = 75;
export const GRAPH_MAX_NODES = 500;
/** Keep IN lists short enough for a GET URL. */
export const SOQL_IN_CHUNK = 200;
