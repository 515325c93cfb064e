// The webhook endpoint against the Partner Center emulator's real signed deliveries over HTTP. The engine is
// a recording stub here (the server's contract is "verified, then handed over, then 2xx"); the runtime e2e
// suites run the real engine behind it.
import { X509Certificate } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPartnerCenterEmulator } from '../../emulators/partner-center/index.ts';
import { until } from '../../test/helpers/until.ts';
import {
  createCertificateCache,
  type HeaderBag,
  verifyWebhookSignature,
} from '../partner-center/signature.ts';
import { buildServer } from './app.ts';
import { createLogger } from './logger.ts';
import { RefusalLimiter } from './refusals.ts';

type Emulator = Awaited<ReturnType<typeof startPartnerCenterEmulator>>;

let emulator: Emulator;
let server: Awaited<ReturnType<typeof buildServer>>;
let url: string;
const accepted: string[] = [];
const verified: { rawBody: Buffer; headers: HeaderBag }[] = [];
let logText = '';
let storeUp = true;
let engineFails = false;

beforeAll(async () => {
  emulator = await startPartnerCenterEmulator({ port: 0, host: '127.0.0.1' });
  const trustAnchorsPem = [emulator.caCertificatePem];
  const logger = createLogger({
    level: 'info',
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        logText += chunk.toString();
        done();
      },
    }),
  });
  server = await buildServer({
    webhooks: [
      {
        path: '/webhooks/partner-center',
        tenantId: 'default',
        engine: {
          async acceptWebhook(rawBody) {
            if (engineFails) throw new Error('disk full');
            const duplicate = accepted.includes(rawBody);
            accepted.push(rawBody);
            return { duplicate };
          },
        },
        verifySignature: async (event, { allowDownload }) => {
          const result = await verifyWebhookSignature(event, {
            allowedCertificateHosts: [new URL(emulator.info.certificateUrl).host],
            trustAnchorsPem,
            cache: createCertificateCache(),
            allowDownload,
          });
          if (result.ok) verified.push(event);
          return result;
        },
      },
    ],
    checkStore: async () => {
      if (!storeUp) throw new Error('store unreachable: SQLITE_CANTOPEN');
    },
    isReady: () => storeUp,
    logger,
    bodyLimit: 4096,
  });
  const address = await server.listen({ port: 0, host: '127.0.0.1' });
  url = `${address}/webhooks/partner-center`;

  const form = new URLSearchParams({
    grant_type: 'password',
    client_id: emulator.info.clientId,
    scope: 'https://api.partnercenter.microsoft.com/.default',
    username: emulator.info.username,
    password: emulator.info.password,
  });
  const token = (await (await fetch(emulator.info.token, { method: 'POST', body: form })).json()) as {
    access_token: string;
  };
  const registered = await fetch(`${emulator.info.webhooks}/registration`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      WebhookUrl: url,
      WebhookEvents: ['referral-created', 'referral-updated'],
      SignatureTokenToMsSignatureHeader: true,
    }),
  });
  expect(registered.status).toBe(200);
});

afterAll(async () => {
  await server?.close();
  await emulator?.close();
});

beforeEach(() => {
  storeUp = true;
  engineFails = false;
});

async function signedDelivery(): Promise<{ rawBody: Buffer; headers: Record<string, string> }> {
  const before = verified.length;
  const created = await fetch(`${emulator.info.control}/incoming-referrals`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Signed event', customerProfile: { name: 'Fabrikam' } }),
  });
  expect(created.status).toBe(201);
  await until(() => verified.length > before, 5_000, 'a signed delivery');
  const event = verified[verified.length - 1]!;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers as Record<string, string>)) {
    if (
      ['x-ms-signature', 'authorization', 'x-ms-certificate-url', 'x-ms-signature-algorithm'].includes(name)
    )
      headers[name] = value;
  }
  return { rawBody: event.rawBody, headers };
}

function post(body: string | Buffer, headers: Record<string, string>) {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

describe('webhook endpoint (R2)', () => {
  it('R2 hands a verified Partner Center event to the engine and answers 200 after it', async () => {
    const count = accepted.length;
    const { rawBody } = await signedDelivery();
    expect(accepted.length).toBe(count + 1);
    expect(accepted.at(-1)).toBe(rawBody.toString('utf8'));
    expect(JSON.parse(accepted.at(-1)!)).toMatchObject({ EventName: 'referral-created' });
    const log = await fetch(`${emulator.info.control}/webhooks/deliveries`);
    const { deliveries } = (await log.json()) as { deliveries: { state: string; url: string }[] };
    expect(deliveries.filter((d) => d.url === url).every((d) => d.state === 'delivered')).toBe(true);
  });

  it('R2 a replayed event with the same signature is accepted again and reported as a duplicate', async () => {
    const { rawBody, headers } = await signedDelivery();
    const response = await post(rawBody, headers);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ accepted: true, duplicate: true });
  });

  it('R2 a body changed after signing is refused with 401 and never reaches the engine', async () => {
    const { rawBody, headers } = await signedDelivery();
    const count = accepted.length;
    const tampered = rawBody.toString('utf8').replace('referral-created', 'referral-updated');
    const response = await post(tampered, headers);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: 'bad-signature' } });
    expect(accepted.length).toBe(count);
  });

  it('R2 a missing signature and a certificate from a host off the allow-list are refused with 401', async () => {
    const { rawBody, headers } = await signedDelivery();
    const count = accepted.length;
    const unsigned = await post(rawBody, {});
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toMatchObject({ error: { code: 'missing-signature' } });
    const elsewhere = await post(rawBody, {
      ...headers,
      'x-ms-certificate-url': 'https://evil.example/cert/pcnotifications-dispatch.microsoft.com.cer',
    });
    expect(elsewhere.status).toBe(401);
    expect(await elsewhere.json()).toMatchObject({ error: { code: 'certificate-host-not-allowed' } });
    expect(accepted.length).toBe(count);
  });

  it('R2 refusals are logged with the reason and without the signature or authorization header', async () => {
    const { rawBody, headers } = await signedDelivery();
    await post(Buffer.concat([rawBody, Buffer.from(' ')]), headers);
    await until(() => logText.includes('webhook signature refused'), 2_000, 'the refusal log line');
    const signature = headers['x-ms-signature'] ?? headers['authorization'] ?? '';
    expect(signature.length).toBeGreaterThan(20);
    expect(logText).not.toContain(signature.replace(/^Signature /, ''));
    expect(logText).toContain('"code":"bad-signature"');
  });

  it('an oversized body is refused with 413 before verification', async () => {
    const count = verified.length;
    const response = await post('x'.repeat(5000), { 'x-ms-signature': 'Signature AAAA' });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: 'body-too-large' } });
    expect(verified.length).toBe(count);
  });

  it('a store failure answers 500 so Partner Center delivers the event again', async () => {
    const { rawBody, headers } = await signedDelivery();
    engineFails = true;
    const response = await post(rawBody, headers);
    expect(response.status).toBe(500);
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).not.toContain('disk full');
  });
});

describe('bodies that pass the signature check', () => {
  it('R2 a signed body that is not a JSON object is refused with 400 and not stored', async () => {
    // Partner Center never signs such a body; a verifier that accepts everything stands in for one that did.
    const stored: string[] = [];
    const lenient = await buildServer({
      webhooks: [
        {
          path: '/hook',
          tenantId: 'default',
          engine: {
            async acceptWebhook(rawBody) {
              stored.push(rawBody);
              return { duplicate: false };
            },
          },
          verifySignature: async () => ({
            ok: true,
            certificate: new X509Certificate(emulator.caCertificatePem),
          }),
        },
      ],
      checkStore: async () => {},
      logger: createLogger({ level: 'silent' }),
      bodyLimit: 4096,
    });
    const base = await lenient.listen({ port: 0, host: '127.0.0.1' });
    try {
      const malformed = await fetch(`${base}/hook`, { method: 'POST', body: '{"EventName":' });
      expect(malformed.status).toBe(400);
      expect(await malformed.json()).toMatchObject({ error: { code: 'malformed-json' } });
      const list = await fetch(`${base}/hook`, { method: 'POST', body: '[1,2]' });
      expect(list.status).toBe(400);
      expect(stored).toEqual([]);
    } finally {
      await lenient.close();
    }
  });
});

describe('health checks', () => {
  it('/healthz reports the store, /readyz the engine', async () => {
    expect(await (await fetch(url.replace('/webhooks/partner-center', '/healthz'))).json()).toEqual({
      status: 'ok',
      store: 'ok',
    });
    storeUp = false;
    const down = await fetch(url.replace('/webhooks/partner-center', '/healthz'));
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'error', store: expect.stringContaining('SQLITE') });
    expect((await fetch(url.replace('/webhooks/partner-center', '/readyz'))).status).toBe(503);
  });
});

describe('a flood of forged webhooks (R2)', () => {
  it('R2 forged events with fresh certificate URLs cost one download each at most, then none; memory stays bounded; real events still get in', async () => {
    const real = await signedDelivery();
    const certificateUrl = new URL(real.headers['x-ms-certificate-url']!);
    const certificates = createCertificateCache();
    const refusals = new RefusalLimiter({ maxRefusals: 20, windowMs: 60_000 });
    const taken: string[] = [];
    const flooded = await buildServer({
      webhooks: [
        {
          path: '/webhooks/partner-center',
          tenantId: 'default',
          engine: {
            async acceptWebhook(rawBody) {
              taken.push(rawBody);
              return { duplicate: false };
            },
          },
          verifySignature: (event, { allowDownload }) =>
            verifyWebhookSignature(event, {
              allowedCertificateHosts: [certificateUrl.host],
              trustAnchorsPem: [emulator.caCertificatePem],
              cache: certificates,
              allowDownload,
            }),
        },
      ],
      refusals,
      checkStore: async () => {},
      logger: createLogger({ level: 'silent' }),
      bodyLimit: 4096,
    });
    const target = `${await flooded.listen({ port: 0, host: '127.0.0.1' })}/webhooks/partner-center`;
    const send = (body: Buffer | string, headers: Record<string, string>) =>
      fetch(target, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    try {
      // The real certificate is trusted before the flood, as it is after Partner Center's first event.
      expect((await send(real.rawBody, real.headers)).status).toBe(200);
      const statuses = new Map<number, number>();
      const total = 2_000;
      for (let batch = 0; batch < total; batch += 50) {
        const responses = await Promise.all(
          Array.from({ length: 50 }, (_, k) => {
            const i = batch + k;
            const url =
              i % 2 === 0
                ? `${certificateUrl.origin}${certificateUrl.pathname}?bogus=${i}`
                : `${certificateUrl.origin}/cert/bogus-${i}.cer`;
            return send(real.rawBody, {
              ...real.headers,
              'x-ms-signature': `Signature ${Buffer.from(`forged ${i}`).toString('base64')}`,
              'x-ms-certificate-url': url,
            });
          }),
        );
        for (const r of responses) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        // A real event in the middle of the flood, from the same address, is still verified and taken.
        if (batch === total / 2) expect((await send(real.rawBody, real.headers)).status).toBe(200);
      }
      expect([...statuses.keys()].sort()).toEqual([401, 429]);
      // `?bogus=N` names the trusted certificate (no download; the forged signature fails, 401); fresh paths
      // are refused 429 once the caller used up its refusals, without a download.
      expect(statuses.get(429)).toBeGreaterThan(total / 2 - 30);
      // One download for the real certificate, then at most the caller's refusals' worth.
      expect(certificates.downloads).toBeLessThanOrEqual(1 + 20);
      expect(certificates.size).toBeLessThanOrEqual(64);
      expect(refusals.size).toBe(1);
      expect(taken).toHaveLength(2);
    } finally {
      await flooded.close();
    }
  });
});
