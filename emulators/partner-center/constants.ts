// Provider facts the emulator imitates (reference/partner-center.md §1–§3), in one place.

/** Token audience of the Referrals API (`https://api.partner.microsoft.com/v1.0/engagements`). */
export const REFERRALS_AUDIENCE = 'https://api.partner.microsoft.com';
/** Token audience of the Webhooks API (`https://api.partnercenter.microsoft.com/webhooks/v1`). */
export const WEBHOOKS_AUDIENCE = 'https://api.partnercenter.microsoft.com';
/** What Entra issues when a client asks only for `openid profile offline_access`: useless to either API. */
export const GRAPH_AUDIENCE = 'https://graph.microsoft.com';
export const KNOWN_AUDIENCES = [REFERRALS_AUDIENCE, WEBHOOKS_AUDIENCE, GRAPH_AUDIENCE] as const;
export type Audience = (typeof KNOWN_AUDIENCES)[number];

/** OIDC scopes msal adds to every user request; they name no resource. */
export const OIDC_SCOPES = ['openid', 'profile', 'offline_access', 'email'] as const;

/** Partner Center roles that may call the Referrals API (docs: "Referrals Admin or Referrals User"). */
export const REFERRAL_ROLES = ['ReferralsAdmin', 'ReferralsUser'] as const;

export const REFERRALS_PREFIX = '/v1.0/engagements';
export const WEBHOOKS_PREFIX = '/webhooks/v1';
export const CONTROL_PREFIX = '/_emulator';

/** Server page size of `GET /referrals` ("If there are more than 100 items … use @odata.nextLink"). */
export const DEFAULT_PAGE_SIZE = 100;
/** Partner Center caps error messages at 1024 characters. */
export const MAX_ERROR_MESSAGE_LENGTH = 1024;
/** Fastify's default body limit happens to be Partner Center's too: 1 MB. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Incoming referrals not answered within 14 days are archived as Closed/Expired (reference §3). */
export const INCOMING_EXPIRY_DAYS = 14;
export const ACCESS_TOKEN_LIFETIME_SECONDS = 3600;
export const DEVICE_CODE_LIFETIME_SECONDS = 900;
/** Entra drops a refresh token left unused this long (AADSTS700082); each refresh issues a new one. */
export const REFRESH_TOKEN_INACTIVITY_DAYS = 90;

/** Microsoft's organisation id in referrals (`invitedBy.organizationId`, `target[].id`). */
export const MICROSOFT_ORG_ID = 'msft';
export const MICROSOFT_ORG_NAME = 'Microsoft';

/** The demo partner tenant the emulator plays. Fixed values so demo data and docs stay stable. */
export const DEMO_TENANT_ID = '4f1c2b7e-9a53-4c8d-b6e1-0d2f3a4b5c6d';
export const DEMO_ORGANIZATION_ID = '4f1c2b7e-9a53-4c8d-b6e1-0d2f3a4b5c6d';
export const DEMO_ORGANIZATION_NAME = 'Contoso Partner Ltd';
export const DEMO_MPN_ID = '4812345';
/** Public client app id scripts and `cosell login` use against the emulator (any id is accepted). */
export const DEMO_CLIENT_ID = '0c1a5e3d-7b2f-4e8a-9c6d-2f4b8a1e3c5d';
export const DEMO_USER = {
  username: 'referrals.admin@contoso-partner.example',
  password: 'Emulator-Demo-Pa55!',
  name: 'Riley Referrals (demo admin)',
  roles: ['ReferralsAdmin'],
} as const;
