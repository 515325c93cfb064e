// The Partner Center Referral resource (reference/partner-center.md §3), as zod schemas.
//
// Parsing is tolerant where the real API is: unknown fields are kept (the connector Swagger is older than
// the service), PascalCase keys are accepted on input (doc samples send "ConsentToContact"), and
// `customerProfile.ids` may arrive as [] or {}. It is strict where a wrong value would corrupt a sync:
// status, substatus, type, direction and every timestamp.
import { z } from 'zod';
import { normalizeDate } from './normalize.ts';
import { REFERRAL_STATUSES, REFERRAL_SUBSTATUSES } from './transitions.ts';

export const REFERRAL_TYPES = ['Independent', 'Shared'] as const;
export const REFERRAL_DIRECTIONS = ['Incoming', 'Outgoing'] as const;
export const QUALIFICATIONS = ['None', 'Direct', 'MarketingQualified', 'SalesQualified'] as const;
export const SALES_STAGES = ['Qualify', 'Develop', 'Propose', 'Close'] as const;
export const TARGET_TYPES = ['None', 'BusinessProfileLocation', 'SolutionProfile'] as const;
export const CUSTOMER_ID_PROFILE_TYPES = ['Duns', 'External'] as const;
/** "How can Microsoft help?" on the wire (`inviteContext.assistanceRequestCode`), connector Swagger enum. */
export const ASSISTANCE_REQUEST_CODES = [
  'Unknown',
  'GeneralOrOther',
  'CustomerTechnicalArchitecture',
  'ProofOfConceptOrDemo',
  'QuotesOrLicensing',
  'PostSalesCustomerSuccess',
  'WorkloadSpecificValueProposition',
] as const;
export type AssistanceRequestCode = (typeof ASSISTANCE_REQUEST_CODES)[number];
/** A code that asks for help (every one but `Unknown`): what a CRM's picklist / choice values stand for. */
export type AssistanceCode = Exclude<AssistanceRequestCode, 'Unknown'>;

/** ISO-8601 with a zone: Partner Center writes 7 fractional digits and `Z`; webhooks use `+00:00`. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
// One check, so a bad value yields one problem; Date.parse is not used because V8 rolls 2026-02-30 over
// to March instead of refusing it.
export const isoDateTime = z
  .string()
  .refine(
    (s) => ISO_DATE_TIME.test(s) && normalizeDate(s, { precision: 'second' }) !== null,
    'must be a real ISO-8601 date-time with a time zone, e.g. 2026-11-20T10:00:00Z',
  );

/** Partner Center fields are often present with null; treat null and absent alike. */
const opt = <T extends z.ZodType>(schema: T) => schema.nullish();

/** Money arrives as a JSON number, but Partner Center also accepts numeric strings ("10000"). */
export const money = z.union([
  z.number().finite(),
  z
    .string()
    .trim()
    .regex(/^-?\d+(\.\d+)?$/, 'must be a number')
    .transform(Number),
]);

export const contactPreferenceSchema = z.looseObject({
  locale: opt(z.string()),
  disableNotifications: opt(z.boolean()),
});

export const memberSchema = z.looseObject({
  firstName: opt(z.string()),
  lastName: opt(z.string()),
  email: opt(z.string()),
  phoneNumber: opt(z.string()),
  contactPreference: opt(contactPreferenceSchema),
});
export type Member = z.infer<typeof memberSchema>;

export const addressSchema = z.looseObject({
  addressLine1: opt(z.string()),
  addressLine2: opt(z.string()),
  city: opt(z.string()),
  state: opt(z.string()),
  postalCode: opt(z.string()),
  country: opt(z.string()),
  region: opt(z.string()),
});
export type Address = z.infer<typeof addressSchema>;

export const customerIdSchema = z.looseObject({
  profileType: z.string(),
  id: z.string(),
});

/** Doc samples show `"ids": []` and sometimes `"ids": {}`; both mean "no ids". */
const customerIds = z.preprocess(
  (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.values(v) : v),
  z.array(customerIdSchema),
);

export const customerProfileSchema = z.looseObject({
  name: opt(z.string()),
  size: opt(z.string()),
  address: opt(addressSchema),
  team: opt(z.array(memberSchema)),
  ids: opt(customerIds),
});
export type CustomerProfile = z.infer<typeof customerProfileSchema>;

export const consentSchema = z.looseObject({
  consentToContact: opt(z.boolean()),
  // Sic: the wire key has a double "To" (connector Swagger).
  consentToToShareInfoWithOthers: opt(z.boolean()),
  consentToShareReferralWithMicrosoftSellers: opt(z.boolean()),
  consentToMicrosoftToContactSpecificPartners: opt(z.boolean()),
});
export type Consent = z.infer<typeof consentSchema>;

export const solutionTagSchema = z.looseObject({
  id: z.string(),
  name: opt(z.string()),
  type: opt(z.string()),
  publisherName: opt(z.string()),
  solutionType: opt(z.string()),
});
export type SolutionTag = z.infer<typeof solutionTagSchema>;

const idTag = z.looseObject({ id: z.string() });

/** `additionalRequirements.attributes`: e.g. CustomerMarketplaceIntent, and the Services co-sell
 *  attributes PartnerRole / SolutionArea / SolutionPlay (keys unconfirmed: reference §3 open question 1). */
export const requirementAttributeSchema = z.looseObject({ id: z.string(), type: z.string() });
export type RequirementAttribute = z.infer<typeof requirementAttributeSchema>;

export const requirementsSchema = z.looseObject({
  industries: opt(z.array(idTag)),
  products: opt(z.array(idTag)),
  services: opt(z.array(idTag)),
  solutions: opt(z.array(solutionTagSchema)),
  offers: opt(z.array(z.unknown())),
  additionalRequirements: opt(
    z.looseObject({
      iot: opt(z.unknown()),
      attributes: opt(z.array(requirementAttributeSchema)),
    }),
  ),
});

export const referralDetailsSchema = z.looseObject({
  notes: opt(z.string()),
  dealValue: opt(money),
  currency: opt(z.string()),
  closingDateTime: opt(isoDateTime),
  customerAction: opt(z.string()),
  customerRequestedContact: opt(z.boolean()),
  requirements: opt(requirementsSchema),
});
export type ReferralDetails = z.infer<typeof referralDetailsSchema>;

export const inviteContextSchema = z.looseObject({
  notes: opt(z.string()),
  // Kept as a string on input so a value Microsoft adds later does not stop a sync;
  // ASSISTANCE_REQUEST_CODES is what we send and validate against.
  assistanceRequestCode: opt(z.string()),
  invitedBy: opt(z.looseObject({ organizationId: opt(z.string()), organizationName: opt(z.string()) })),
});

export const targetSchema = z.looseObject({ type: z.string(), id: opt(z.string()) });

const linkSchema = z.looseObject({ uri: z.string(), method: opt(z.string()) });

export const registrationSchema = z.looseObject({
  id: opt(z.string()),
  type: opt(z.string()),
  registrationDateTime: opt(isoDateTime),
  status: opt(z.string()),
  statusReason: opt(z.string()),
  contract: opt(z.looseObject({})),
  solutionDetails: opt(z.array(z.looseObject({}))),
});

const referralShape = {
  id: opt(z.string()),
  engagementId: opt(z.string()),
  organizationId: opt(z.string()),
  organizationName: opt(z.string()),
  mpnId: opt(z.string()),
  name: opt(z.string()),
  externalReferenceId: opt(z.string()),
  createdDateTime: opt(isoDateTime),
  updatedDateTime: opt(isoDateTime),
  expirationDateTime: opt(isoDateTime),
  acceptedDateTime: opt(isoDateTime),
  closedDateTime: opt(isoDateTime),
  status: opt(z.enum(REFERRAL_STATUSES)),
  substatus: opt(z.enum(REFERRAL_SUBSTATUSES)),
  statusReason: opt(z.string()),
  type: opt(z.enum(REFERRAL_TYPES)),
  qualification: opt(z.string()),
  direction: opt(z.enum(REFERRAL_DIRECTIONS)),
  salesStage: opt(z.string()),
  customerProfile: opt(customerProfileSchema),
  consent: opt(consentSchema),
  details: opt(referralDetailsSchema),
  team: opt(z.array(memberSchema)),
  inviteContext: opt(inviteContextSchema),
  target: opt(z.array(targetSchema)),
  links: opt(
    z.looseObject({
      self: opt(linkSchema),
      relatedReferrals: opt(linkSchema),
    }),
  ),
  trackingInfo: opt(z.looseObject({ microsoftMsxId: opt(z.string()) })),
  eTag: opt(z.string()),
  campaignId: opt(z.string()),
  referralProgram: opt(z.string()),
  lastModifiedVia: opt(z.string()),
  lastRunId: opt(z.string()),
  favorite: opt(z.boolean()),
  callToAction: opt(z.string()),
  referralSource: opt(z.string()),
  quality: opt(z.string()),
  isSpam: opt(z.boolean()),
  tags: opt(z.array(z.looseObject({ tag: opt(z.string()) }))),
  registrations: opt(z.array(registrationSchema)),
  registrationStatus: opt(z.string()),
};

/** Lower-cases the first letter of every PascalCase key, recursively ("CustomerProfile" -> "customerProfile").
 *  Keys starting with "@" (OData annotations) and already-camelCase keys are left alone. */
export function camelCaseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelCaseKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const camel = /^[A-Z]/.test(key) ? key[0]!.toLowerCase() + key.slice(1) : key;
    // When both spellings are present the camelCase one (the documented wire form) wins.
    if (camel !== key && camel in (value as Record<string, unknown>)) continue;
    out[camel] = camelCaseKeys(v);
  }
  return out;
}

const referralObject = z.looseObject(referralShape);
export const referralSchema = z.preprocess(camelCaseKeys, referralObject);
export type Referral = z.infer<typeof referralObject>;

/** A page of `GET /referrals`. */
export const referralPageSchema = z.preprocess(
  camelCaseKeys,
  z.looseObject({
    '@odata.context': opt(z.string()),
    '@odata.count': opt(z.number()),
    '@odata.nextLink': opt(z.string()),
    value: z.array(referralObject),
  }),
);
export type ReferralPage = z.infer<typeof referralPageSchema>;

/** Parses a referral, returning every problem with its JSON path instead of throwing. */
export function parseReferral(
  input: unknown,
): { ok: true; referral: Referral } | { ok: false; problems: string[] } {
  const result = referralSchema.safeParse(input);
  if (result.success) return { ok: true, referral: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
  };
}
