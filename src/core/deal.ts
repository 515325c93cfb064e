// The CRM side of a link, in words every CRM shares: a deal (an opportunity or a lead) with its customer
// account, contacts and solutions. Adapters translate their records into these shapes; the engine and the
// sync rules never see a CRM field name.
import { z } from 'zod';
import type { StatusMark } from './normalize.ts';
import { ASSISTANCE_REQUEST_CODES } from './referral.ts';

export type { StatusMark };

export const DEAL_KINDS = ['opportunity', 'lead'] as const;
export type DealKind = (typeof DEAL_KINDS)[number];

const opt = <T extends z.ZodType>(schema: T) => schema.nullish();

/** Calendar date as the CRMs store close dates: `YYYY-MM-DD`, no time zone. */
export const calendarDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date like 2026-11-20');

export const postalAddressSchema = z.object({
  street: opt(z.string()),
  city: opt(z.string()),
  state: opt(z.string()),
  postalCode: opt(z.string()),
  /** Two-letter ISO 3166-1 code when the CRM value could be translated; otherwise the raw value. */
  country: opt(z.string()),
});
export type PostalAddress = z.infer<typeof postalAddressSchema>;

export const accountSchema = z.object({
  /** CRM id; absent for an account still to be created. */
  id: opt(z.string()),
  name: z.string().min(1),
  duns: opt(z.string()),
  address: postalAddressSchema.default({}),
});
export type Account = z.infer<typeof accountSchema>;
export type AccountInput = z.input<typeof accountSchema>;

export const contactSchema = z.object({
  id: opt(z.string()),
  firstName: opt(z.string()),
  lastName: z.string().min(1),
  email: opt(z.string()),
  phone: opt(z.string()),
  /** The contact's role on the deal (Salesforce contact role), when linked to one. */
  role: opt(z.string()),
  isPrimary: opt(z.boolean()),
});
export type Contact = z.infer<typeof contactSchema>;
export type ContactInput = z.input<typeof contactSchema>;

/** A Partner Center solution attached to a deal; `id` is Partner Center's (e.g. `SOL-34104-EBB`). */
export const solutionRefSchema = z.object({
  id: z.string().min(1),
  name: opt(z.string()),
  /** CRM id of the catalogue row (Salesforce Microsoft Solution Details), when known. */
  crmId: opt(z.string()),
});
export type SolutionRef = z.infer<typeof solutionRefSchema>;

/** The values the sync maps. Field names here are the domain's; adapters map them to CRM fields (R21, R22). */
export const dealFieldsSchema = z.object({
  /** Name without the ✔/✖ mark (marks are stripped before anything compares or sends a name, R20). */
  name: z.string().min(1),
  stage: opt(z.string()),
  closeDate: opt(calendarDate),
  value: opt(z.number().finite()),
  currency: opt(z.string()),
  notes: opt(z.string()),
  syncWithPartnerCenter: opt(z.boolean()),
  /** "How can Microsoft help?" as Partner Center's `assistanceRequestCode`; null = not a co-sell. */
  assistance: opt(z.enum(ASSISTANCE_REQUEST_CODES)),
  visibleToMicrosoft: opt(z.boolean()),
  /** An incoming referral the seller has not answered yet (R8): the on-hold stage (Salesforce) or the On Hold
   *  status (Dataverse). Moving it out accepts the referral; closing it lost declines it. */
  onHold: opt(z.boolean()),
  /** When Partner Center expires an incoming referral nobody answered (R30): ISO date-time, shown on the record
   *  while the referral waits; empty once it is answered. */
  responseDeadline: opt(z.string()),
  /** Services co-sell (R11): partner role, solution area and play as the seller picked them; checked against
   *  Microsoft's lists of the fiscal year (core/services-taxonomy.ts) before the referral is created. */
  partnerRole: opt(z.string()),
  solutionArea: opt(z.string()),
  solutionPlay: opt(z.string()),
});
export type DealFields = z.infer<typeof dealFieldsSchema>;

/** The Services co-sell fields of a deal (R11), in one list for the adapters' reads and writes. */
export const SERVICES_DEAL_FIELDS = ['partnerRole', 'solutionArea', 'solutionPlay'] as const;

/** The fields cosell writes to record the link and its state (R19, R20). */
export const syncFieldsSchema = z.object({
  referralId: opt(z.string()),
  referralLink: opt(z.string()),
  microsoftCrmId: opt(z.string()),
});
export type SyncFields = z.infer<typeof syncFieldsSchema>;

export const dealSchema = dealFieldsSchema.extend({
  kind: z.enum(DEAL_KINDS),
  id: z.string(),
  ...syncFieldsSchema.shape,
  mark: opt(z.enum(['ok', 'error'])),
  audit: opt(z.string()),
  isClosed: z.boolean(),
  isWon: z.boolean(),
  account: opt(accountSchema),
  contacts: z.array(contactSchema),
  solutions: z.array(solutionRefSchema),
  /** R8: the seller's answer through the configured decision field, where the org answers by a field rather
   *  than by leaving the on-hold stage. Read, never written. */
  decision: opt(z.enum(['accept', 'decline'])),
  /** Lead only: set once a seller converted it; the sync relinks to this opportunity (R9). */
  convertedOpportunityId: opt(z.string()),
  /** A seller merged this record into another (R31): the sync relinks to `id`. `recordKept`: this record still
   *  exists and holds the Referral Identifier until the sync clears it (Dataverse deactivates a merged record;
   *  Salesforce deletes it). */
  mergedInto: opt(z.object({ id: z.string(), recordKept: z.boolean() })),
  ownerId: opt(z.string()),
  /** Deal properties this kind of record does not carry in its CRM (a Salesforce lead has no amount, close date
   *  or deal name; its company stands in for the name): the record says nothing about them, so they never sync
   *  from it. Absent: it carries them all. */
  lacks: z.array(dealFieldsSchema.keyof()).optional(),
  /** The CRM's own change stamp, for logs and cursors. */
  modifiedAt: opt(z.string()),
  /** The CRM's row version when it has one finer than `modifiedAt` (Dataverse `versionnumber`, in the row's
   *  ETag): what the change feed lists as `version`. */
  version: opt(z.string()),
});
export type Deal = z.infer<typeof dealSchema>;

// ---- what the engine asks a CRM adapter to write -----------------------------------------------------------

/**
 * The link and status fields written together with the data they describe, in the same update (R19, R20).
 * `auditLine` is appended to the deal's Audit field (oldest lines dropped at the field's size);
 * `mark` replaces any ✔/✖ on the name (`null` removes it; absent leaves the name's mark alone).
 */
export interface SyncWrite extends Partial<SyncFields> {
  auditLine?: string;
  mark?: StatusMark | null;
}

export interface NewDeal {
  kind: DealKind;
  /** Required for creates from Partner Center: the create is idempotent by it. */
  referralId: string;
  fields: DealFields;
  /** An existing account (`id` set) or one to match by DUNS / name + postal code, else create (R5). */
  account?: AccountInput;
  /** Matched by email within the account, else created; linked to the deal (contact roles). */
  contacts?: ContactInput[];
  solutions?: SolutionRef[];
  ownerId?: string;
  /** R22: further CRM fields the deployment requires on new records (CRM field name -> value, as given).
   *  Fields the adapter writes itself keep the adapter's value. */
  extraFields?: Readonly<Record<string, string | number | boolean | null>>;
}

/** What changed on a deal; only present keys are written. */
export interface DealPatch {
  fields?: Partial<DealFields>;
  /** Link these contacts (matched by email within the deal's account, else created). */
  addContacts?: ContactInput[];
  addSolutions?: SolutionRef[];
  /** Partner Center solution ids to detach. */
  removeSolutions?: string[];
  /** E-mail addresses of contacts to unlink from the deal (R5, R15); the contacts themselves stay. */
  removeContacts?: string[];
}

/** The currencies a deal can be stored in (R21: a currency the CRM has not enabled is an error, never a silent
 *  conversion). */
export interface CurrencySupport {
  /** The CRM's own currency: the one amounts are in when a deal carries no currency of its own. */
  corporate: string;
  /** ISO 4217 codes, upper case; includes `corporate`. */
  enabled: readonly string[];
}
