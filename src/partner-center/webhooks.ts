// Webhooks API client (reference §4, R1): one registration (one URL) per partner tenant for all events.
// Registering compares with what is there first, so an instance never silently steals the URL from another
// one (the old Power Automate flow, a staging instance): that takes `force`.
import { z } from 'zod';
import { camelCaseKeys } from '../core/referral.ts';
import { DEFAULT_WEBHOOK_EVENTS, VALIDATION_WEBHOOK_EVENT, WEBHOOKS_BASE_URL } from './constants.ts';
import { PartnerCenterError } from './errors.ts';
import { type PartnerCenterClientOptions, PartnerCenterHttp, type PartnerCenterResponse } from './http.ts';

export type WebhooksClientOptions = PartnerCenterClientOptions;

const registrationSchema = z.preprocess(
  camelCaseKeys,
  z.looseObject({
    subscriberId: z.string().nullish(),
    webhookUrl: z.string(),
    webhookEvents: z.array(z.string()).nullish(),
    signatureTokenToMsSignatureHeader: z.boolean().nullish(),
  }),
);

export interface WebhookRegistration {
  subscriberId?: string | undefined;
  webhookUrl: string;
  webhookEvents: string[];
  signatureTokenToMsSignatureHeader?: boolean | undefined;
}

const validationResultSchema = z.preprocess(
  camelCaseKeys,
  z.looseObject({
    correlationId: z.string(),
    partnerId: z.string().nullish(),
    status: z.string(),
    callbackUrl: z.string().nullish(),
    results: z
      .array(
        z.looseObject({
          responseCode: z.string().nullish(),
          responseMessage: z.string().nullish(),
          systemError: z.boolean().nullish(),
          dateTimeUtc: z.string().nullish(),
        }),
      )
      .nullish(),
  }),
);
export type ValidationEventResult = z.infer<typeof validationResultSchema>;

export type RegistrationState =
  | { state: 'missing' }
  | { state: 'ours'; registration: WebhookRegistration; missingEvents: string[]; extraEvents: string[] }
  | { state: 'drift'; registration: WebhookRegistration; message: string };

export type RegisterResult =
  | {
      action: 'created' | 'updated' | 'unchanged';
      registration: WebhookRegistration;
      previous?: WebhookRegistration;
    }
  | { action: 'overwritten'; registration: WebhookRegistration; previous: WebhookRegistration }
  /** Not changed: the URL belongs to someone else and `force` was not given. */
  | { action: 'drift'; registration: WebhookRegistration; previous: WebhookRegistration; message: string };

export interface RegisterOptions {
  url: string;
  events?: readonly string[];
  /** Take over a registration that points at another URL. */
  force?: boolean;
  /** Deliver the signature in `x-ms-signature` instead of `Authorization` (what the co-sell solution does). */
  signatureTokenToMsSignatureHeader?: boolean;
}

export class WebhooksClient {
  private readonly http: PartnerCenterHttp;

  constructor(options: WebhooksClientOptions) {
    this.http = new PartnerCenterHttp({
      ...options,
      api: 'webhooks',
      baseUrl: options.baseUrl ?? WEBHOOKS_BASE_URL,
    });
  }

  async listEvents(): Promise<string[]> {
    const response = await this.http.request({ method: 'GET', path: '/registration/events' });
    return parse(z.array(z.string()), response, 'GET', '/registration/events');
  }

  /** The tenant's registration, or null when there is none (404). */
  async getRegistration(): Promise<WebhookRegistration | null> {
    const response = await this.http.request({ method: 'GET', path: '/registration', accept: [404] });
    if (response.status === 404 || response.body === undefined) return null;
    return toRegistration(parse(registrationSchema, response, 'GET', '/registration'));
  }

  /** Compares the current registration with the URL cosell receives on (what `doctor` reports). */
  async checkRegistration(
    url: string,
    events: readonly string[] = DEFAULT_WEBHOOK_EVENTS,
  ): Promise<RegistrationState> {
    return compareRegistration(await this.getRegistration(), url, events);
  }

  /** R1: create, update, leave alone, or (with `force`) take over the tenant's one webhook registration. */
  async register(options: RegisterOptions): Promise<RegisterResult> {
    const events = [...(options.events ?? DEFAULT_WEBHOOK_EVENTS)];
    const body = {
      WebhookUrl: options.url,
      WebhookEvents: events,
      SignatureTokenToMsSignatureHeader: options.signatureTokenToMsSignatureHeader ?? true,
    };
    let current = await this.getRegistration();
    if (!current) {
      try {
        const response = await this.http.request({ method: 'POST', path: '/registration', body });
        return { action: 'created', registration: this.parseWritten(response, 'POST', body) };
      } catch (error) {
        // Someone registered between our read and our POST (409 = "a registration exists, use PUT").
        if (!(error instanceof PartnerCenterError) || error.status !== 409) throw error;
        current = await this.getRegistration();
        if (!current) throw error;
      }
    }
    const state = compareRegistration(current, options.url, events);
    if (state.state === 'drift' && !options.force) {
      return { action: 'drift', registration: current, previous: current, message: state.message };
    }
    if (state.state === 'ours' && state.missingEvents.length === 0 && state.extraEvents.length === 0) {
      return { action: 'unchanged', registration: current };
    }
    const response = await this.http.request({ method: 'PUT', path: '/registration', body });
    const registration = this.parseWritten(response, 'PUT', body);
    return { action: state.state === 'drift' ? 'overwritten' : 'updated', registration, previous: current };
  }

  /** Sends the `test-created` validation event; returns its correlation id for `getValidationResult`. */
  async sendValidationEvent(): Promise<string> {
    const path = '/registration/validationEvents';
    let response: PartnerCenterResponse;
    try {
      response = await this.http.request({ method: 'POST', path });
    } catch (error) {
      if (error instanceof PartnerCenterError && [400, 404, 409, 422].includes(error.status)) {
        throw new PartnerCenterError({
          api: 'webhooks',
          method: 'POST',
          path,
          status: error.status,
          code: error.code,
          providerMessage: error.providerMessage,
          target: error.target,
          requestId: error.requestId,
          correlationId: error.correlationId,
          attempts: error.attempts,
          fix: `Partner Center sends validation events only to a registration that includes '${VALIDATION_WEBHOOK_EVENT}': run \`cosell webhooks register\` (it registers ${VALIDATION_WEBHOOK_EVENT} by default), then try again.`,
          cause: error,
        });
      }
      throw error;
    }
    // The swagger says the answer is a string; the docs show { correlationId }.
    const body = camelCaseKeys(response.body);
    if (typeof body === 'string' && body) return body;
    const id = (body as { correlationId?: unknown } | undefined)?.correlationId;
    if (typeof id === 'string' && id) return id;
    throw unexpected(response, 'POST', path, 'correlationId: missing');
  }

  async getValidationResult(correlationId: string): Promise<ValidationEventResult> {
    const path = `/registration/validationEvents/${encodeURIComponent(correlationId)}`;
    const response = await this.http.request({ method: 'GET', path });
    return parse(validationResultSchema, response, 'GET', path);
  }

  private parseWritten(
    response: PartnerCenterResponse,
    method: string,
    sent: { WebhookUrl: string; WebhookEvents: string[]; SignatureTokenToMsSignatureHeader: boolean },
  ): WebhookRegistration {
    if (response.body === undefined) {
      return {
        webhookUrl: sent.WebhookUrl,
        webhookEvents: sent.WebhookEvents,
        signatureTokenToMsSignatureHeader: sent.SignatureTokenToMsSignatureHeader,
      };
    }
    return toRegistration(parse(registrationSchema, response, method, '/registration'));
  }
}

/** Pure comparison: same URL (normalised) and which events differ (case-insensitive, any order). */
export function compareRegistration(
  current: WebhookRegistration | null,
  url: string,
  events: readonly string[],
): RegistrationState {
  if (!current) return { state: 'missing' };
  if (normaliseUrl(current.webhookUrl) !== normaliseUrl(url)) {
    return {
      state: 'drift',
      registration: current,
      message: `The Partner Center webhook registration points at ${current.webhookUrl}, not ${url} — probably the old Power Automate flow or another cosell instance; re-run with --force to take it over.`,
    };
  }
  const have = new Set(current.webhookEvents.map((e) => e.toLowerCase()));
  const want = new Set(events.map((e) => e.toLowerCase()));
  return {
    state: 'ours',
    registration: current,
    missingEvents: events.filter((e) => !have.has(e.toLowerCase())),
    extraEvents: current.webhookEvents.filter((e) => !want.has(e.toLowerCase())),
  };
}

function normaliseUrl(url: string): string {
  try {
    return new URL(url).href;
  } catch {
    return url.trim();
  }
}

function toRegistration(parsed: z.infer<typeof registrationSchema>): WebhookRegistration {
  return {
    subscriberId: parsed.subscriberId ?? undefined,
    webhookUrl: parsed.webhookUrl,
    webhookEvents: parsed.webhookEvents ?? [],
    signatureTokenToMsSignatureHeader: parsed.signatureTokenToMsSignatureHeader ?? undefined,
  };
}

function parse<S extends z.ZodType>(
  schema: S,
  response: PartnerCenterResponse,
  method: string,
  path: string,
): z.infer<S> {
  const result = schema.safeParse(response.body);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`,
  );
  throw unexpected(response, method, path, problems.slice(0, 5).join('; '));
}

function unexpected(
  response: PartnerCenterResponse,
  method: string,
  path: string,
  problems: string,
): PartnerCenterError {
  return new PartnerCenterError({
    api: 'webhooks',
    method,
    path,
    status: response.status,
    code: 'unexpectedResponse',
    providerMessage: `the response does not match the documented shape: ${problems}`,
    target: problems.split(':')[0],
    requestId: response.requestId,
    correlationId: response.correlationId,
    attempts: response.attempts,
    fix: 'Partner Center answered with a shape cosell does not understand: report it with the request id.',
  });
}
