// The Salesforce section of the configuration (R21): connection, field names (API names, not labels) and
// flags from the connector seed's environment variables. The config file (next issue) embeds these schemas;
// `cosell doctor` builds the connection from flags and env with the same schema.
import { z } from 'zod';
import { decisionFieldSchema } from '../../core/decision.ts';
import { valueOverridesSchema } from '../../core/value-map.ts';
import {
  ASSISTANCE_PICKLIST,
  DEFAULT_API_VERSION,
  DEFAULT_CONTACT_ROLE,
  DEFAULT_LEAD_STATUS,
  DEFAULT_LOGIN_URL,
  DEFAULT_STAGES,
  PACKAGE_FIELDS,
  PACKAGE_OBJECTS,
} from './fields.ts';

const apiName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'must be a field API name such as Amount or Referral_Identifier__c');

const jwtBearerAuth = z.object({
  grant: z.literal('jwt-bearer'),
  clientId: z.string().min(1),
  /** The integration user (`sub` of the assertion); must be pre-authorised on the External Client App. */
  username: z.string().min(1),
  /** PEM of the RSA key whose certificate is on the app: either the key itself or a file path. */
  privateKey: z.string().min(1).optional(),
  privateKeyPath: z.string().min(1).optional(),
});

const clientCredentialsAuth = z.object({
  grant: z.literal('client-credentials'),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
});

export const salesforceConnectionSchema = z
  .object({
    /** Base of `/services/oauth2/token`: login.salesforce.com, test.salesforce.com or the My Domain URL
     *  (client credentials needs My Domain). */
    loginUrl: z.url().default(DEFAULT_LOGIN_URL),
    apiVersion: z
      .string()
      .regex(/^\d{2,3}\.0$/, 'must look like 66.0')
      .default(DEFAULT_API_VERSION),
    auth: z.discriminatedUnion('grant', [jwtBearerAuth, clientCredentialsAuth]),
  })
  .refine((c) => c.auth.grant !== 'jwt-bearer' || Boolean(c.auth.privateKey || c.auth.privateKeyPath), {
    message: 'jwt-bearer needs privateKey or privateKeyPath',
    path: ['auth', 'privateKeyPath'],
  });
export type SalesforceConnection = z.infer<typeof salesforceConnectionSchema>;
export type SalesforceConnectionInput = z.input<typeof salesforceConnectionSchema>;

export const salesforceFieldsSchema = z.object({
  /** Deal value (seed: "deal value field name"). */
  dealValue: apiName.default('Amount'),
  /** Two-letter country of the customer account. `BillingCountryCode` needs State and Country Picklists; without
   *  them the adapter falls back to `accountCountryName` and translates names <-> codes. */
  accountCountry: apiName.default('BillingCountryCode'),
  accountCountryName: apiName.default('BillingCountry'),
  /** Exists only in multi-currency orgs; the adapter checks describe and treats its absence as "org currency". */
  currency: apiName.default('CurrencyIsoCode'),
  notes: apiName.default('Description'),
  /** Optional: an Account field holding the D-U-N-S number (e.g. `DunsNumber` with Data.com); null skips DUNS
   *  matching and accounts match by name + postal code (R5). */
  accountDuns: apiName.nullable().default(null),
  syncFlag: apiName.default(PACKAGE_FIELDS.syncFlag),
  referralId: apiName.default(PACKAGE_FIELDS.referralId),
  referralLink: apiName.default(PACKAGE_FIELDS.referralLink),
  audit: apiName.default(PACKAGE_FIELDS.audit),
  assistance: apiName.default(PACKAGE_FIELDS.assistance),
  visibility: apiName.default(PACKAGE_FIELDS.visibility),
  microsoftCrmId: apiName.default(PACKAGE_FIELDS.microsoftCrmId),
  responseDeadline: apiName.default(PACKAGE_FIELDS.responseDeadline),
  partnerRole: apiName.default(PACKAGE_FIELDS.partnerRole),
  solutionArea: apiName.default(PACKAGE_FIELDS.solutionArea),
  solutionPlay: apiName.default(PACKAGE_FIELDS.solutionPlay),
});
export type SalesforceFields = z.infer<typeof salesforceFieldsSchema>;

export const salesforceSolutionsSchema = z.object({
  catalogueObject: apiName.default(PACKAGE_OBJECTS.solutionCatalogue),
  catalogueSolutionId: apiName.default(PACKAGE_FIELDS.catalogueSolutionId),
  catalogueSolutionName: apiName.default(PACKAGE_FIELDS.catalogueSolutionName),
  junctionObject: apiName.default(PACKAGE_OBJECTS.solutionJunction),
  junctionDeal: apiName.default(PACKAGE_FIELDS.junctionDeal),
  junctionSolution: apiName.default(PACKAGE_FIELDS.junctionSolution),
});
export type SalesforceSolutions = z.infer<typeof salesforceSolutionsSchema>;

export const salesforceSettingsSchema = z.object({
  fields: salesforceFieldsSchema.default(salesforceFieldsSchema.parse({})),
  solutions: salesforceSolutionsSchema.default(salesforceSolutionsSchema.parse({})),
  stages: z
    .object({
      active: z.string().default(DEFAULT_STAGES.active),
      onHold: z.string().default(DEFAULT_STAGES.onHold),
      won: z.string().default(DEFAULT_STAGES.won),
      lost: z.string().default(DEFAULT_STAGES.lost),
    })
    .default({ ...DEFAULT_STAGES }),
  /** R22: picklist values where the org's differ from the package's, by Partner Center code:
   *  `assistance: {ProofOfConceptOrDemo: "PoC / demo"}` ("How can Microsoft help?"). */
  values: z
    .object({ assistance: valueOverridesSchema(ASSISTANCE_PICKLIST, z.string().min(1)) })
    .default({ assistance: {} }),
  /** R8: answer incoming referrals by this opportunity field instead of (as well as) leaving the on-hold
   *  stage; null: by stage only. */
  decision: decisionFieldSchema.nullable().default(null),
  leadStatus: z.string().default(DEFAULT_LEAD_STATUS),
  contactRole: z.string().default(DEFAULT_CONTACT_ROLE),
  /** Seed: "display check mark in opportunity name" (R20). */
  displayCheckMark: z.boolean().default(true),
  /** Seed: "sync co-sell opportunities only" (R9): leads are not created in Salesforce. */
  syncCoSellOpportunitiesOnly: z.boolean().default(false),
  changeFeed: z
    .object({
      /** Look this far before the cursor again: SystemModstamp is set at commit start, so a long transaction
       *  can commit a stamp older than one already seen. */
      overlapMs: z.number().int().nonnegative().default(120_000),
      /** First poll without a cursor looks back this far (R34). */
      initialLookbackMs: z
        .number()
        .int()
        .nonnegative()
        .default(24 * 60 * 60 * 1000),
    })
    .default({ overlapMs: 120_000, initialLookbackMs: 24 * 60 * 60 * 1000 }),
});
export type SalesforceSettings = z.infer<typeof salesforceSettingsSchema>;
export type SalesforceSettingsInput = z.input<typeof salesforceSettingsSchema>;

export function parseSalesforceSettings(input: SalesforceSettingsInput = {}): SalesforceSettings {
  return salesforceSettingsSchema.parse(input);
}
