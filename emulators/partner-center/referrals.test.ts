// The Referrals API semantics of the emulator (reference §2–§3), over real HTTP.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { referralPageSchema, referralSchema } from '../../src/core/referral.ts';
import { coSellReferral, privateReferral, startTestEmulator, type TestEmulator } from './test-support.ts';

// biome-ignore lint/suspicious/noExplicitAny: assertions read response bodies by deep paths; the schemas are checked elsewhere.
type Json = Record<string, any>;

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator({ pageSize: 100 });
});
afterAll(async () => {
  await emu.close();
});
beforeEach(async () => {
  await emu.control('/reset', { method: 'POST' });
  emu.forgetTokens();
});

const PC_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$/;

async function create(body: Json): Promise<Json> {
  const answer = await emu.api<Json>('/referrals', { method: 'POST', body });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body;
}

async function patch(id: string, ops: Json[], headers: Record<string, string> = {}) {
  return emu.api<Json>(`/referrals/${id}`, { method: 'PATCH', body: ops, headers });
}

describe('create and read', () => {
  it('R3 POST /referrals returns the populated referral with server-set fields, ETag header and links', async () => {
    const created = await create(privateReferral({ externalReferenceId: 'opp-42' }));
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.engagementId).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.organizationId).toBe('4f1c2b7e-9a53-4c8d-b6e1-0d2f3a4b5c6d');
    expect(created.createdDateTime).toMatch(PC_TIME);
    expect(created.updatedDateTime).toBe(created.createdDateTime);
    expect(created).toMatchObject({
      direction: 'Outgoing',
      status: 'Active',
      substatus: 'Accepted',
      externalReferenceId: 'opp-42',
    });
    expect(created.acceptedDateTime).toBe(created.createdDateTime);
    expect(created.eTag).toMatch(/^"[0-9a-f]{8}-0000-0000-0000-[0-9a-f]{12}"$/);
    expect(created.links.self).toEqual({
      uri: `${emu.pc.info.referrals}/referrals/${created.id}`,
      method: 'GET',
    });
    expect(created.links.relatedReferrals.uri).toBe(
      `${emu.pc.info.referrals}/referrals?$filter=engagementId eq '${created.engagementId}'`,
    );
    expect(referralSchema.safeParse(created).success).toBe(true);

    const read = await emu.api<Json>(`/referrals/${created.id}`);
    expect(read.status).toBe(200);
    expect(read.headers.get('etag')).toBe(created.eTag);
    expect(read.body['@odata.context']).toBe(`${emu.pc.info.referrals}/$metadata#Referrals/$entity`);
    expect(read.body.details).toEqual({ dealValue: 1000, currency: 'GBP' });
  });

  it('R3 accepts PascalCase keys and a string dealValue on create; ignores client-sent server fields', async () => {
    const created = await create({
      Name: 'Pascal deal',
      Type: 'Independent',
      Id: 'client-chosen',
      Direction: 'Incoming',
      CustomerProfile: { Name: 'Litware', Address: { Country: 'DE' } },
      Consent: { ConsentToContact: true },
      Details: { DealValue: '12500.50', Currency: 'EUR' },
    });
    expect(created.id).not.toBe('client-chosen');
    expect(created.direction).toBe('Outgoing');
    expect(created.customerProfile.name).toBe('Litware');
    expect(created.details.dealValue).toBe(12500.5);
  });

  it('R3 create without required fields is refused with 400 invalidRequest naming the field', async () => {
    const answer = await emu.api<Json>('/referrals', {
      method: 'POST',
      body: { name: 'x', type: 'Independent', consent: {}, details: {} },
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      error: {
        code: 'invalidRequest',
        message: expect.stringContaining("'customerProfile' is required"),
        target: 'customerProfile',
      },
    });
  });

  it('GET of an unknown id is 404 itemNotFound; DELETE is 405', async () => {
    const missing = await emu.api<Json>('/referrals/3f0b2c1e-0000-0000-0000-000000000000');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('itemNotFound');
    const created = await create(privateReferral());
    const deleted = await emu.api<Json>(`/referrals/${created.id}`, { method: 'DELETE' });
    expect(deleted.status).toBe(405);
    expect(deleted.body.error.message).toContain('cannot be deleted');
    expect((await emu.api(`/referrals/${created.id}`)).status).toBe(200);
  });

  it('malformed JSON -> 400 invalidRequest; a body over 1 MB -> 413', async () => {
    const bad = await emu.api<Json>('/referrals', { method: 'POST', body: '{"name": ' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalidRequest');
    const huge = await emu.api<Json>('/referrals', {
      method: 'POST',
      body: privateReferral({ name: 'x'.repeat(1_100_000) }),
    });
    expect(huge.status).toBe(413);
    expect(huge.body.error.message).toContain('1 MB');
  });

  it('echoes MS-CorrelationId and MS-RequestId and adds Request-ID; ignores X-Caller-Id', async () => {
    const answer = await emu.api('/referrals', {
      headers: {
        'MS-CorrelationId': 'corr-1',
        'MS-RequestId': 'req-1',
        'X-Caller-Id': '60858c1b-2062-40ad-b42c-996b6b5b047d',
      },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('ms-correlationid')).toBe('corr-1');
    expect(answer.headers.get('ms-requestid')).toBe('req-1');
    expect(answer.headers.get('request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const fresh = await emu.api('/referrals');
    expect(fresh.headers.get('ms-correlationid')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('list', () => {
  it('R3 pages over 260 referrals with an absolute nextLink carrying an opaque $skiptoken, each referral once', async () => {
    const referrals = Array.from({ length: 260 }, (_, i) => ({
      ...privateReferral({ name: `Seeded ${i}` }),
      createdDateTime: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
    }));
    await emu.control('/seed', { method: 'POST', body: { referrals } });
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let url: string | undefined = `${emu.pc.info.referrals}/referrals?$orderby=createdDateTime desc`;
    while (url) {
      const page: { status: number; body: Json } = await emu.api<Json>(url);
      expect(page.status).toBe(200);
      expect(referralPageSchema.safeParse(page.body).success).toBe(true);
      expect(page.body['@odata.context']).toBe(`${emu.pc.info.referrals}/$metadata#Referrals`);
      expect(page.body['@odata.count']).toBe(page.body.value.length);
      pageSizes.push(page.body.value.length);
      // Seeded as `...T00:00:00.000Z`, served as Partner Center writes times.
      expect(page.body.value[0].createdDateTime).toMatch(PC_TIME);
      seen.push(...page.body.value.map((r: Json) => r.name));
      url = page.body['@odata.nextLink'];
      if (url)
        expect(url).toMatch(new RegExp(`^${emu.pc.info.referrals}/referrals\\?\\$skiptoken=[A-Za-z0-9_-]+$`));
      // A referral created mid-listing must not shift the remaining pages.
      if (pageSizes.length === 1) await create(privateReferral({ name: 'Created while paging' }));
    }
    expect(pageSizes).toEqual([100, 100, 60]);
    expect(seen.slice(0, 2)).toEqual(['Seeded 259', 'Seeded 258']);
    expect(new Set(seen).size).toBe(260);
  });

  it('R26 paging by updatedDateTime while referrals change: nothing is skipped, a changed one comes again at the end', async () => {
    const referrals = Array.from({ length: 150 }, (_, i) => ({
      ...privateReferral({ id: `r-${String(i).padStart(3, '0')}` }),
      createdDateTime: '2026-01-01T00:00:00Z',
      updatedDateTime: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
    }));
    await emu.control('/seed', { method: 'POST', body: { referrals } });
    const first = await emu.api<Json>('/referrals?$orderby=updatedDateTime asc');
    expect(first.body.value).toHaveLength(100);
    // One already served and one not yet served change between pages.
    await patch('r-010', [{ op: 'replace', path: '/details/notes', value: 'changed after page 1' }]);
    await patch('r-110', [{ op: 'replace', path: '/details/notes', value: 'changed before page 2' }]);
    const second = await emu.api<Json>(first.body['@odata.nextLink']);
    const unchanged = Array.from({ length: 50 }, (_, i) => `r-${100 + i}`).filter((id) => id !== 'r-110');
    expect(second.body.value.map((r: Json) => r.id)).toEqual([...unchanged, 'r-010', 'r-110']);
    expect(second.body['@odata.nextLink']).toBeUndefined();
    const skipped = await emu.api<Json>('/referrals?$orderby=updatedDateTime asc&$skip=148&$top=1');
    expect(skipped.body.value.map((r: Json) => r.id)).toEqual(['r-010']);
  });

  it('R3 $filter (nested paths, lambda, and/or) and $top; bad $filter -> 400 invalidRequest', async () => {
    await create(privateReferral({ name: 'In GB' }));
    await create(coSellReferral({ name: 'In US co-sell' }));
    const byCountry = await emu.api<Json>(
      `/referrals?$filter=${encodeURIComponent("customerProfile/address/country eq 'GB'")}`,
    );
    expect(byCountry.body.value.map((r: Json) => r.name)).toEqual(['In GB']);
    const byTeam = await emu.api<Json>(
      `/referrals?$filter=${encodeURIComponent("team/any(t:t/email eq 'sam@contoso-partner.example') and direction eq 'Outgoing'")}`,
    );
    expect(byTeam.body.value.map((r: Json) => r.name)).toEqual(['In US co-sell']);
    const top = await emu.api<Json>('/referrals?$top=1&$orderby=createdDateTime desc');
    expect(top.body.value).toHaveLength(1);
    expect(top.body['@odata.nextLink']).toBeUndefined();
    const bad = await emu.api<Json>(`/referrals?$filter=${encodeURIComponent('status eq')}`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalidRequest', target: '$filter' });
  });

  it('R7 links.relatedReferrals lists the engagement (partner and Microsoft side)', async () => {
    const created = await create(coSellReferral());
    const related = await emu.api<Json>(created.links.relatedReferrals.uri);
    expect(related.status).toBe(200);
    expect(related.body.value).toHaveLength(2);
    expect(related.body.value.every((r: Json) => r.engagementId === created.engagementId)).toBe(true);
  });
});

describe('PATCH', () => {
  it('R3 replace/add on allowed paths: 204 by default, 200 + body with Prefer: return=representation; eTag and updatedDateTime change', async () => {
    const created = await create(privateReferral());
    const quiet = await patch(created.id, [{ op: 'replace', path: '/details/dealValue', value: '10000' }]);
    expect(quiet.status).toBe(204);
    expect(quiet.headers.get('etag')).not.toBe(created.eTag);
    const loud = await patch(
      created.id,
      [
        { op: 'add', path: '/team/-', value: { firstName: 'Kim', email: 'kim@contoso-partner.example' } },
        { op: 'replace', path: '/details/notes', value: 'Call next week' },
      ],
      { Prefer: 'return=representation' },
    );
    expect(loud.status).toBe(200);
    expect(loud.body.details).toMatchObject({ dealValue: 10000, notes: 'Call next week' });
    expect(loud.body.team).toEqual([{ firstName: 'Kim', email: 'kim@contoso-partner.example' }]);
    expect(loud.body.updatedDateTime > created.updatedDateTime).toBe(true);
    expect(loud.body.eTag).toBe(loud.headers.get('etag'));
    expect(loud.body.eTag).not.toBe(quiet.headers.get('etag'));
  });

  it('R3 If-Match: the current eTag is accepted, a stale one gets 412 preconditionFailed', async () => {
    const created = await create(privateReferral());
    const first = await patch(created.id, [{ op: 'replace', path: '/details/notes', value: 'one' }], {
      'If-Match': created.eTag,
    });
    expect(first.status).toBe(204);
    const stale = await patch(created.id, [{ op: 'replace', path: '/details/notes', value: 'two' }], {
      'If-Match': created.eTag,
    });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('preconditionFailed');
    const current = await emu.api<Json>(`/referrals/${created.id}`);
    expect(current.body.details.notes).toBe('one');
  });

  it('R11 disallowed paths and ops are refused: create-only name/customer/inviteContext, remove op', async () => {
    const created = await create(privateReferral());
    for (const op of [
      { op: 'replace', path: '/name', value: 'Renamed' },
      { op: 'replace', path: '/customerProfile/address/city', value: 'Leeds' },
      { op: 'add', path: '/inviteContext/assistanceRequestCode', value: 'GeneralOrOther' },
      { op: 'remove', path: '/details/notes' },
    ]) {
      const answer = await patch(created.id, [op]);
      expect(answer.status, op.path).toBe(400);
      expect(answer.body.error.code).toBe('invalidRequest');
    }
    const name = await patch(created.id, [{ op: 'replace', path: '/name', value: 'Renamed' }]);
    expect(name.body.error.message).toContain('create-only');
    expect((await emu.api<Json>(`/referrals/${created.id}`)).body.name).toBe('Private deal');
  });

  it('R8 illegal status transitions are refused with the reason; New -> Active/Accepted -> Closed/Won is allowed', async () => {
    const incoming = await emu.control<Json>('/incoming-referrals', { method: 'POST', body: {} });
    const id = incoming.body.id;
    const illegal = await patch(id, [{ op: 'replace', path: '/status', value: 'Closed' }]);
    expect(illegal.status).toBe(400);
    expect(illegal.body.error).toMatchObject({ code: 'invalidRequest', target: 'status' });
    expect(illegal.body.error.message).toContain("Substatus 'Pending' is not valid with status 'Closed'");
    const expired = await patch(id, [
      { op: 'replace', path: '/status', value: 'Closed' },
      { op: 'replace', path: '/substatus', value: 'Expired' },
    ]);
    expect(expired.status).toBe(400);
    expect(expired.body.error.message).toContain('set by Partner Center only');
    const accepted = await patch(
      id,
      [
        { op: 'replace', path: '/status', value: 'Active' },
        { op: 'replace', path: '/substatus', value: 'Accepted' },
      ],
      { Prefer: 'return=representation' },
    );
    expect(accepted.status).toBe(200);
    expect(accepted.body.acceptedDateTime).toMatch(PC_TIME);
    const back = await patch(id, [
      { op: 'replace', path: '/status', value: 'New' },
      { op: 'replace', path: '/substatus', value: 'Pending' },
    ]);
    expect(back.status).toBe(400);
    expect(back.body.error.message).toContain("cannot move from status 'Active' to 'New'");
  });

  it('R9 a Microsoft-sent lead is qualified only with a deal value and a closing date', async () => {
    const lead = (
      await emu.control<Json>('/incoming-referrals', {
        method: 'POST',
        body: {
          type: 'Independent',
          qualification: 'SalesQualified',
          details: { dealValue: null, closingDateTime: null },
        },
      })
    ).body;
    const qualify = [
      { op: 'replace', path: '/status', value: 'Active' },
      { op: 'replace', path: '/substatus', value: 'Accepted' },
    ];
    const refused = await patch(String(lead.id), qualify);
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toContain('Deal value is required to qualify a lead.');
    expect(refused.body.error.message).toContain('Closing date is required to qualify a lead.');
    const accepted = await patch(String(lead.id), [
      { op: 'replace', path: '/details/dealValue', value: 25_000 },
      { op: 'replace', path: '/details/closingDateTime', value: '2027-03-31T00:00:00Z' },
      ...qualify,
    ]);
    expect(accepted.status).toBe(204);
  });

  it('R17 closed referrals are immutable', async () => {
    const created = await create(privateReferral());
    const won = await patch(
      created.id,
      [
        { op: 'replace', path: '/status', value: 'Closed' },
        { op: 'replace', path: '/substatus', value: 'Won' },
      ],
      { Prefer: 'return=representation' },
    );
    expect(won.status).toBe(200);
    expect(won.body.closedDateTime).toMatch(PC_TIME);
    const edit = await patch(created.id, [{ op: 'replace', path: '/details/dealValue', value: 5 }]);
    expect(edit.status).toBe(400);
    expect(edit.body.error.message).toContain('closed (Closed/Won) and accepts no further changes');
    const reopen = await patch(created.id, [
      { op: 'replace', path: '/status', value: 'Active' },
      { op: 'replace', path: '/substatus', value: 'Accepted' },
    ]);
    expect(reopen.status).toBe(400);
  });

  it('R14 visibility never reverts: consentToShareReferralWithMicrosoftSellers true -> false is refused', async () => {
    const created = await create(privateReferral());
    expect(
      (
        await patch(created.id, [
          { op: 'replace', path: '/consent/consentToShareReferralWithMicrosoftSellers', value: true },
        ])
      ).status,
    ).toBe(204);
    const revert = await patch(created.id, [
      { op: 'replace', path: '/consent/consentToShareReferralWithMicrosoftSellers', value: false },
    ]);
    expect(revert.status).toBe(400);
    expect(revert.body.error).toMatchObject({
      code: 'invalidRequest',
      target: 'consent.consentToShareReferralWithMicrosoftSellers',
    });
    expect(revert.body.error.message).toContain('cannot be made private again');
  });

  it('R12 a co-sell referral cannot lose its last solution or contact', async () => {
    const created = await create(coSellReferral());
    const noSolution = await patch(created.id, [
      { op: 'replace', path: '/details/requirements/solutions', value: [] },
    ]);
    expect(noSolution.status).toBe(400);
    expect(noSolution.body.error.message).toContain('Solution ID is required');
  });

  it('deal registration is accepted on a Won referral only', async () => {
    const created = await create(privateReferral());
    const registration = {
      type: 'AzureIPCoSell',
      contract: { currency: 'USD', value: 1000, term: 'Perpetual' },
    };
    const early = await patch(created.id, [{ op: 'add', path: '/registrations/-', value: registration }]);
    expect(early.status).toBe(400);
    await patch(created.id, [
      { op: 'replace', path: '/status', value: 'Closed' },
      { op: 'replace', path: '/substatus', value: 'Won' },
    ]);
    // The connector Swagger's path for this operation has a trailing slash.
    const registered = await emu.api<Json>(`/referrals/${created.id}/`, {
      method: 'PATCH',
      body: [{ op: 'add', path: '/registrations/-', value: registration }],
      headers: { Prefer: 'return=representation' },
    });
    expect(registered.status).toBe(200);
    expect(registered.body.registrations[0]).toMatchObject({
      type: 'AzureIPCoSell',
      status: 'ReviewPending',
    });
  });
});

describe('co-sell create rules', () => {
  it.each([
    [
      'R12 without a solution',
      { details: { dealValue: 1, currency: 'USD', requirements: { solutions: [] } } },
      'Solution ID is required',
      'details.requirements.solutions',
    ],
    [
      'R12 without a customer contact',
      { customerProfile: { name: 'Contoso', address: { country: 'US' }, team: [] } },
      'Customer contact is required',
      'customerProfile.team',
    ],
    [
      'R12 without a country',
      {
        customerProfile: {
          name: 'Contoso',
          address: { city: 'Seattle' },
          team: [{ email: 'a@contoso.example' }],
        },
      },
      'Customer account country code is missing',
      'customerProfile.address.country',
    ],
    [
      'R12 with a country name instead of a code',
      {
        customerProfile: {
          name: 'Contoso',
          address: { country: 'United States' },
          team: [{ email: 'a@contoso.example' }],
        },
      },
      'two-letter ISO 3166',
      'customerProfile.address.country',
    ],
    [
      'R12 with a currency that is not ISO 4217',
      { details: { dealValue: 1, currency: 'DOLLARS', requirements: { solutions: [{ id: 'SOL-1' }] } } },
      'ISO 4217',
      'details.currency',
    ],
    [
      'R14 with help requested but not shared',
      { consent: { consentToShareReferralWithMicrosoftSellers: false } },
      'must be shared with Microsoft sellers',
      'consent.consentToShareReferralWithMicrosoftSellers',
    ],
  ])('%s is refused with the documented message', async (_title, overrides, message, target) => {
    const answer = await emu.api<Json>('/referrals', { method: 'POST', body: coSellReferral(overrides) });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('invalidRequest');
    expect(answer.body.error.message).toContain(message);
    expect(answer.body.error.target).toBe(target);
    expect((await emu.control<Json>('/referrals')).body.count).toBe(0);
  });

  it('R12 reports every missing prerequisite at once', async () => {
    const answer = await emu.api<Json>('/referrals', {
      method: 'POST',
      body: coSellReferral({
        customerProfile: { name: 'Contoso' },
        details: { dealValue: 1, currency: 'USD' },
      }),
    });
    expect(answer.status).toBe(400);
    for (const part of [
      'Solution ID is required',
      'Customer contact is required',
      'Customer account country code is missing',
    ]) {
      expect(answer.body.error.message).toContain(part);
    }
  });

  it('R11 a private referral needs none of the co-sell prerequisites', async () => {
    const created = await create(privateReferral({ customerProfile: { name: 'No country' } }));
    expect(created.consent.consentToShareReferralWithMicrosoftSellers).toBe(false);
  });
});

describe('PUT (deprecated)', () => {
  it('requires If-Match and no links; replaces writable fields', async () => {
    const created = await create(privateReferral());
    const { links: _links, ...withoutLinks } = created;
    const noIfMatch = await emu.api<Json>(`/referrals/${created.id}`, { method: 'PUT', body: withoutLinks });
    expect(noIfMatch.status).toBe(400);
    expect(noIfMatch.body.error.target).toBe('If-Match');
    const withLinks = await emu.api<Json>(`/referrals/${created.id}`, {
      method: 'PUT',
      body: created,
      headers: { 'If-Match': created.eTag },
    });
    expect(withLinks.status).toBe(400);
    expect(withLinks.body.error.target).toBe('links');
    const ok = await emu.api<Json>(`/referrals/${created.id}`, {
      method: 'PUT',
      body: { ...withoutLinks, externalReferenceId: 'lead-7' },
      headers: { 'If-Match': created.eTag },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.externalReferenceId).toBe('lead-7');
    expect(ok.body.eTag).not.toBe(created.eTag);
    const rename = await emu.api<Json>(`/referrals/${created.id}`, {
      method: 'PUT',
      body: { ...withoutLinks, name: 'Other' },
      headers: { 'If-Match': ok.body.eTag },
    });
    expect(rename.status).toBe(400);
  });
});
