// The Dynamics 365 section of the configuration (R21): the connection (environment URL, tenant, app
// registration with a secret or a certificate) and the settings the seed keeps in environment variables.
// A setting left null here is read from the environment variable (current value over default value); a value
// here overrides it. `cosell doctor` prints each effective value and where it came from.
import { z } from 'zod';
import { decisionFieldSchema } from '../../core/decision.ts';
import { valueOverridesSchema } from '../../core/value-map.ts';
import {
  ASSISTANCE_CHOICES,
  DEFAULT_AUTHORITY_HOST,
  DEFAULT_MAX_CONCURRENCY,
  DEFAULT_PREFIX,
} from './fields.ts';

const logicalName = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, 'must be a column logical name (lower case), such as estimatedvalue');

const secretAuth = z.object({
  grant: z.literal('client-secret'),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
});

const certificateAuth = z.object({
  grant: z.literal('certificate'),
  clientId: z.string().min(1),
  /** PEM of the private key, or a file path to it. */
  privateKey: z.string().min(1).optional(),
  privateKeyPath: z.string().min(1).optional(),
  /** PEM of the certificate uploaded to the app registration, or a file path to it. */
  certificate: z.string().min(1).optional(),
  certificatePath: z.string().min(1).optional(),
});

export const dynamicsConnectionSchema = z
  .object({
    /** Environment URL, e.g. https://contoso.crm.dynamics.com (the Web API is {url}/api/data/v9.2/). */
    url: z.url().transform((u) => u.replace(/\/+$/, '')),
    /** Entra tenant (directory) id or domain. */
    tenantId: z.string().min(1),
    /** Entra sign-in host. Pointing it elsewhere (the emulator) rewrites msal's requests to that host. */
    authorityHost: z.url().default(DEFAULT_AUTHORITY_HOST),
    auth: z.discriminatedUnion('grant', [secretAuth, certificateAuth]),
    /** Concurrent requests; Dataverse throttles above 52 per user. */
    maxConcurrency: z.number().int().min(1).max(50).default(DEFAULT_MAX_CONCURRENCY),
  })
  .refine((c) => c.auth.grant !== 'certificate' || Boolean(c.auth.privateKey || c.auth.privateKeyPath), {
    message: 'certificate auth needs privateKey or privateKeyPath',
    path: ['auth', 'privateKeyPath'],
  })
  .refine((c) => c.auth.grant !== 'certificate' || Boolean(c.auth.certificate || c.auth.certificatePath), {
    message: 'certificate auth needs certificate or certificatePath',
    path: ['auth', 'certificatePath'],
  });
export type DynamicsConnection = z.infer<typeof dynamicsConnectionSchema>;
export type DynamicsConnectionInput = z.input<typeof dynamicsConnectionSchema>;

export const dynamicsSettingsSchema = z.object({
  /** Publisher prefix of the imported solution (`cosell_referralidentifier`). */
  prefix: z
    .string()
    .regex(/^[a-z][a-z0-9]{1,7}$/, 'must be the publisher prefix: 2-8 lower-case letters or digits')
    .default(DEFAULT_PREFIX),
  /** Seed: "deal value field name"; null reads the environment variable (default estimatedvalue). */
  dealValueField: logicalName.nullable().default(null),
  /** Seed: "customer account country code field name"; null reads the environment variable
   *  (default address1_country). Two-letter codes and English names are both read; see countryFormat. */
  accountCountryField: logicalName.nullable().default(null),
  /** What cosell writes into a text country column: the two-letter code (the seed's rule) or the name. */
  countryFormat: z.enum(['code', 'name']).default('code'),
  /** A lookup-based country column on account (R21): the lookup's navigation property, the country table's
   *  entity set and the column holding the two-letter code. Translated both ways. */
  accountCountryLookup: z
    .object({
      navigation: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/),
      entitySet: z.string().regex(/^[a-z][a-z0-9_]*$/),
      codeColumn: logicalName,
    })
    .nullable()
    .default(null),
  /** Optional account column holding the D-U-N-S number; null matches accounts by name + postal code (R5). */
  accountDunsField: logicalName.nullable().default(null),
  /** Seed: "display check mark in opportunity name"; null reads the environment variable. */
  displayCheckMark: z.boolean().nullable().default(null),
  /** Seed: "sync co-sell opportunities only"; null reads the environment variable. */
  syncCoSellOpportunitiesOnly: z.boolean().nullable().default(null),
  /** R22: choice values where the environment's differ from the solution's, by Partner Center code:
   *  `assistance: {ProofOfConceptOrDemo: 100000010}` ("How can Microsoft help?"). */
  values: z
    .object({ assistance: valueOverridesSchema(ASSISTANCE_CHOICES, z.number().int()) })
    .default({ assistance: {} }),
  /** R8: answer incoming referrals by this opportunity column (e.g. a choice: accept 100000000, decline
   *  100000001) instead of (as well as) leaving the On Hold status; null: by status only. */
  decision: decisionFieldSchema.nullable().default(null),
  /** statuscode written by WinOpportunity / LoseOpportunity. */
  wonStatus: z.number().int().default(3),
  lostStatus: z.number().int().default(4),
  changeFeed: z
    .object({
      /** First poll without a cursor lists deals modified this far back (R34). */
      initialLookbackMs: z
        .number()
        .int()
        .nonnegative()
        .default(24 * 60 * 60 * 1000),
    })
    .default({ initialLookbackMs: 24 * 60 * 60 * 1000 }),
});
export type DynamicsSettings = z.infer<typeof dynamicsSettingsSchema>;
export type DynamicsSettingsInput = z.input<typeof dynamicsSettingsSchema>;

export function parseDynamicsSettings(input: DynamicsSettingsInput = {}): DynamicsSettings {
  return dynamicsSettingsSchema.parse(input);
}
