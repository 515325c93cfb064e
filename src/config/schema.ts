// The configuration file (DESIGN.md §4, R21, R23): one zod schema for `cosell.config.yaml` / `.json`.
// Sections embed the schemas their owners define (Salesforce connection and settings, engine settings), so a
// setting is described and defaulted in one place. Secrets are never part of the file: SECRETS names the
// environment variable each one comes from, and the loader refuses a secret written in the file.
import { z } from 'zod';
import { dynamicsConnectionSchema, dynamicsSettingsSchema } from '../crm/dynamics/settings.ts';
import { salesforceConnectionSchema, salesforceSettingsSchema } from '../crm/salesforce/settings.ts';
import { engineSettingsSchema } from '../engine/settings.ts';
import { REFERRALS_BASE_URL, WEBHOOKS_BASE_URL } from '../partner-center/constants.ts';

/** Where Partner Center serves its webhook signing certificate (reference/partner-center.md §4). */
export const MICROSOFT_CERTIFICATE_HOST = '3psostorageacct.blob.core.windows.net';
export const DEFAULT_STORE_URL = '.cosell/cosell.db';
export const DEFAULT_WEBHOOK_PATH = '/webhooks/partner-center';
/** Partner Center events are a few hundred bytes; anything near this limit is not an event. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;
export const CONFIG_FILE_NAMES = ['cosell.config.yaml', 'cosell.config.yml', 'cosell.config.json'] as const;

/** Every secret cosell reads, and the only place it is read from. */
export const SECRET_ENV = {
  tokenKey: 'COSELL_TOKEN_KEY',
  salesforceClientSecret: 'COSELL_SF_CLIENT_SECRET',
  salesforcePrivateKey: 'COSELL_SF_PRIVATE_KEY',
  dynamicsClientSecret: 'COSELL_D365_CLIENT_SECRET',
  dynamicsPrivateKey: 'COSELL_D365_PRIVATE_KEY',
  storeUrl: 'COSELL_STORE_URL',
  /** Required when server.host is not a loopback address: guards the dashboard and the admin API. */
  adminToken: 'COSELL_ADMIN_TOKEN',
} as const;

/** Settings that hold secrets, by path in the file: writing one there is an error naming its variable. */
export const SECRET_PATHS: Readonly<Record<string, string>> = {
  'crm.salesforce.connection.auth.clientSecret': SECRET_ENV.salesforceClientSecret,
  'crm.salesforce.connection.auth.privateKey': SECRET_ENV.salesforcePrivateKey,
  'crm.dynamics.connection.auth.clientSecret': SECRET_ENV.dynamicsClientSecret,
  'crm.dynamics.connection.auth.privateKey': SECRET_ENV.dynamicsPrivateKey,
};

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const webhookSchema = z.object({
  /** The public HTTPS URL Partner Center posts events to (`cosell webhooks register` uses it; `start`
   *  warns when the registration points elsewhere). */
  publicUrl: z.url().optional(),
  /** Exact host names the signing certificate may be downloaded from; no suffix matching. */
  allowedCertificateHosts: z.array(z.string().min(1)).min(1).default([MICROSOFT_CERTIFICATE_HOST]),
  /** PEM files of the root the signing certificate must chain to. Microsoft's root is not bundled: the
   *  admin names the file they obtained (see the starter config), the emulators' CA in tests. */
  trustAnchors: z.array(z.string().min(1)).default([]),
  /** R1: how often the running service checks that the registration still points at publicUrl (another
   *  tool, e.g. the old Power Automate flow, may take it over); drift is logged as a warning each time. */
  checkEveryMs: z
    .number()
    .int()
    .positive()
    .default(60 * 60 * 1000),
});

const partnerCenterSchema = z.object({
  /** The partner's Entra tenant id (or "organizations"). */
  tenantId: z.string().min(1),
  /** The Entra app (public client) registered for cosell with delegated Partner Center permissions. */
  clientId: z.string().min(1),
  referralsUrl: z.url().default(REFERRALS_BASE_URL),
  webhooksUrl: z.url().default(WEBHOOKS_BASE_URL),
  /** Stands in for https://login.microsoftonline.com (emulators only). */
  authorityHost: z.url().optional(),
  webhook: webhookSchema.prefault({}),
});

const salesforceSchema = z.object({
  connection: salesforceConnectionSchema,
  settings: salesforceSettingsSchema.prefault({}),
});

const dynamicsSchema = z.object({
  connection: dynamicsConnectionSchema,
  settings: dynamicsSettingsSchema.prefault({}),
});

const crmSchema = z
  .object({
    kind: z.enum(['salesforce', 'dynamics']),
    salesforce: salesforceSchema.optional(),
    dynamics: dynamicsSchema.optional(),
  })
  .superRefine((crm, context) => {
    if (crm.kind === 'salesforce' && !crm.salesforce) {
      context.addIssue({
        code: 'custom',
        path: ['salesforce'],
        message: 'is required when kind is salesforce (connection: loginUrl, auth)',
      });
    }
    if (crm.kind === 'dynamics' && !crm.dynamics) {
      context.addIssue({
        code: 'custom',
        path: ['dynamics'],
        message: 'is required when kind is dynamics (connection: url, tenantId, auth)',
      });
    }
  });

const serverSchema = z.object({
  /** 0.0.0.0 accepts connections from other machines; keep 127.0.0.1 behind a TLS reverse proxy. */
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65_535).default(3000),
  webhookPath: z
    .string()
    .regex(/^\/[A-Za-z0-9/_.~-]*$/, 'must be a URL path starting with /')
    .default(DEFAULT_WEBHOOK_PATH),
  bodyLimit: z.number().int().min(1024).default(DEFAULT_BODY_LIMIT),
});

export const configFileSchema = z.object({
  /** The partner tenant this deployment serves: every stored row carries it. */
  tenantId: z.string().min(1).default('default'),
  store: z.object({ url: z.string().min(1).default(DEFAULT_STORE_URL) }).prefault({}),
  partnerCenter: partnerCenterSchema,
  crm: crmSchema,
  engine: engineSettingsSchema.prefault({}),
  server: serverSchema.prefault({}),
  log: z.object({ level: z.enum(LOG_LEVELS).default('info') }).prefault({}),
});

export type ConfigFile = z.infer<typeof configFileSchema>;
export type ConfigFileInput = z.input<typeof configFileSchema>;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The loaded configuration: the file's values with defaults, paths resolved, secrets from the environment. */
export interface Config extends ConfigFile {
  /** Absolute path of the file it came from (or a label such as "demo"). */
  file: string;
  partnerCenter: ConfigFile['partnerCenter'] & {
    webhook: ConfigFile['partnerCenter']['webhook'] & { trustAnchorsPem: string[] };
  };
}
