// The control API: acting as Microsoft, faults, call counters, reset — and the events each change fires.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { coSellReferral, privateReferral, startTestEmulator, type TestEmulator } from './test-support.ts';

// biome-ignore lint/suspicious/noExplicitAny: assertions read response bodies by deep paths; the schemas are checked elsewhere.
type Json = Record<string, any>;

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => {
  await emu.close();
});
beforeEach(async () => {
  await emu.control('/reset', { method: 'POST' });
  emu.forgetTokens();
});

/** Event names the hub logged for a referral, in order. */
async function eventsFor(referralId: string): Promise<string[]> {
  const log = await emu.control<{ deliveries: Json[] }>(`/webhooks/deliveries?referralId=${referralId}`);
  return log.body.deliveries.map((d) => d.eventName);
}

async function create(body: Json): Promise<Json> {
  const answer = await emu.api<Json>('/referrals', { method: 'POST', body });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body;
}

describe('acting as Microsoft', () => {
  it('R7 a co-sell referral opens the Microsoft side in the same engagement; accepting it fills microsoftMsxId', async () => {
    const partner = await create(coSellReferral());
    const engagement = (await emu.control<{ value: Json[] }>('/referrals')).body.value.filter(
      (r) => r.engagementId === partner.engagementId,
    );
    expect(engagement).toHaveLength(2);
    const microsoft = engagement.find((r) => r.id !== partner.id)!;
    expect(microsoft).toMatchObject({
      status: 'New',
      substatus: 'Pending',
      target: [{ type: 'BusinessProfileLocation', id: 'msft' }],
    });
    expect(microsoft.trackingInfo.microsoftMsxId).toBeNull();
    expect(await eventsFor(partner.id)).toEqual(['referral-created']);
    expect(await eventsFor(microsoft.id)).toEqual(['related-referral-created']);

    const accepted = await emu.control<Json>(`/referrals/${microsoft.id}/accept`, { method: 'POST' });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ status: 'Active', substatus: 'Accepted' });
    expect(accepted.body.trackingInfo.microsoftMsxId).toMatch(/^7-[0-9A-Z]{10}$/);
    expect(await eventsFor(microsoft.id)).toEqual(['related-referral-created', 'related-referral-updated']);

    // The partner sees it through the Referrals API, and cannot decide on Microsoft's behalf.
    const read = await emu.api<Json>(`/referrals/${microsoft.id}`);
    expect(read.body.trackingInfo.microsoftMsxId).toBe(accepted.body.trackingInfo.microsoftMsxId);
    const meddle = await emu.api<Json>(`/referrals/${microsoft.id}`, {
      method: 'PATCH',
      body: [
        { op: 'replace', path: '/status', value: 'Closed' },
        { op: 'replace', path: '/substatus', value: 'Won' },
      ],
    });
    expect(meddle.status).toBe(400);
  });

  it('R11 the classic shared-engagement flow: a partner POSTs the Microsoft-targeted referral itself', async () => {
    const closed = await create(privateReferral());
    const uninvited = await emu.api<Json>('/referrals', {
      method: 'POST',
      body: privateReferral({
        type: 'Shared',
        engagementId: closed.engagementId,
        target: [{ type: 'BusinessProfileLocation', id: 'msft' }],
      }),
    });
    expect(uninvited.status).toBe(400);
    expect(uninvited.body.error.target).toBe('consent');
    const own = await create(
      privateReferral({ type: 'Shared', consent: { consentToShareReferralWithMicrosoftSellers: true } }),
    );
    const second = await create(
      privateReferral({
        type: 'Shared',
        engagementId: own.engagementId,
        target: [{ type: 'BusinessProfileLocation', id: 'msft' }],
      }),
    );
    expect(second).toMatchObject({ engagementId: own.engagementId, status: 'New', substatus: 'Pending' });
    expect(await eventsFor(second.id)).toEqual(['related-referral-created']);
    const duplicate = await emu.api<Json>('/referrals', {
      method: 'POST',
      body: privateReferral({
        type: 'Shared',
        engagementId: own.engagementId,
        target: [{ type: 'BusinessProfileLocation', id: 'msft' }],
      }),
    });
    expect(duplicate.status).toBe(400);
    const unknown = await emu.api<Json>('/referrals', {
      method: 'POST',
      body: privateReferral({ engagementId: '00000000-0000-0000-0000-00000000abcd' }),
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.target).toBe('engagementId');
  });

  it('R8 R30 an incoming referral arrives New/Pending from msft, expiring 14 days after creation, and fires referral-created', async () => {
    const sent = await emu.control<Json>('/incoming-referrals', {
      method: 'POST',
      body: {
        name: 'Woodgrove expansion',
        customerProfile: { name: 'Woodgrove Bank' },
        details: { dealValue: 90000 },
      },
    });
    expect(sent.status).toBe(201);
    const referral = sent.body;
    expect(referral).toMatchObject({
      name: 'Woodgrove expansion',
      direction: 'Incoming',
      status: 'New',
      substatus: 'Pending',
      inviteContext: { invitedBy: { organizationId: 'msft' } },
      customerProfile: { name: 'Woodgrove Bank', address: { country: 'US' } },
      details: { dealValue: 90000, currency: 'USD' },
    });
    expect(Date.parse(referral.expirationDateTime) - Date.parse(referral.createdDateTime)).toBe(
      14 * 86_400_000,
    );
    expect(referral.expirationDateTime).toMatch(/\.\d{7}Z$/);
    expect(await eventsFor(referral.id)).toEqual(['referral-created']);

    const read = await emu.api<Json>(`/referrals?$filter=${encodeURIComponent("direction eq 'Incoming'")}`);
    expect(read.body.value.map((r: Json) => r.id)).toEqual([referral.id]);
  });

  it('R30 expiry is a system move to Closed/Expired, after which the partner can no longer accept', async () => {
    const sent = await emu.control<Json>('/incoming-referrals', { method: 'POST', body: {} });
    const expired = await emu.control<Json>(`/referrals/${sent.body.id}/expire`, { method: 'POST' });
    expect(expired.body).toMatchObject({ status: 'Closed', substatus: 'Expired' });
    expect(await eventsFor(sent.body.id)).toEqual(['referral-created', 'referral-updated']);
    const accept = await emu.api<Json>(`/referrals/${sent.body.id}`, {
      method: 'PATCH',
      body: [
        { op: 'replace', path: '/status', value: 'Active' },
        { op: 'replace', path: '/substatus', value: 'Accepted' },
      ],
    });
    expect(accept.status).toBe(400);
  });

  it('a Microsoft edit merges fields, checks the transition table and fires referral-updated', async () => {
    const sent = await emu.control<Json>('/incoming-referrals', { method: 'POST', body: {} });
    const edited = await emu.control<Json>(`/referrals/${sent.body.id}`, {
      method: 'PATCH',
      body: { details: { notes: 'Updated by Microsoft' } },
    });
    expect(edited.status).toBe(200);
    expect(edited.body.details).toMatchObject({ notes: 'Updated by Microsoft', currency: 'USD' });
    expect(edited.body.eTag).not.toBe(sent.body.eTag);
    const declined = await emu.control<Json>(`/referrals/${sent.body.id}/decline`, {
      method: 'POST',
      body: { statusReason: 'Customer chose another partner' },
    });
    expect(declined.body).toMatchObject({
      status: 'Closed',
      substatus: 'Declined',
      statusReason: 'Customer chose another partner',
    });
    const reopen = await emu.control<Json>(`/referrals/${sent.body.id}`, {
      method: 'PATCH',
      body: { status: 'Active' },
    });
    expect(reopen.status).toBe(400);
    expect(await eventsFor(sent.body.id)).toEqual([
      'referral-created',
      'referral-updated',
      'referral-updated',
    ]);
  });
});

describe('faults and counters', () => {
  it('R27 a 429 fault answers Retry-After and the throttling body for the next N matching calls only', async () => {
    const added = await emu.control<Json>('/faults', {
      method: 'POST',
      body: { method: 'GET', path: '/v1.0/engagements/referrals', status: 429, count: 2, retryAfter: 7 },
    });
    expect(added.status).toBe(201);
    for (let i = 0; i < 2; i++) {
      const throttled = await emu.api<Json>('/referrals');
      expect(throttled.status).toBe(429);
      expect(throttled.headers.get('retry-after')).toBe('7');
      expect(throttled.body).toEqual({
        statusCode: 429,
        message: 'Rate limit is exceeded. Try again in 7 seconds.',
      });
      expect(throttled.headers.get('ms-correlationid')).toBeTruthy();
    }
    expect((await emu.api('/referrals')).status).toBe(200);
    expect((await emu.control<Json[]>('/faults')).body).toEqual([]);
  });

  it('a 500 fault answers the Partner Center error body; faults match method and path prefix; DELETE clears them', async () => {
    await emu.control('/faults', { method: 'POST', body: { method: 'POST', status: 500, count: 1 } });
    expect((await emu.api('/referrals')).status).toBe(200);
    const failed = await emu.api<Json>('/referrals', { method: 'POST', body: privateReferral() });
    expect(failed.status).toBe(500);
    expect(failed.body.error.code).toBe('generalException');
    expect((await emu.control<Json>('/referrals')).body.count).toBe(0);

    await emu.control('/faults', { method: 'POST', body: { status: 503, count: 5 } });
    expect((await emu.control<Json[]>('/faults')).body[0]).toMatchObject({ status: 503, remaining: 5 });
    await emu.control('/faults', { method: 'DELETE' });
    expect((await emu.api('/referrals')).status).toBe(200);
  });

  it('a reset fault closes the connection without an answer, count times', async () => {
    await emu.control('/faults', { method: 'POST', body: { method: 'GET', reset: true, count: 1 } });
    await expect(emu.api('/referrals')).rejects.toThrow();
    expect((await emu.api('/referrals')).status).toBe(200);
    const refused = await emu.control<Json>('/faults', { method: 'POST', body: { count: 1 } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toBe('A fault needs a status, a delayMs, reset or a microsoftEdit.');
  });

  it('R3 a microsoftEdit fault lands a Microsoft edit between a read and a write: the write gets a genuine 412', async () => {
    const created = await create(privateReferral());
    await emu.control('/faults', {
      method: 'POST',
      body: {
        method: 'PATCH',
        path: '/v1.0/engagements/referrals',
        microsoftEdit: { details: { notes: 'Microsoft: edited meanwhile' } },
        count: 1,
      },
    });
    const write = (eTag: string) =>
      emu.api<Json>(`/referrals/${created.id}`, {
        method: 'PATCH',
        body: [{ op: 'replace', path: '/details/dealValue', value: 9_000 }],
        headers: { 'If-Match': eTag },
      });
    const raced = await write(created.eTag);
    expect(raced.status).toBe(412);
    expect(raced.body.error.code).toBe('preconditionFailed');
    const reread = (await emu.api<Json>(`/referrals/${created.id}`)).body;
    expect(reread.details.notes).toBe('Microsoft: edited meanwhile');
    expect(reread.eTag).not.toBe(created.eTag);
    expect(await eventsFor(created.id)).toContain('referral-updated');
    expect((await write(reread.eTag)).status).toBe(204);
    expect((await emu.control<Json[]>('/faults')).body).toEqual([]);
  });

  it('a delay fault holds the answer for delayMs', async () => {
    await emu.control('/faults', {
      method: 'POST',
      body: { path: '/v1.0/engagements/referrals', delayMs: 150, count: 1 },
    });
    const started = performance.now();
    expect((await emu.api('/referrals')).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('R25 counts API calls per route pattern, token calls under their own key; DELETE zeroes them', async () => {
    const created = await create(privateReferral());
    await emu.api(`/referrals/${created.id}`);
    await emu.api(`/referrals/${created.id}`);
    await emu.api('/referrals');
    await emu.control('/referrals');
    const calls = (await emu.control<Record<string, number>>('/calls')).body;
    expect(calls).toEqual({
      'POST /{tenant}/oauth2/v2.0/token': 1,
      'POST /v1.0/engagements/referrals': 1,
      'GET /v1.0/engagements/referrals/{id}': 2,
      'GET /v1.0/engagements/referrals': 1,
    });
    await emu.control('/calls', { method: 'DELETE' });
    expect((await emu.control('/calls')).body).toEqual({});
  });
});

describe('counters', () => {
  it('R25 GET /counters: the shape every emulator shares, reads and writes apart, token calls apart, no log', async () => {
    await emu.control('/counters', { method: 'DELETE' });
    const created = await create(privateReferral());
    await emu.api(`/referrals/${created.id}`);
    await emu.api('/referrals');
    const counters = (await emu.control<Json>('/counters')).body;
    expect(counters).toMatchObject({
      api: 'partner-center',
      requests: 3,
      reads: 2,
      writes: 1,
      endpoints: {
        'POST /v1.0/engagements/referrals': { kind: 'write', direct: 1, batched: 0, records: 1 },
        'GET /v1.0/engagements/referrals/{id}': { kind: 'read', direct: 1, batched: 0, records: 1 },
      },
    });
    expect(counters['tokens']).toBeGreaterThanOrEqual(1);
    expect(counters).not.toHaveProperty('recent');
    await emu.control('/counters', { method: 'DELETE' });
    expect((await emu.control<Json>('/counters')).body).toMatchObject({
      requests: 0,
      tokens: 0,
      endpoints: {},
    });
  });
});

describe('reset and seed', () => {
  it('reset brings back the start state: no referrals, tokens, faults or counters', async () => {
    const token = await emu.userToken();
    await create(privateReferral());
    await emu.control('/faults', { method: 'POST', body: { status: 500, count: 3 } });
    const reset = await emu.control<Json>('/reset', { method: 'POST' });
    expect(reset.body).toEqual({ reset: true, referrals: 0 });
    expect((await emu.control<Json>('/referrals')).body.count).toBe(0);
    expect((await emu.control('/faults')).body).toEqual([]);
    expect((await emu.control('/calls')).body).toEqual({});
    expect((await emu.api('/referrals', { token })).status).toBe(401);
  });

  it('seed puts referrals in as given, filling server fields, without events', async () => {
    const seeded = await emu.control<Json>('/seed', {
      method: 'POST',
      body: {
        referrals: [
          privateReferral({ id: 'seed-1', status: 'Closed', substatus: 'Won' }),
          { ...privateReferral(), direction: 'Incoming' },
        ],
      },
    });
    expect(seeded.body.seeded).toBe(2);
    const won = await emu.api<Json>('/referrals/seed-1');
    expect(won.body).toMatchObject({ status: 'Closed', substatus: 'Won', direction: 'Outgoing' });
    expect(won.body.eTag).toMatch(/^".+"$/);
    const incoming = await emu.api<Json>(`/referrals/${seeded.body.ids[1]}`);
    expect(incoming.body).toMatchObject({ status: 'New', substatus: 'Pending' });
    expect(incoming.body.expirationDateTime).toBeTruthy();
    expect(await eventsFor('seed-1')).toEqual([]);
    const bad = await emu.control<Json>('/seed', {
      method: 'POST',
      body: { referrals: [{ status: 'Sideways' }] },
    });
    expect(bad.status).toBe(400);
  });
});
