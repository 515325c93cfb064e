// The tenant's webhook registration: input validation and the wire shapes (reference §4 "Registration API").
// Partner Center holds one registration per tenant, so one URL receives every event.
import { isIP } from 'node:net';
import { z } from 'zod';
import { camelCaseKeys } from '../../../src/core/referral.ts';
import { WEBHOOK_EVENT_NAMES, type WebhookEventName } from './events.ts';

export const registrationSchema = z.object({
  subscriberId: z.string(),
  webhookUrl: z.string(),
  webhookEvents: z.array(z.enum(WEBHOOK_EVENT_NAMES)),
  signatureTokenToMsSignatureHeader: z.boolean(),
  lastModifiedTimestamp: z.string(),
});
export type Registration = z.infer<typeof registrationSchema>;

export type RegistrationInput = Pick<
  Registration,
  'webhookUrl' | 'webhookEvents' | 'signatureTokenToMsSignatureHeader'
>;

/** The real service requires https. The emulator also takes plain http on a loopback address so a
 *  receiver on the developer's machine works without a certificate. */
function isLoopback(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, '');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1';
}

function urlProblems(value: unknown): string[] {
  if (typeof value !== 'string' || value.trim() === '') {
    return ['WebhookUrl is required: the absolute https URL that receives the events.'];
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [`WebhookUrl '${value}' is not an absolute URL; expected e.g. https://crm.example.com/webhooks.`];
  }
  if (url.protocol === 'https:') return [];
  if (url.protocol === 'http:' && isLoopback(url.hostname)) return [];
  if (url.protocol === 'http:') {
    return [
      `WebhookUrl '${value}' must use https (the emulator accepts http only on 127.0.0.1, ::1 or localhost).`,
    ];
  }
  return [`WebhookUrl '${value}' must be an https URL.`];
}

function eventProblems(value: unknown): { problems: string[]; events: WebhookEventName[] } {
  if (!Array.isArray(value) || value.length === 0) {
    return {
      problems: [
        `WebhookEvents must be a non-empty array of event names: ${WEBHOOK_EVENT_NAMES.join(', ')}.`,
      ],
      events: [],
    };
  }
  const problems: string[] = [];
  const events: WebhookEventName[] = [];
  for (const name of value) {
    const known = WEBHOOK_EVENT_NAMES.find((e) => typeof name === 'string' && e === name.toLowerCase());
    if (!known) {
      problems.push(
        `WebhookEvents contains unknown event ${JSON.stringify(name)}; known events: ${WEBHOOK_EVENT_NAMES.join(', ')}.`,
      );
    } else if (!events.includes(known)) {
      events.push(known);
    }
  }
  return { problems, events };
}

/** Reads a POST/PUT body (PascalCase as in the docs, or camelCase as in the Swagger), returning every
 *  problem found. */
export function parseRegistrationInput(
  body: unknown,
): { ok: true; input: RegistrationInput } | { ok: false; problems: string[] } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return {
      ok: false,
      problems: [
        'The body must be a JSON object {WebhookUrl, WebhookEvents, SignatureTokenToMsSignatureHeader}.',
      ],
    };
  }
  const fields = camelCaseKeys(body) as Record<string, unknown>;
  const problems = urlProblems(fields['webhookUrl']);
  const events = eventProblems(fields['webhookEvents']);
  problems.push(...events.problems);
  const header = fields['signatureTokenToMsSignatureHeader'] ?? false;
  if (typeof header !== 'boolean') problems.push('SignatureTokenToMsSignatureHeader must be true or false.');
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    input: {
      webhookUrl: fields['webhookUrl'] as string,
      webhookEvents: events.events,
      signatureTokenToMsSignatureHeader: header === true,
    },
  };
}

/** The documented response (PascalCase), plus the header flag so clients can detect drift in it. */
export function registrationResponse(registration: Registration): Record<string, unknown> {
  return {
    SubscriberId: registration.subscriberId,
    WebhookUrl: registration.webhookUrl,
    WebhookEvents: registration.webhookEvents,
    SignatureTokenToMsSignatureHeader: registration.signatureTokenToMsSignatureHeader,
  };
}
