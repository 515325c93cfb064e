// The Webhooks side of the Partner Center emulator: registration store, validation events, signed event
// delivery with retries, and the certificate endpoints receivers need to verify signatures.
//
// The main emulator server mounts `registerApiRoutes` (behind its bearer-token check) and
// `registerControlRoutes` (under its `/_emulator` base), and calls `emit` whenever a referral changes.
// The signing certificate is served by a small HTTPS server of its own because receivers must only fetch
// it over https (reference §4 "Signature"); its TLS certificate is issued by the same emulator CA.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  createHubCertificates,
  hubCertificatesSchema,
  issuingCertificateDer,
  restoreHubCertificates,
  SIGNING_CERTIFICATE_HOST,
  signingCertificateDer,
  signingCertificatePem,
} from './certs.ts';
import {
  type BehaviourMode,
  behaviourSchema,
  DeliveryQueue,
  type DeliveryRecord,
  type DeliveryTarget,
  deliveryRecordSchema,
  type Sleep,
  statusCodeName,
} from './delivery.ts';
import {
  buildEventBody,
  DEFAULT_REFERRAL_RESOURCE_BASE,
  DEFAULT_RETRY_DELAYS_MS,
  DEFAULT_WEBHOOKS_BASE,
  MAX_DELIVERY_ATTEMPTS,
  type ReferralEventName,
  VALIDATION_EVENT_RETENTION_MS,
  VALIDATION_EVENTS_PER_MINUTE,
  type WebhookEventName,
} from './events.ts';
import { type Registration, type RegistrationInput, registrationSchema } from './registration.ts';
import { registerWebhookApiRoutes, registerWebhookControlRoutes } from './routes.ts';
import { signedHeaders } from './signing.ts';

export type { ReferralEventName } from './events.ts';

/** Decides whether a request may use the Webhooks API. When it answers false it has already replied
 *  (401/403 with the error body). */
export type Authorize = (request: FastifyRequest, reply: FastifyReply) => Promise<boolean>;

export interface WebhookHubOptions {
  /** Interface the certificate HTTPS server listens on (port 0); also used in the URLs handed out. */
  host: string;
  /** Gaps between delivery attempts; the last value repeats. Default 1 s, 2 s, 4 s ... 60 s. */
  retryDelaysMs?: number[];
  /** A previous `toJSON()`: keeps the CA (users trust it), the registration and the logs. */
  state?: unknown;
  /** When set, referral events point at `${resourceBaseUrl}/referrals/{id}` (e.g. the emulator's own
   *  Referrals API) and validation events at the emulator's Webhooks API, instead of the real hosts. */
  resourceBaseUrl?: string;
  /** Base URL of the main emulator server (e.g. `http://127.0.0.1:4010`), for `caCertificateUrl`. Can also
   *  be set later through `hub.publicBaseUrl`; when absent it is derived from the app's listening address. */
  publicBaseUrl?: string;
  /** Validation events accepted per minute (Partner Center: 2). */
  validationEventsPerMinute?: number;
  /** Partner id reported in validation results. */
  partnerId?: string;
  /** Tests inject these to observe backoff without waiting. */
  sleep?: Sleep;
  clock?: () => Date;
  /** Called after every state change, e.g. to persist `toJSON()`. */
  onChange?: () => void;
}

export interface WebhookHub {
  readonly certificateUrl: string;
  readonly caCertificateUrl: string;
  readonly caCertificatePem: string;
  /** See `WebhookHubOptions.publicBaseUrl`. */
  publicBaseUrl: string | undefined;
  registerApiRoutes(app: FastifyInstance, authorize: Authorize): void;
  registerControlRoutes(app: FastifyInstance, prefix: string): void;
  emit(eventName: ReferralEventName, referralId: string, changedAt?: Date): void;
  reset(): void;
  toJSON(): unknown;
  close(): Promise<void>;
}

const validationResultSchema = z.object({
  responseCode: z.string(),
  responseMessage: z.string(),
  systemError: z.boolean(),
  dateTimeUtc: z.string(),
});

const validationEventSchema = z.object({
  correlationId: z.string(),
  partnerId: z.string(),
  status: z.enum(['pending', 'completed']),
  callbackUrl: z.string(),
  createdAt: z.string(),
  results: z.array(validationResultSchema),
});
export type ValidationEvent = z.infer<typeof validationEventSchema>;

const hubStateSchema = z.object({
  version: z.literal(1),
  certificates: hubCertificatesSchema,
  partnerId: z.string(),
  registration: registrationSchema.nullable(),
  validationEvents: z.array(validationEventSchema),
  deliveries: z.array(deliveryRecordSchema),
  behaviour: behaviourSchema,
});
type HubState = z.infer<typeof hubStateSchema>;

export const CERTIFICATE_PATH = `/cert/${SIGNING_CERTIFICATE_HOST}.cer`;
export const CA_CERTIFICATE_PATH = '/cert/ca.pem';
/** The issuing CA, where the signing certificate's Authority Information Access points. */
export const ISSUING_CERTIFICATE_PATH = '/cert/issuing-ca.cer';

export type ValidationRequestResult =
  | { ok: true; correlationId: string }
  | { ok: false; status: 400; message: string }
  | { ok: false; status: 429; retryAfterSeconds: number };

/** State and operations behind the routes; `routes.ts` only translates HTTP. */
export class WebhookHubCore {
  registration: Registration | null;
  readonly partnerId: string;
  readonly queue: DeliveryQueue;
  private validationEvents = new Map<string, ValidationEvent>();
  private validationTimes: number[] = [];

  constructor(
    readonly certificates: HubState['certificates'],
    private readonly options: WebhookHubOptions,
    private readonly certificateUrl: () => string,
    saved: HubState | undefined,
  ) {
    this.partnerId = options.partnerId ?? saved?.partnerId ?? randomUUID();
    this.registration = saved?.registration ?? null;
    for (const event of saved?.validationEvents ?? []) this.validationEvents.set(event.correlationId, event);
    this.queue = new DeliveryQueue({
      retryDelaysMs: options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
      headersFor: (body, useMsSignatureHeader) =>
        signedHeaders({
          body,
          privateKeyPem: certificates.signingKeyPem,
          certificateUrl: this.certificateUrl(),
          useMsSignatureHeader,
        }),
      onAttempt: (record, attempt) => this.recordValidationResult(record, attempt),
      ...(options.sleep ? { sleep: options.sleep } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.onChange ? { onChange: options.onChange } : {}),
    });
    if (saved) this.queue.restore(saved);
  }

  now(): Date {
    return this.options.clock?.() ?? new Date();
  }

  private changed(): void {
    this.options.onChange?.();
  }

  /** POST creates (409 when one exists), PUT replaces (404 when none): one registration per tenant. */
  saveRegistration(
    input: RegistrationInput,
    mode: 'create' | 'replace',
  ): { ok: true; registration: Registration } | { ok: false; status: 404 | 409; message: string } {
    if (mode === 'create' && this.registration) {
      return {
        ok: false,
        status: 409,
        message:
          `A webhook registration already exists for this tenant (${this.registration.webhookUrl}); ` +
          'Partner Center keeps one per tenant. Use PUT /webhooks/v1/registration to overwrite it.',
      };
    }
    if (mode === 'replace' && !this.registration) {
      return {
        ok: false,
        status: 404,
        message:
          'No webhook registration exists for this tenant. Use POST /webhooks/v1/registration to create one.',
      };
    }
    this.registration = {
      subscriberId: this.registration?.subscriberId ?? randomUUID(),
      ...input,
      lastModifiedTimestamp: this.now().toISOString(),
    };
    this.changed();
    return { ok: true, registration: this.registration };
  }

  deleteRegistration(): boolean {
    const existed = this.registration !== null;
    this.registration = null;
    this.changed();
    return existed;
  }

  targetFor(eventName: WebhookEventName): DeliveryTarget {
    const registration = this.registration;
    if (!registration) return { url: null, reason: 'no webhook registration' };
    if (!registration.webhookEvents.includes(eventName)) {
      return { url: null, reason: `the registration does not include '${eventName}'` };
    }
    return {
      url: registration.webhookUrl,
      useMsSignatureHeader: registration.signatureTokenToMsSignatureHeader,
    };
  }

  /** `changedAt`: when the referral changed (its `updatedDateTime`); the event's `ResourceChangeUtcDate`. */
  emit(eventName: ReferralEventName, referralId: string, changedAt: Date = this.now()): DeliveryRecord[] {
    const base = (this.options.resourceBaseUrl ?? DEFAULT_REFERRAL_RESOURCE_BASE).replace(/\/+$/, '');
    const body = buildEventBody({
      eventName,
      resourceUri: `${base}/referrals/${encodeURIComponent(referralId)}`,
      changedAt,
    });
    return this.queue.enqueue({
      eventName,
      referralId,
      correlationId: null,
      body,
      target: this.targetFor(eventName),
    });
  }

  /** `POST /registration/validationEvents`. `selfUrl` is where this request arrived, used for the
   *  ResourceUri when the emulator points events at itself. */
  requestValidationEvent(selfUrl: string): ValidationRequestResult {
    const registration = this.registration;
    if (!registration?.webhookEvents.includes('test-created')) {
      return {
        ok: false,
        status: 400,
        message: registration
          ? "The webhook registration does not include 'test-created'; add it to WebhookEvents (PUT /webhooks/v1/registration) to send validation events."
          : "No webhook registration exists; register a WebhookUrl with 'test-created' in WebhookEvents first.",
      };
    }
    const nowMs = this.now().getTime();
    const limit = this.options.validationEventsPerMinute ?? VALIDATION_EVENTS_PER_MINUTE;
    this.validationTimes = this.validationTimes.filter((t) => t > nowMs - 60_000);
    if (this.validationTimes.length >= limit) {
      const retryAfterMs = this.validationTimes[0]! + 60_000 - nowMs;
      return { ok: false, status: 429, retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) };
    }
    this.validationTimes.push(nowMs);
    this.purgeOldValidationEvents(nowMs);
    const correlationId = randomUUID();
    this.validationEvents.set(correlationId, {
      correlationId,
      partnerId: this.partnerId,
      status: 'pending',
      callbackUrl: registration.webhookUrl,
      createdAt: this.now().toISOString(),
      results: [],
    });
    const base = this.options.resourceBaseUrl
      ? selfUrl.replace(/\/+$/, '')
      : `${DEFAULT_WEBHOOKS_BASE}/registration/validationEvents`;
    const body = buildEventBody({
      eventName: 'test-created',
      resourceUri: `${base}/${correlationId}`,
      changedAt: this.now(),
    });
    this.queue.enqueue({
      eventName: 'test-created',
      referralId: null,
      correlationId,
      body,
      target: this.targetFor('test-created'),
    });
    this.changed();
    return { ok: true, correlationId };
  }

  getValidationEvent(correlationId: string): ValidationEvent | undefined {
    this.purgeOldValidationEvents(this.now().getTime());
    return this.validationEvents.get(correlationId);
  }

  private purgeOldValidationEvents(nowMs: number): void {
    for (const [id, event] of this.validationEvents) {
      if (Date.parse(event.createdAt) < nowMs - VALIDATION_EVENT_RETENTION_MS)
        this.validationEvents.delete(id);
    }
  }

  private recordValidationResult(record: DeliveryRecord, attempt: DeliveryRecord['attempts'][number]): void {
    const event = record.correlationId ? this.validationEvents.get(record.correlationId) : undefined;
    if (!event) return;
    const delivered = attempt.status !== null && attempt.status >= 200 && attempt.status < 300;
    event.results.push({
      responseCode: attempt.status === null ? '' : statusCodeName(attempt.status),
      responseMessage: attempt.error ?? attempt.responseBody,
      systemError: attempt.status === null,
      dateTimeUtc: attempt.at,
    });
    if (delivered || record.attempts.length >= MAX_DELIVERY_ATTEMPTS) event.status = 'completed';
    this.changed();
  }

  redeliver(deliveryId: string): DeliveryRecord | undefined {
    const original = this.queue.get(deliveryId);
    if (!original) return undefined;
    return this.queue.redeliver(deliveryId, this.targetFor(original.eventName));
  }

  setBehaviour(mode: BehaviourMode, count?: number, delayMs?: number) {
    return this.queue.setBehaviour(mode, count, delayMs);
  }

  reset(): void {
    this.registration = null;
    this.validationEvents.clear();
    this.validationTimes = [];
    this.queue.reset();
    this.changed();
  }

  toJSON(): HubState {
    return {
      version: 1,
      certificates: this.certificates,
      partnerId: this.partnerId,
      registration: this.registration,
      validationEvents: [...this.validationEvents.values()],
      ...this.queue.toJSON(),
    };
  }
}

function parseState(state: unknown): HubState | undefined {
  if (state === undefined || state === null) return undefined;
  const parsed = hubStateSchema.safeParse(state);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(
      `The saved webhook state is not usable (${problems.slice(0, 5).join('; ')}). ` +
        'Fix: delete the "webhooks" entry from the emulator data file to start with a new CA.',
    );
  }
  return parsed.data;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

async function startCertificateServer(host: string, certificates: HubState['certificates']): Promise<Server> {
  const server = createServer({ key: certificates.tlsKeyPem, cert: certificates.tlsCertPem }, (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && (path === CERTIFICATE_PATH || path === ISSUING_CERTIFICATE_PATH)) {
      // Read per request: the signing certificate is re-issued once the port (its AIA URL) is known.
      const der =
        path === CERTIFICATE_PATH ? signingCertificateDer(certificates) : issuingCertificateDer(certificates);
      res.writeHead(200, { 'content-type': 'application/pkix-cert', 'content-length': der.length });
      res.end(der);
    } else if (req.method === 'GET' && path === CA_CERTIFICATE_PATH) {
      res.writeHead(200, { 'content-type': 'application/x-pem-file' });
      res.end(certificates.caCertPem);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`Not found. The signing certificate is at ${CERTIFICATE_PATH}.\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host.replace(/^\[|\]$/g, ''), () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export async function createWebhookHub(options: WebhookHubOptions): Promise<WebhookHub> {
  const saved = parseState(options.state);
  const certificates = saved
    ? restoreHubCertificates(saved.certificates, options.host)
    : createHubCertificates(options.host);
  const server = await startCertificateServer(options.host, certificates);
  const httpsBase = `https://${urlHost(options.host)}:${(server.address() as AddressInfo).port}`;
  // Same signing key, a certificate naming this run's issuing-CA URL (the port changes between runs).
  certificates.signingCertPem = signingCertificatePem(
    certificates,
    `${httpsBase}${ISSUING_CERTIFICATE_PATH}`,
  );
  const certificateUrl = `${httpsBase}${CERTIFICATE_PATH}`;
  const core = new WebhookHubCore(certificates, options, () => certificateUrl, saved);
  let publicBaseUrl = options.publicBaseUrl;
  let control: { app: FastifyInstance; prefix: string } | undefined;

  return {
    certificateUrl,
    caCertificatePem: certificates.caCertPem,
    get caCertificateUrl() {
      if (!control) return `${httpsBase}${CA_CERTIFICATE_PATH}`;
      if (publicBaseUrl) return `${publicBaseUrl.replace(/\/+$/, '')}${control.prefix}/ca.pem`;
      const address = control.app.server.address();
      if (address && typeof address === 'object') {
        return `http://${urlHost(options.host)}:${address.port}${control.prefix}/ca.pem`;
      }
      // Not listening yet: the certificate server has the same file.
      return `${httpsBase}${CA_CERTIFICATE_PATH}`;
    },
    get publicBaseUrl() {
      return publicBaseUrl;
    },
    set publicBaseUrl(url: string | undefined) {
      publicBaseUrl = url;
    },
    registerApiRoutes(app, authorize) {
      registerWebhookApiRoutes(app, authorize, core);
    },
    registerControlRoutes(app, prefix) {
      const normalised = `/${prefix.replace(/^\/+|\/+$/g, '')}`.replace(/^\/$/, '');
      control = { app, prefix: normalised };
      registerWebhookControlRoutes(app, normalised, core);
    },
    emit(eventName, referralId, changedAt) {
      core.emit(eventName, referralId, changedAt);
    },
    reset() {
      core.reset();
    },
    toJSON() {
      return core.toJSON();
    },
    async close() {
      core.queue.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
