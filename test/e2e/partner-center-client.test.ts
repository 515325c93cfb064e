// The Partner Center client against the Partner Center emulator, over real HTTP: device-code login through
// msal (authority host rewritten to the emulator), every Referrals and Webhooks operation, paging, 412,
// 429, 401/403 and a delivered webhook verified by signature.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPartnerCenterEmulator } from '../../emulators/partner-center/index.ts';
import type { Referral } from '../../src/core/referral.ts';
import type { RetryPolicy } from '../../src/lib/retry.ts';
import { DelegatedTokenProvider } from '../../src/partner-center/auth.ts';
import { DEFAULT_WEBHOOK_EVENTS, REFERRAL_WEBHOOK_EVENTS } from '../../src/partner-center/constants.ts';
import { PartnerCenterError } from '../../src/partner-center/errors.ts';
import { and, anyOf, eq } from '../../src/partner-center/filter.ts';
import { ReferralsClient } from '../../src/partner-center/referrals.ts';
import { createCertificateCache, verifyWebhookSignature } from '../../src/partner-center/signature.ts';
import { WebhooksClient } from '../../src/partner-center/webhooks.ts';
import { until } from '../helpers/until.ts';

type Emulator = Awaited<ReturnType<typeof startPartnerCenterEmulator>>;

let emulator: Emulator;
let info: Emulator['info'];
let cacheDir: string;
let tokens: DelegatedTokenProvider;
let referrals: ReferralsClient;
let webhooks: WebhooksClient;
const tokenKey = randomBytes(32);

/** Backoff is recorded, not slept: the 429 tests would otherwise wait for real. */
const sleeps: number[] = [];
const policy: RetryPolicy = { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 60_000 };
const clientOptions = () => ({
  tokens,
  retry: policy,
  sleep: async (ms: number) => void sleeps.push(ms),
});

// A webhook receiver: records the raw bytes and headers of every POST.
interface Delivery {
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
}
const deliveries: Delivery[] = [];
let receiver: Server;
let receiverUrl: string;

async function control(method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${info.control}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`control ${method} ${path} -> ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function callCount(key: string): Promise<number> {
  const calls = (await control('GET', '/calls')) as Record<string, unknown>;
  const counters = (calls.calls ?? calls.counters ?? calls) as Record<string, number>;
  return counters[key] ?? 0;
}

const newReferral = (externalReferenceId: string, name = `Contoso deal ${externalReferenceId}`) => ({
  name,
  externalReferenceId,
  type: 'Independent',
  qualification: 'SalesQualified',
  customerProfile: {
    name: "O'Brien Contoso",
    address: { addressLine1: '1 Main St', city: 'Seattle', postalCode: '98052', country: 'US' },
    team: [{ firstName: 'Ada', lastName: 'Customer', email: 'ada@contoso.example' }],
  },
  consent: { consentToContact: true, consentToShareReferralWithMicrosoftSellers: false },
  details: { dealValue: 10_000, currency: 'USD', notes: 'first notes' },
  team: [{ firstName: 'Sam', lastName: 'Seller', email: 'sam@partner.example' }],
});

beforeAll(async () => {
  emulator = await startPartnerCenterEmulator();
  info = emulator.info;
  cacheDir = await mkdtemp(join(tmpdir(), 'cosell-pc-e2e-'));
  tokens = new DelegatedTokenProvider({
    clientId: info.clientId,
    tenantId: info.tenantId,
    cacheFile: join(cacheDir, 'tokens.json'),
    tokenKey,
    authorityHostOverride: info.authorityHost,
  });
  referrals = new ReferralsClient({ baseUrl: info.referrals, ...clientOptions() });
  webhooks = new WebhooksClient({ baseUrl: info.webhooks, ...clientOptions() });

  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      deliveries.push({ headers: req.headers, rawBody: Buffer.concat(chunks) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/partner-center`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
  await emulator?.close();
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
});

describe('Partner Center client against the emulator', () => {
  it('R3 cosell login runs the device-code flow once; one token per audience; cache encrypted at rest', async () => {
    const prompts: string[] = [];
    const { username } = await tokens.login({ onDeviceCode: (p) => prompts.push(p.userCode) });
    expect(username.toLowerCase()).toBe(info.username.toLowerCase());
    expect(prompts).toHaveLength(1);

    const referralsToken = await tokens.getToken('referrals');
    const webhooksToken = await tokens.getToken('webhooks');
    expect(referralsToken).not.toBe(webhooksToken);

    const file = join(cacheDir, 'tokens.json');
    const onDisk = await readFile(file, 'utf8');
    expect(onDisk).not.toContain(referralsToken);
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    // A restarted process (new provider, same file and key) needs no new login: msal renews from the cache.
    const restarted = new DelegatedTokenProvider({
      clientId: info.clientId,
      tenantId: info.tenantId,
      cacheFile: file,
      tokenKey,
      authorityHostOverride: info.authorityHost,
    });
    expect(await restarted.currentUser()).toBe(username);
    expect(await restarted.getToken('webhooks', { forceRefresh: true })).toBeTruthy();
  });

  it('R3 create (200/201), get with eTag, update by JSON Patch with If-Match (204 and 200 + representation)', async () => {
    const created = await referrals.create(newReferral('opp-create-1'));
    expect(created.id).toBeTruthy();
    expect(created.direction).toBe('Outgoing');
    expect(created.customerProfile?.name).toBe("O'Brien Contoso");

    const { referral, eTag } = await referrals.get(created.id!);
    expect(referral.id).toBe(created.id);
    expect(eTag).toBeTruthy();

    const noBody = await referrals.update(
      created.id!,
      [{ op: 'replace', path: '/details/notes', value: 'second' }],
      {
        ifMatch: eTag!,
      },
    );
    expect(noBody).toBeNull();

    const after = await referrals.get(created.id!);
    expect(after.referral.details?.notes).toBe('second');
    expect(after.eTag).not.toBe(eTag);

    const returned = await referrals.update(
      created.id!,
      [{ op: 'replace', path: '/details/dealValue', value: 25_000 }],
      { ifMatch: after.eTag!, returnRepresentation: true },
    );
    expect(returned?.details?.dealValue).toBe(25_000);

    // The old eTag no longer matches: 412 with the re-read fix.
    const stale = await referrals
      .update(created.id!, [{ op: 'replace', path: '/details/notes', value: 'x' }], { ifMatch: eTag! })
      .catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(PartnerCenterError);
    expect(stale).toMatchObject({ status: 412, attempts: 1 });
    expect((stale as PartnerCenterError).fix).toMatch(/re-read/);
  });

  it('R3 Partner Center validation errors come back typed with code, message and target', async () => {
    const coSellWithoutSolution = {
      ...newReferral('opp-invalid'),
      inviteContext: { assistanceRequestCode: 'ProofOfConceptOrDemo' },
      consent: { consentToShareReferralWithMicrosoftSellers: true },
    };
    const error = (await referrals
      .create(coSellWithoutSolution)
      .catch((e: unknown) => e)) as PartnerCenterError;
    expect(error).toBeInstanceOf(PartnerCenterError);
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalidRequest');
    expect(error.providerMessage).toMatch(/Solution ID is required/);
    expect(error.api).toBe('referrals');
    expect(error.method).toBe('POST');
    expect(error.requestId).toBeTruthy();
    expect(error.correlationId).toBeTruthy();
  });

  it('R3 lists more than 250 referrals page by page over @odata.nextLink, lazily', async () => {
    for (let i = 0; i < 260; i++) {
      await control('POST', '/incoming-referrals', {
        name: `Incoming ${i}`,
        customerProfile: { name: `Customer ${i}`, address: { country: 'US' } },
      });
    }
    const incoming = eq('direction', 'Incoming');
    const pages: number[] = [];
    for await (const page of referrals.listPages({ filter: incoming })) pages.push(page.referrals.length);
    expect(pages.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(260);
    expect(pages.length).toBeGreaterThanOrEqual(3);

    const ids = new Set<string>();
    for await (const referral of referrals.list({
      filter: incoming,
      orderBy: [{ field: 'createdDateTime', direction: 'desc' }],
    })) {
      expect(referral.direction).toBe('Incoming');
      ids.add(referral.id!);
    }
    expect(ids.size).toBe(pages.reduce((a, b) => a + b, 0));

    // Streaming: stopping after the first item means exactly one page was requested.
    const before = await callCount('GET /v1.0/engagements/referrals');
    for await (const _ of referrals.list({ filter: incoming })) break;
    expect((await callCount('GET /v1.0/engagements/referrals')) - before).toBe(1);
  });

  it('R3 filters with escaped values and lambda any over the team', async () => {
    await referrals.create(newReferral('opp-filter-1', "Tricky ') or (1 eq 1 deal"));
    const found: Referral[] = [];
    const filter = and(
      eq('name', "Tricky ') or (1 eq 1 deal"),
      anyOf('team', 't', eq('t/email', 'sam@partner.example')),
    );
    for await (const r of referrals.list({ filter })) found.push(r);
    expect(found.map((r) => r.externalReferenceId)).toEqual(['opp-filter-1']);
  });

  it('R3 applyChange re-reads and recomputes after a 412 when the referral changed in between', async () => {
    const created = await referrals.create(newReferral('opp-412'));
    let computed = 0;
    const result = await referrals.applyChange(created.id!, async (current) => {
      computed++;
      if (computed === 1) {
        // A Microsoft seller edits the referral between our read and our PATCH.
        await control('PATCH', `/referrals/${created.id}`, { details: { notes: 'edited by Microsoft' } });
      }
      return [{ op: 'replace', path: '/details/notes', value: `${current.details?.notes} + partner note` }];
    });
    expect(computed).toBe(2);
    expect(result.changed).toBe(true);
    expect(result.attempts).toBe(2);
    expect(result.referral.details?.notes).toBe('edited by Microsoft + partner note');

    const nothing = await referrals.applyChange(created.id!, () => null);
    expect(nothing).toMatchObject({ changed: false, attempts: 1 });
  });

  it('R3 applyChange is bounded when the referral keeps changing', async () => {
    const created = await referrals.create(newReferral('opp-412-loop'));
    let edits = 0;
    const error = await referrals
      .applyChange(
        created.id!,
        async () => {
          await control('PATCH', `/referrals/${created.id}`, { details: { notes: `edit ${++edits}` } });
          return [{ op: 'replace', path: '/details/dealValue', value: 1 }];
        },
        { maxAttempts: 2 },
      )
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 412, attempts: 2 });
    expect(edits).toBe(2);
  });

  it('R3 finds a recently created Outgoing referral by externalReferenceId (idempotent create) and lists related', async () => {
    const since = new Date(Date.now() - 1_000);
    const created = await referrals.create(newReferral('opp-intent-42'));
    await referrals.create(newReferral('opp-intent-43'));
    const found = await referrals.findRecentOutgoingByExternalReferenceId('opp-intent-42', since);
    expect(found?.id).toBe(created.id);
    expect(await referrals.findRecentOutgoingByExternalReferenceId('opp-never-created', since)).toBeNull();
    expect(
      await referrals.findRecentOutgoingByExternalReferenceId('opp-intent-42', new Date(Date.now() + 60_000)),
    ).toBeNull();

    const related = await referrals.listRelated(created.engagementId!);
    expect(related.map((r) => r.id)).toContain(created.id);
    expect(related.every((r) => r.engagementId === created.engagementId)).toBe(true);
  });

  it('R27 waits out 429 + Retry-After and succeeds; bounded when it never clears', async () => {
    const created = await referrals.create(newReferral('opp-429'));
    const path = `/v1.0/engagements/referrals/${created.id}`;
    sleeps.length = 0;
    await control('POST', '/faults', { method: 'GET', path, status: 429, count: 2, retryAfter: 1 });
    const before = await callCount('GET /v1.0/engagements/referrals/{id}');
    const { referral } = await referrals.get(created.id!);
    expect(referral.id).toBe(created.id);
    expect(sleeps).toEqual([1_000, 1_000]);
    expect((await callCount('GET /v1.0/engagements/referrals/{id}')) - before).toBe(3);

    sleeps.length = 0;
    await control('POST', '/faults', {
      method: 'GET',
      path,
      status: 429,
      count: policy.maxAttempts,
      retryAfter: 1,
    });
    const error = (await referrals.get(created.id!).catch((e: unknown) => e)) as PartnerCenterError;
    expect(error).toBeInstanceOf(PartnerCenterError);
    expect(error).toMatchObject({ status: 429, attempts: policy.maxAttempts, retryAfterMs: 1_000 });
    expect(error.fix).toMatch(/budget/);
    expect(sleeps).toEqual([1_000, 1_000]);
  });

  it('R3 retries 503 with backoff and keeps one MS-RequestId', async () => {
    const created = await referrals.create(newReferral('opp-503'));
    sleeps.length = 0;
    await control('POST', '/faults', {
      method: 'GET',
      path: `/v1.0/engagements/referrals/${created.id}`,
      status: 503,
      count: 1,
    });
    expect((await referrals.get(created.id!)).referral.id).toBe(created.id);
    expect(sleeps).toHaveLength(1);
  });

  it('R1 webhook events, register, unchanged, updated, drift without --force, overwrite with --force', async () => {
    const events = await webhooks.listEvents();
    for (const event of DEFAULT_WEBHOOK_EVENTS) expect(events).toContain(event);

    expect(await webhooks.getRegistration()).toBeNull();
    const created = await webhooks.register({ url: receiverUrl });
    expect(created.action).toBe('created');
    expect(created.registration.webhookUrl).toBe(receiverUrl);
    expect(new Set(created.registration.webhookEvents)).toEqual(new Set(DEFAULT_WEBHOOK_EVENTS));

    expect((await webhooks.register({ url: receiverUrl })).action).toBe('unchanged');
    const fewer = await webhooks.register({ url: receiverUrl, events: REFERRAL_WEBHOOK_EVENTS });
    expect(fewer.action).toBe('updated');
    expect((await webhooks.getRegistration())?.webhookEvents).not.toContain('test-created');

    const staging = 'http://127.0.0.1:9/other-cosell-instance';
    const drift = await webhooks.register({ url: staging });
    expect(drift.action).toBe('drift');
    if (drift.action === 'drift') {
      expect(drift.message).toContain(receiverUrl);
      expect(drift.message).toContain('--force');
    }
    expect((await webhooks.getRegistration())?.webhookUrl).toBe(receiverUrl);

    const overwritten = await webhooks.register({ url: staging, force: true });
    expect(overwritten).toMatchObject({ action: 'overwritten', previous: { webhookUrl: receiverUrl } });
    expect((await webhooks.getRegistration())?.webhookUrl).toBe(staging);
    expect((await webhooks.checkRegistration(receiverUrl)).state).toBe('drift');
  });

  it('R1 the validation event is refused without test-created, then delivered and its result read', async () => {
    await webhooks.register({ url: receiverUrl, events: REFERRAL_WEBHOOK_EVENTS, force: true });
    const refused = (await webhooks.sendValidationEvent().catch((e: unknown) => e)) as PartnerCenterError;
    expect(refused).toBeInstanceOf(PartnerCenterError);
    expect(refused.fix).toContain('test-created');

    expect((await webhooks.register({ url: receiverUrl })).action).toBe('updated');
    const correlationId = await webhooks.sendValidationEvent();
    expect(correlationId).toMatch(/[0-9a-f-]{36}/i);
    const result = await until(
      async () => {
        const r = await webhooks.getValidationResult(correlationId);
        return r.results && r.results.length > 0 ? r : null;
      },
      10_000,
      'validation event result',
    );
    expect(result.correlationId).toBe(correlationId);
    expect(result.results?.[0]?.responseCode).toMatch(/OK|200/);
    const delivered = await until(
      () => deliveries.find((d) => d.rawBody.toString().includes(correlationId)),
      10_000,
      'validation event delivery',
    );
    expect(JSON.parse(delivered.rawBody.toString())).toMatchObject({ EventName: 'test-created' });
  });

  it('R2 a delivered referral-created event verifies against the emulator CA; tampering does not', async () => {
    await webhooks.register({ url: receiverUrl });
    const referral = (await control('POST', '/incoming-referrals', {
      name: 'Signed event deal',
      customerProfile: { name: 'Fabrikam', address: { country: 'DE' } },
    })) as { id: string };
    const delivery = await until(
      () =>
        deliveries.find((d) => {
          const body = JSON.parse(d.rawBody.toString()) as { EventName?: string; ResourceUri?: string };
          return body.EventName === 'referral-created' && body.ResourceUri?.endsWith(referral.id);
        }),
      10_000,
      'referral-created delivery',
    );
    const certificateUrl = new URL(String(delivery.headers['x-ms-certificate-url']));
    const certificateHost = certificateUrl.host;
    const options = {
      allowedCertificateHosts: [certificateHost],
      trustAnchorsPem: [emulator.caCertificatePem],
      cache: createCertificateCache(),
    };
    expect(certificateUrl.hostname).toBe('127.0.0.1');
    const verified = await verifyWebhookSignature(delivery, options);
    expect(verified).toMatchObject({ ok: true });

    const tampered = Buffer.from(delivery.rawBody.toString().replace('referral-created', 'referral-updated'));
    expect(await verifyWebhookSignature({ ...delivery, rawBody: tampered }, options)).toMatchObject({
      ok: false,
      code: 'bad-signature',
    });
    expect(
      await verifyWebhookSignature(delivery, {
        ...options,
        trustAnchorsPem: [],
        fetchCertificate: undefined,
      }),
    ).toMatchObject({ ok: false });
  });

  it('R28 403 for a user without the Referrals Admin role names the role', async () => {
    // The signed-in user loses the role in Partner Center (what a removed assignment looks like).
    await control('POST', '/users', { username: info.username, password: info.password, roles: [] });
    try {
      const error = (await referrals
        .list()
        .next()
        .catch((e: unknown) => e)) as PartnerCenterError;
      expect(error).toBeInstanceOf(PartnerCenterError);
      expect(error.status).toBe(403);
      expect(error.code).toBe('accessDenied');
      expect(error.fix).toContain('Referrals Admin');
    } finally {
      await control('POST', '/users', {
        username: info.username,
        password: info.password,
        roles: ['ReferralsAdmin'],
      });
    }
    await referrals.list().next();
  });

  it('R3 R28 after the credentials are revoked the error says to run cosell login; login again recovers', async () => {
    await control('POST', '/tokens/revoke');
    const error = (await referrals
      .list()
      .next()
      .catch((e: unknown) => e)) as PartnerCenterError;
    expect(error).toBeInstanceOf(PartnerCenterError);
    expect(error.status).toBe(401);
    expect(error.fix).toBe(
      'Partner Center refused the credentials (expired or revoked): run `cosell login` again as a Referrals Admin user.',
    );
    expect(error.message).not.toMatch(/eyJ/); // no JWT in the message

    await tokens.login({ onDeviceCode: () => {} });
    expect(await webhooks.getRegistration()).not.toBeNull();
    expect((await referrals.list().next()).done).toBe(false);
  });
});
