// Partner Center provider facts (reference/partner-center.md §1, §4). Code elsewhere reads these names
// instead of repeating URLs, scopes or event names.

export type PartnerCenterApi = 'referrals' | 'webhooks';

/** Referrals API base (reference §1): collection at `${base}/referrals`. */
export const REFERRALS_BASE_URL = 'https://api.partner.microsoft.com/v1.0/engagements';
/** Webhooks API base (reference §4). */
export const WEBHOOKS_BASE_URL = 'https://api.partnercenter.microsoft.com/webhooks/v1';

/** The two APIs are different token audiences: one token each (reference §1). */
export const API_SCOPES: Readonly<Record<PartnerCenterApi, string>> = Object.freeze({
  referrals: 'https://api.partner.microsoft.com/.default',
  webhooks: 'https://api.partnercenter.microsoft.com/.default',
});

/** Entra ID authority host; emulator mode rewrites this host, keeping the path. */
export const ENTRA_AUTHORITY_HOST = 'https://login.microsoftonline.com';

/** The four events the co-sell solution registers (reference §4, R1). */
export const REFERRAL_WEBHOOK_EVENTS = Object.freeze([
  'referral-created',
  'referral-updated',
  'related-referral-created',
  'related-referral-updated',
] as const);

/** Needed in the registration for `POST /registration/validationEvents` to be accepted (reference §4). */
export const VALIDATION_WEBHOOK_EVENT = 'test-created';

export const DEFAULT_WEBHOOK_EVENTS: readonly string[] = Object.freeze([
  ...REFERRAL_WEBHOOK_EVENTS,
  VALIDATION_WEBHOOK_EVENT,
]);

/** The role every App+User call needs (reference §1, R28). */
export const REQUIRED_ROLE = 'Referrals Admin';

/** Server page size of `GET /referrals` (reference §2 paging). */
export const REFERRALS_PAGE_SIZE = 100;

/** Webhook signature headers (reference §4 "Signature"). */
export const SIGNATURE_HEADERS = Object.freeze({
  authorization: 'authorization',
  msSignature: 'x-ms-signature',
  certificateUrl: 'x-ms-certificate-url',
  algorithm: 'x-ms-signature-algorithm',
});
export const SIGNATURE_ALGORITHM = 'rsa-sha256';
/** The organisation Partner Center's signing certificate is issued to. */
export const SIGNING_CERTIFICATE_ORGANIZATION = 'Microsoft Corporation';
