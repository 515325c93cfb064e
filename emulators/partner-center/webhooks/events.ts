// Webhook facts (reference/partner-center.md §4, §5) as data, and the event body Partner Center POSTs.

export const REFERRAL_EVENT_NAMES = [
  'referral-created',
  'referral-updated',
  'related-referral-created',
  'related-referral-updated',
] as const;
export type ReferralEventName = (typeof REFERRAL_EVENT_NAMES)[number];

/** What `GET /webhooks/v1/registration/events` lists in the emulator: the co-sell events plus the
 *  validation event. (The real list also has subscription/invoice events the emulator never fires.) */
export const WEBHOOK_EVENT_NAMES = [...REFERRAL_EVENT_NAMES, 'test-created'] as const;
export type WebhookEventName = (typeof WEBHOOK_EVENT_NAMES)[number];

/** "Partner Center makes 10 delivery attempts; after that the event goes to an offline queue." */
export const MAX_DELIVERY_ATTEMPTS = 10;

/** Gaps between attempts; the real schedule is unpublished. The last value repeats. */
export const DEFAULT_RETRY_DELAYS_MS = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000];

/** "Test (validation) event POST: 2 requests / minute; data kept 7 days." */
export const VALIDATION_EVENTS_PER_MINUTE = 2;
export const VALIDATION_EVENT_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** Hosts of the real `ResourceUri`s: not the Referrals API host (reference §4 "Event payload"). */
export const DEFAULT_REFERRAL_RESOURCE_BASE = 'https://api.partnercenter.microsoft.com/engagements/v1';
export const DEFAULT_WEBHOOKS_BASE = 'https://api.partnercenter.microsoft.com/webhooks/v1';

export const SIGNATURE_ALGORITHM = 'rsa-sha256';

/** Events older than this many records fall out of the delivery log. */
export const DELIVERY_LOG_LIMIT = 1_000;

/** `2026-11-20T10:00:00.1234567+00:00`: Partner Center's 7 fractional digits with an explicit offset. */
export function formatResourceChangeUtcDate(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$10000+00:00');
}

export interface EventBodyInput {
  eventName: WebhookEventName;
  resourceUri: string;
  changedAt: Date;
}

/** The exact JSON text that is signed and POSTed; key order as in the docs' sample. */
export function buildEventBody({ eventName, resourceUri, changedAt }: EventBodyInput): string {
  return JSON.stringify({
    EventName: eventName,
    ResourceUri: resourceUri,
    ResourceName: eventName === 'test-created' ? 'test' : 'referral',
    AuditUri: null,
    ResourceChangeUtcDate: formatResourceChangeUtcDate(changedAt),
  });
}
