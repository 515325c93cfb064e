import { createVerify, X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { until } from '../../../test/helpers/until.ts';
import type { DeliveryRecord, Sleep } from './delivery.ts';
import { DEFAULT_RETRY_DELAYS_MS } from './events.ts';
import { createWebhookHub, type WebhookHub } from './hub.ts';
import { httpsGetTrusting, type Receiver, startReceiver } from './test-support.ts';

const CONTROL = '/_emulator/webhooks';
const ALL_REFERRAL_EVENTS = [
  'referral-created',
  'referral-updated',
  'related-referral-created',
  'related-referral-updated',
];

let hub: WebhookHub;
let app: FastifyInstance;
let base: string;
let receiver: Receiver;
/** Every backoff/delay the hub asked for; the default sleep resolves at once so retries need no waiting. */
let sleeps: number[] = [];
let sleepImpl: Sleep = async () => {};

beforeAll(async () => {
  hub = await createWebhookHub({
    host: '127.0.0.1',
    sleep: (ms, signal) => {
      sleeps.push(ms);
      return sleepImpl(ms, signal);
    },
  });
  app = Fastify();
  hub.registerApiRoutes(app, async (request, reply) => {
    if (request.headers['x-deny'] === undefined) return true;
    await reply.code(401).send({ error: { code: 'unauthenticated', message: 'no token' } });
    return false;
  });
  hub.registerControlRoutes(app, CONTROL);
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  receiver = await startReceiver();
});

afterAll(async () => {
  await hub?.close();
  await app?.close();
  await receiver?.close();
});

afterEach(async () => {
  // Let deliveries a test started finish, so none reaches the receiver during the next test.
  const busy = ['pending', 'retrying'];
  await until(
    async () => !(await deliveries()).some((d) => busy.includes(d.state)),
    5_000,
    'idle deliveries',
  );
});

beforeEach(() => {
  hub.reset();
  receiver.clear();
  sleeps = [];
  sleepImpl = async () => {};
});

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = text;
  }
  // biome-ignore lint/suspicious/noExplicitAny: test convenience for reading response bodies
  return { status: response.status, headers: response.headers, body: json as any, text };
}

function register(events: string[] = ALL_REFERRAL_EVENTS, msHeader = false, method = 'POST') {
  return call(method, '/webhooks/v1/registration', {
    WebhookUrl: receiver.url,
    WebhookEvents: events,
    SignatureTokenToMsSignatureHeader: msHeader,
  });
}

async function deliveries(query = ''): Promise<DeliveryRecord[]> {
  return (await call('GET', `${CONTROL}/deliveries${query}`)).body.deliveries;
}

const bodies = () => receiver.received.map((r) => JSON.parse(r.body) as Record<string, unknown>);
const receivedIds = () => bodies().map((b) => String(b['ResourceUri']).split('/').pop());

describe('Webhooks registration API', () => {
  it('lists the events it can deliver', async () => {
    const response = await call('GET', '/webhooks/v1/registration/events');
    expect(response.status).toBe(200);
    expect(response.body).toEqual([...ALL_REFERRAL_EVENTS, 'test-created']);
  });

  it('R1 one registration per tenant: POST creates, a second POST is 409 (use PUT), PUT overwrites', async () => {
    expect((await call('GET', '/webhooks/v1/registration')).status).toBe(404);
    const created = await register(['referral-created']);
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ WebhookUrl: receiver.url, WebhookEvents: ['referral-created'] });
    expect(created.body.SubscriberId).toMatch(/^[0-9a-f-]{36}$/);

    const again = await register();
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('conflict');
    expect(again.body.error.message).toContain('Use PUT /webhooks/v1/registration');

    // camelCase keys (Swagger spelling) are accepted too.
    const replaced = await call('PUT', '/webhooks/v1/registration', {
      webhookUrl: `${receiver.url}/v2`,
      webhookEvents: ['referral-updated', 'test-created'],
      signatureTokenToMsSignatureHeader: true,
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body.SubscriberId).toBe(created.body.SubscriberId);
    const current = await call('GET', '/webhooks/v1/registration');
    expect(current.body).toMatchObject({
      WebhookUrl: `${receiver.url}/v2`,
      WebhookEvents: ['referral-updated', 'test-created'],
      SignatureTokenToMsSignatureHeader: true,
    });
  });

  it('PUT without a registration is 404 and says to POST', async () => {
    const response = await register(ALL_REFERRAL_EVENTS, false, 'PUT');
    expect(response.status).toBe(404);
    expect(response.body.error.message).toContain('Use POST');
  });

  it('refuses a bad registration with every problem: non-https URL off loopback, unknown event', async () => {
    const response = await call('POST', '/webhooks/v1/registration', {
      WebhookUrl: 'http://crm.example.com/hook',
      WebhookEvents: ['referral-created', 'invoice-ready'],
      SignatureTokenToMsSignatureHeader: 'yes',
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('invalidRequest');
    expect(response.body.error.message).toContain('must use https');
    expect(response.body.error.message).toContain('"invoice-ready"');
    expect(response.body.error.message).toContain('SignatureTokenToMsSignatureHeader must be true or false');
    expect(response.body.error.details).toHaveLength(3);

    const relative = await call('POST', '/webhooks/v1/registration', {
      WebhookUrl: '/hook',
      WebhookEvents: ['referral-created'],
    });
    expect(relative.body.error.message).toContain('not an absolute URL');
    const https = await call('POST', '/webhooks/v1/registration', {
      WebhookUrl: 'https://crm.example.com/hook',
      WebhookEvents: ['referral-created'],
    });
    expect(https.status).toBe(200);
  });

  it('asks authorize first and does nothing when it refuses', async () => {
    const response = await call(
      'POST',
      '/webhooks/v1/registration',
      { WebhookUrl: receiver.url, WebhookEvents: ['referral-created'] },
      { 'x-deny': '1' },
    );
    expect(response.status).toBe(401);
    expect((await call('GET', `${CONTROL}/registration`)).status).toBe(404);
  });

  it('echoes MS-CorrelationId and answers malformed JSON with the Partner Center error shape', async () => {
    const response = await fetch(`${base}/webhooks/v1/registration`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'MS-CorrelationId': 'corr-1' },
      body: '{"WebhookUrl": ',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('ms-correlationid')).toBe('corr-1');
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain(
      'not valid JSON',
    );
  });
});

describe('Validation events', () => {
  it('need test-created in the registration', async () => {
    await register(['referral-created']);
    const response = await call('POST', '/webhooks/v1/registration/validationEvents');
    expect(response.status).toBe(400);
    expect(response.body.error.message).toContain("does not include 'test-created'");
    expect(receiver.received).toHaveLength(0);
  });

  it('deliver a test-created event whose result can be read back', async () => {
    await register(['test-created']);
    // Many clients send the JSON content type on this body-less POST.
    const response = await fetch(`${base}/webhooks/v1/registration/validationEvents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(200);
    const { correlationId } = (await response.json()) as { correlationId: string };
    await until(() => receiver.received.length === 1, 5_000, 'the test-created event');
    expect(bodies()[0]).toMatchObject({
      EventName: 'test-created',
      ResourceName: 'test',
      ResourceUri: `https://api.partnercenter.microsoft.com/webhooks/v1/registration/validationEvents/${correlationId}`,
      AuditUri: null,
    });
    const result = await until(async () => {
      const r = await call('GET', `/webhooks/v1/registration/validationEvents/${correlationId}`);
      return r.body.status === 'completed' ? r.body : undefined;
    });
    expect(result).toMatchObject({
      correlationId,
      callbackUrl: receiver.url,
      results: [{ responseCode: 'OK', systemError: false }],
    });
    expect(result.partnerId).toEqual(expect.any(String));
    expect((await call('GET', '/webhooks/v1/registration/validationEvents/nope')).status).toBe(404);
  });

  it('are limited to 2 per minute (429 + Retry-After); reset() clears the limit', async () => {
    await register(['test-created']);
    expect((await call('POST', '/webhooks/v1/registration/validationEvents')).status).toBe(200);
    expect((await call('POST', '/webhooks/v1/registration/validationEvents')).status).toBe(200);
    const third = await call('POST', '/webhooks/v1/registration/validationEvents');
    expect(third.status).toBe(429);
    const retryAfter = Number(third.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(third.body).toEqual({
      statusCode: 429,
      message: `Rate limit is exceeded. Try again in ${retryAfter} seconds.`,
    });
    hub.reset();
    await register(['test-created']);
    expect((await call('POST', '/webhooks/v1/registration/validationEvents')).status).toBe(200);
  });
});

describe('Event delivery', () => {
  it('R2 POSTs the documented body, signed with Authorization: Signature, verifiable against the served certificate', async () => {
    await register();
    hub.emit('referral-created', 'ref-1');
    await until(() => receiver.received.length === 1, 5_000, 'the event');
    const [request] = receiver.received;
    expect(Object.keys(JSON.parse(request!.body))).toEqual([
      'EventName',
      'ResourceUri',
      'ResourceName',
      'AuditUri',
      'ResourceChangeUtcDate',
    ]);
    expect(JSON.parse(request!.body)).toMatchObject({
      EventName: 'referral-created',
      ResourceUri: 'https://api.partnercenter.microsoft.com/engagements/v1/referrals/ref-1',
      ResourceName: 'referral',
      AuditUri: null,
    });
    expect(JSON.parse(request!.body).ResourceChangeUtcDate).toMatch(
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}\+00:00$/,
    );
    const headers = request!.headers;
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-ms-certificate-url']).toBe(hub.certificateUrl);
    expect(headers['x-ms-signature-algorithm']).toBe('rsa-sha256');
    expect(headers['x-ms-signature']).toBeUndefined();
    expect(headers.authorization).toMatch(/^Signature [A-Za-z0-9+/]+=*$/);

    // The certificate URL is https with a certificate chained to the emulator CA, and serves DER.
    expect(hub.certificateUrl).toMatch(
      /^https:\/\/127\.0\.0\.1:\d+\/cert\/pcnotifications-dispatch\.microsoft\.com\.cer$/,
    );
    await expect(fetch(hub.certificateUrl)).rejects.toThrow(); // not trusted without the emulator CA
    const download = await httpsGetTrusting(hub.certificateUrl, hub.caCertificatePem);
    expect(download.status).toBe(200);
    // Microsoft's documented verification with only the emulator's root trusted: the leaf names its issuer's
    // download (AIA caIssuers), the issuer chains to the root, and the issuer's organisation is Microsoft's.
    const leaf = new X509Certificate(download.body);
    const ca = new X509Certificate(hub.caCertificatePem);
    expect(leaf.subject).toContain('O=Microsoft Corporation');
    expect(leaf.subject).toContain('CN=pcnotifications-dispatch.microsoft.com');
    expect(leaf.issuer).toContain('O=Microsoft Corporation');
    const issuerUrl = /CA Issuers - URI:(\S+)/.exec(leaf.infoAccess ?? '')?.[1];
    expect(issuerUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/cert\/issuing-ca\.cer$/);
    const issuing = new X509Certificate((await httpsGetTrusting(issuerUrl!, hub.caCertificatePem)).body);
    expect(leaf.checkIssued(issuing) && leaf.verify(issuing.publicKey)).toBe(true);
    expect(issuing.checkIssued(ca) && issuing.verify(ca.publicKey)).toBe(true);
    expect(issuing.ca && ca.ca).toBe(true);

    const signature = headers.authorization!.slice('Signature '.length);
    const verify = (body: string) =>
      createVerify('RSA-SHA256').update(body, 'utf8').verify(leaf.publicKey, signature, 'base64');
    expect(verify(request!.body)).toBe(true);
    expect(verify(request!.body.replace('ref-1', 'ref-2'))).toBe(false);
  });

  it('R2 puts the signature in x-ms-signature instead when the registration asks for it', async () => {
    await register(ALL_REFERRAL_EVENTS, true);
    hub.emit('referral-updated', 'ref-1');
    await until(() => receiver.received.length === 1, 5_000, 'the event');
    const headers = receiver.received[0]!.headers;
    expect(headers.authorization).toBeUndefined();
    expect(headers['x-ms-signature']).toMatch(/^Signature /);
    const leaf = new X509Certificate((await httpsGetTrusting(hub.certificateUrl, hub.caCertificatePem)).body);
    const signature = String(headers['x-ms-signature']).slice('Signature '.length);
    expect(
      createVerify('RSA-SHA256')
        .update(receiver.received[0]!.body)
        .verify(leaf.publicKey, signature, 'base64'),
    ).toBe(true);
  });

  it('sends only the events the registration includes', async () => {
    await register(['referral-updated']);
    hub.emit('referral-created', 'ref-1');
    const [skipped] = await deliveries('?eventName=referral-created');
    expect(skipped).toMatchObject({
      state: 'unsubscribed',
      reason: "the registration does not include 'referral-created'",
    });
    hub.emit('referral-updated', 'ref-1');
    await until(() => receiver.received.length === 1, 5_000, 'the subscribed event');
    expect(bodies().map((b) => b['EventName'])).toEqual(['referral-updated']);
  });

  it('retries with backoff until the receiver answers 2xx', async () => {
    await register();
    receiver.respondWith(500, 503);
    hub.emit('referral-updated', 'ref-1');
    await until(async () => (await deliveries())[0]?.state === 'delivered', 5_000, 'delivery');
    const [record] = await deliveries();
    expect(record!.attempts.map((a) => a.status)).toEqual([500, 503, 200]);
    expect(record!.attempts[0]!.responseBody).toBe('receiver says 500');
    expect(sleeps).toEqual(DEFAULT_RETRY_DELAYS_MS.slice(0, 2));
    expect(receiver.received).toHaveLength(3);
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
  });

  it('gives up after 10 attempts and moves the event to the offline queue', async () => {
    await register();
    receiver.defaultStatus = 500;
    hub.emit('referral-updated', 'ref-1');
    await until(async () => (await deliveries())[0]?.state === 'offline', 5_000, 'the offline queue');
    const [record] = await deliveries('?state=offline');
    expect(record!.attempts).toHaveLength(10);
    expect(record!.reason).toContain('offline queue');
    expect(receiver.received).toHaveLength(10);
    // 9 gaps for 10 attempts: the default schedule, its last value repeating.
    expect(sleeps).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  });

  it('records network errors when the receiver is unreachable', async () => {
    const gone = await startReceiver();
    await gone.close();
    await call('POST', '/webhooks/v1/registration', {
      WebhookUrl: gone.url,
      WebhookEvents: ['test-created'],
    });
    const { body } = await call('POST', '/webhooks/v1/registration/validationEvents');
    await until(async () => (await deliveries())[0]?.state === 'offline', 5_000, 'the offline queue');
    const [record] = await deliveries();
    expect(record!.attempts.every((a) => a.status === null && /ECONNREFUSED/.test(a.error ?? ''))).toBe(true);
    const result = await call('GET', `/webhooks/v1/registration/validationEvents/${body.correlationId}`);
    expect(result.body.status).toBe('completed');
    expect(result.body.results).toHaveLength(10);
    expect(result.body.results[0]).toMatchObject({ responseCode: '', systemError: true });
  });
});

describe('Control API: delivery misbehaviour', () => {
  it('drop: the next N events are logged as dropped and never sent', async () => {
    await register();
    expect((await call('POST', `${CONTROL}/behaviour`, { mode: 'drop', count: 2 })).body).toMatchObject({
      mode: 'drop',
      remaining: 2,
    });
    hub.emit('referral-created', 'r1');
    hub.emit('referral-created', 'r2');
    hub.emit('referral-created', 'r3');
    await until(() => receiver.received.length === 1, 5_000, 'the third event');
    expect(receivedIds()).toEqual(['r3']);
    expect((await deliveries('?state=dropped')).map((d) => d.referralId)).toEqual(['r1', 'r2']);
    expect((await call('GET', `${CONTROL}/behaviour`)).body.mode).toBe('normal');
  });

  it('duplicate: the next event is delivered twice with the same body', async () => {
    await register();
    await call('POST', `${CONTROL}/behaviour`, { mode: 'duplicate' });
    hub.emit('referral-updated', 'r1');
    await until(() => receiver.received.length === 2, 5_000, 'two copies');
    expect(receiver.received[0]!.body).toBe(receiver.received[1]!.body);
    const log = await deliveries();
    expect(log).toHaveLength(2);
    expect(log[1]!.duplicateOf).toBe(log[0]!.id);
    expect((await call('GET', `${CONTROL}/behaviour`)).body).toMatchObject({ mode: 'normal', remaining: 0 });
  });

  it('reorder: the next N events are held, then released newest first', async () => {
    await register();
    await call('POST', `${CONTROL}/behaviour`, { mode: 'reorder', count: 3 });
    hub.emit('referral-updated', 'r1');
    hub.emit('referral-updated', 'r2');
    expect((await deliveries('?state=held')).map((d) => d.referralId)).toEqual(['r1', 'r2']);
    expect(receiver.received).toHaveLength(0);
    hub.emit('referral-updated', 'r3');
    await until(() => receiver.received.length === 3, 5_000, 'the reordered batch');
    expect(receivedIds()).toEqual(['r3', 'r2', 'r1']);
  });

  it('delay: the next event waits delayMs while later ones go through', async () => {
    await register();
    let release = () => {};
    sleepImpl = (ms) =>
      ms === 5_000 ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
    await call('POST', `${CONTROL}/behaviour`, { mode: 'delay', count: 1, delayMs: 5_000 });
    hub.emit('referral-updated', 'r1');
    hub.emit('referral-updated', 'r2');
    await until(() => receiver.received.length === 1, 5_000, 'the undelayed event');
    expect(receivedIds()).toEqual(['r2']);
    expect((await deliveries('?referralId=r1'))[0]).toMatchObject({ state: 'delayed', behaviour: 'delay' });
    expect(sleeps).toContain(5_000);
    release();
    await until(() => receiver.received.length === 2, 5_000, 'the delayed event');
    expect(receivedIds()).toEqual(['r2', 'r1']);
  });

  it('refuses an unknown mode and a delay without delayMs', async () => {
    expect((await call('POST', `${CONTROL}/behaviour`, { mode: 'chaos' })).status).toBe(400);
    const noDelay = await call('POST', `${CONTROL}/behaviour`, { mode: 'delay' });
    expect(noDelay.status).toBe(400);
    expect(noDelay.body.error.message).toContain('delayMs');
  });
});

describe('Control API: log, redelivery, registration, CA', () => {
  it('redelivers a logged event as a new delivery, and clears the log', async () => {
    await register();
    hub.emit('referral-created', 'r1');
    await until(async () => (await deliveries())[0]?.state === 'delivered', 5_000, 'delivery');
    const [original] = await deliveries();
    const redelivered = await call('POST', `${CONTROL}/redeliver/${original!.id}`);
    expect(redelivered.status).toBe(202);
    expect(redelivered.body.redeliveryOf).toBe(original!.id);
    await until(() => receiver.received.length === 2, 5_000, 'the redelivery');
    expect(receiver.received[1]!.body).toBe(receiver.received[0]!.body);
    expect((await call('POST', `${CONTROL}/redeliver/unknown`)).status).toBe(404);

    expect((await call('DELETE', `${CONTROL}/deliveries`)).status).toBe(204);
    expect(await deliveries()).toEqual([]);
  });

  it('fires an event on request (POST /events)', async () => {
    await register();
    const response = await call('POST', `${CONTROL}/events`, {
      eventName: 'related-referral-updated',
      referralId: 'r9',
    });
    expect(response.status).toBe(202);
    await until(() => receiver.received.length === 1, 5_000, 'the event');
    expect(bodies()[0]).toMatchObject({ EventName: 'related-referral-updated', ResourceName: 'referral' });
  });

  it('shows the registration without auth and serves the CA certificate', async () => {
    await register(['referral-created'], true);
    const peek = await call('GET', `${CONTROL}/registration`);
    expect(peek.body).toMatchObject({
      webhookUrl: receiver.url,
      webhookEvents: ['referral-created'],
      signatureTokenToMsSignatureHeader: true,
    });
    expect(hub.caCertificateUrl).toBe(`${base}${CONTROL}/ca.pem`);
    const ca = await fetch(hub.caCertificateUrl);
    expect(await ca.text()).toBe(hub.caCertificatePem);
    hub.publicBaseUrl = 'http://emulator.test:4010';
    expect(hub.caCertificateUrl).toBe(`http://emulator.test:4010${CONTROL}/ca.pem`);
    hub.publicBaseUrl = undefined;
  });
});

describe('State', () => {
  it('a hub restarted from toJSON() keeps the CA, the signing key and the registration', async () => {
    await register(['referral-created']);
    const saved = JSON.parse(JSON.stringify(hub.toJSON()));
    const restarted = await createWebhookHub({
      host: '127.0.0.1',
      state: saved,
      retryDelaysMs: [5],
      resourceBaseUrl: 'http://127.0.0.1:4010/v1.0/engagements/',
    });
    try {
      expect(restarted.caCertificatePem).toBe(hub.caCertificatePem);
      expect(restarted.certificateUrl).not.toBe(hub.certificateUrl);
      // Its TLS and signing certificates still chain to the CA users already trust.
      const download = await httpsGetTrusting(restarted.certificateUrl, hub.caCertificatePem);
      const leaf = new X509Certificate(download.body);
      // The same signing key (receivers that pinned it keep working); the certificate names this run's AIA URL.
      const before = new X509Certificate(
        (await httpsGetTrusting(hub.certificateUrl, hub.caCertificatePem)).body,
      );
      expect(leaf.publicKey.export({ type: 'spki', format: 'pem' })).toBe(
        before.publicKey.export({ type: 'spki', format: 'pem' }),
      );
      expect((restarted.toJSON() as { registration: unknown }).registration).toEqual(saved.registration);

      // And it delivers with real timers: one failure, a 5 ms backoff, then success.
      receiver.respondWith(500);
      restarted.emit('referral-created', 'r1');
      await until(() => receiver.received.length === 2, 5_000, 'the retried event');
      const [event] = bodies().slice(-1);
      expect(event!['ResourceUri']).toBe('http://127.0.0.1:4010/v1.0/engagements/referrals/r1');
      const signature = String(receiver.received[1]!.headers.authorization).slice('Signature '.length);
      expect(
        createVerify('RSA-SHA256')
          .update(receiver.received[1]!.body)
          .verify(leaf.publicKey, signature, 'base64'),
      ).toBe(true);
    } finally {
      await restarted.close();
    }
  });

  it('refuses a corrupt saved state with a fix', async () => {
    await expect(createWebhookHub({ host: '127.0.0.1', state: { version: 1 } })).rejects.toThrow(
      /Fix: delete/,
    );
  });
});
