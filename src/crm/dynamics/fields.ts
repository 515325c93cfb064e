// Dataverse facts as data: tables, entity sets, standard columns cosell reads, the shipped solution's column and
// table names (derived from the publisher prefix), the "How can Microsoft help?" and visibility choices, the
// environment variables, state/status codes and limits. Logic reads names from settings (R21), whose
// defaults come from here; nothing else names a column.
import type { AssistanceRequestCode } from '../../core/referral.ts';

export const API_VERSION = '9.2';
export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';
export const DEFAULT_PREFIX = 'cosell';
export const SOLUTION_UNIQUE_NAME = 'CosellPartnerCenterReferrals';
export const SOLUTION_SOURCE_DIR = 'packaging/dynamics/src';

export const ENTITY_SETS = {
  opportunity: 'opportunities',
  lead: 'leads',
  account: 'accounts',
  contact: 'contacts',
  connection: 'connections',
  currency: 'transactioncurrencies',
  organization: 'organizations',
  systemuser: 'systemusers',
  definition: 'environmentvariabledefinitions',
} as const;

/** The shipped solution's names under a publisher prefix (packaging/dynamics; a test cross-checks them). */
export function solutionNames(prefix: string) {
  const p = `${prefix}_`;
  return {
    columns: {
      syncFlag: `${p}syncwithpartnercenter`,
      referralId: `${p}referralidentifier`,
      referralLink: `${p}referrallink`,
      audit: `${p}audit`,
      assistance: `${p}howcanmicrosofthelp`,
      visibility: `${p}referralvisibility`,
      microsoftCrmId: `${p}microsoftcrmidentifier`,
      responseDeadline: `${p}responsedeadline`,
      partnerRole: `${p}partnerrole`,
      solutionArea: `${p}solutionarea`,
      solutionPlay: `${p}solutionplay`,
      products: `${p}products`,
    },
    referralKey: `${p}referralidentifier_key`,
    catalogue: {
      table: `${p}microsoftsolutiondetail`,
      entitySet: `${p}microsoftsolutiondetails`,
      id: `${p}microsoftsolutiondetailid`,
      name: `${p}name`,
      solutionId: `${p}solutionid`,
      type: `${p}solutiontype`,
      active: `${p}active`,
    },
    junction: {
      table: `${p}microsoftpartnercentersolution`,
      entitySet: `${p}microsoftpartnercentersolutions`,
      id: `${p}microsoftpartnercentersolutionid`,
      name: `${p}name`,
      deal: `${p}opportunityid`,
      dealNavigation: `${prefix}_OpportunityId`,
      solution: `${p}solutiondetailid`,
      solutionNavigation: `${prefix}_SolutionDetailId`,
      /** One-to-many from opportunity (Relationships.xml). */
      relationship: `${p}opportunity_${p}microsoftpartnercentersolution`,
    },
    variables: {
      displayCheckMark: `${prefix}_DisplayCheckMarkInOpportunityName`,
      dealValueField: `${prefix}_DealValueFieldName`,
      accountCountryField: `${prefix}_CustomerAccountCountryCodeFieldName`,
      syncCoSellOpportunitiesOnly: `${prefix}_SyncCoSellOpportunitiesOnly`,
    },
  };
}
export type SolutionNames = ReturnType<typeof solutionNames>;

/** Choice values of "How can Microsoft help?" (option-value prefix 10000) for Partner Center's codes: the
 *  shipped solution's; `settings.values.assistance` overrides entries (R22). */
export const ASSISTANCE_CHOICES: Readonly<Record<Exclude<AssistanceRequestCode, 'Unknown'>, number>> = {
  WorkloadSpecificValueProposition: 100000000,
  CustomerTechnicalArchitecture: 100000001,
  ProofOfConceptOrDemo: 100000002,
  QuotesOrLicensing: 100000003,
  PostSalesCustomerSuccess: 100000004,
  GeneralOrOther: 100000005,
};

export const VISIBILITY_CHOICES = { hidden: 100000000, visible: 100000001 } as const;

/** statecode / statuscode of opportunities and leads (reference/crm.md §A.11). */
export const OPPORTUNITY_STATE = { open: 0, won: 1, lost: 2 } as const;
export const OPPORTUNITY_STATUS = { inProgress: 1, onHold: 2, won: 3, canceled: 4, outSold: 5 } as const;
export const LEAD_STATE = { open: 0, qualified: 1, disqualified: 2 } as const;

/** Standard columns cosell reads and writes beyond the configurable ones. */
export const OPPORTUNITY_COLUMNS = {
  id: 'opportunityid',
  name: 'name',
  closeDate: 'estimatedclosedate',
  notes: 'description',
  state: 'statecode',
  status: 'statuscode',
  step: 'stepname',
  modified: 'modifiedon',
  account: 'parentaccountid',
  contact: 'parentcontactid',
  currency: 'transactioncurrencyid',
  owner: 'ownerid',
} as const;

export const ACCOUNT_COLUMNS = {
  id: 'accountid',
  name: 'name',
  street: 'address1_line1',
  city: 'address1_city',
  state: 'address1_stateorprovince',
  postalCode: 'address1_postalcode',
} as const;

export const CONTACT_COLUMNS = {
  id: 'contactid',
  firstName: 'firstname',
  lastName: 'lastname',
  email: 'emailaddress1',
  phone: 'telephone1',
} as const;

/** Lengths of standard columns (a default environment), used until metadata has been read. */
export const DEFAULT_LENGTHS = {
  opportunityName: 300,
  leadSubject: 300,
  accountName: 160,
  description: 2000,
  audit: 100_000,
} as const;

/** Security roles that can run the integration (R28; the seed asks for System Administrator or Customizer). */
export const REQUIRED_ROLES = ['System Administrator', 'System Customizer'] as const;

/** Dataverse answers 429 above 52 concurrent requests per user; stay well under it. */
export const DEFAULT_MAX_CONCURRENCY = 8;
/** `$batch` takes at most 1000 requests. */
export const BATCH_MAX_REQUESTS = 1000;
/** Keep `or` lists in `$filter` short enough for a URL. */
export const FILTER_CHUNK = 50;
/** Error code of an expired change-tracking token (ExpiredVersionStamp): the feed restarts with a full read. */
export const EXPIRED_VERSION_STAMP = '0x80044352';
