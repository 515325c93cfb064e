// The engine's pure pieces with plain values: deal <-> referral translation, the CRM write a diff asks for,
// webhook parsing, the adaptive poll interval and the error classification.
import { describe, expect, it } from 'vitest';
import { validateReferralForCreate } from '../core/cosell-rules.ts';
import type { Deal } from '../core/deal.ts';
import {
  crmStatusOf,
  crmWriteFor,
  dealValues,
  referralFromDeal,
  referralValues,
  SYNC_MAPPING,
} from '../core/deal-values.ts';
import { diffAgainstSnapshot, writesToCrm } from '../core/diff.ts';
import { CrmError } from '../crm/port.ts';
import { PartnerCenterError } from '../partner-center/errors.ts';
import { classifyError, SyncRefusal } from './errors.ts';
import { dedupeKeyOf, nextPollInterval, parseWebhookEvent, referralIdOf } from './intake.ts';
import { parseEngineSettings } from './settings.ts';

const deal = (overrides: Partial<Deal> = {}): Deal => ({
  kind: 'opportunity',
  id: '006A',
  name: 'Contoso',
  mark: null,
  stage: 'Qualification',
  closeDate: '2027-03-31',
  value: 1000,
  currency: 'USD',
  notes: 'n',
  syncWithPartnerCenter: true,
  assistance: 'ProofOfConceptOrDemo',
  visibleToMicrosoft: false,
  referralId: null,
  referralLink: null,
  microsoftCrmId: null,
  audit: null,
  isClosed: false,
  isWon: false,
  account: { id: '001A', name: 'Contoso Ltd', duns: null, address: { country: 'US', postalCode: '98052' } },
  contacts: [{ id: '003A', lastName: 'Ada', email: 'ada@contoso.example' }],
  solutions: [{ id: 'SOL-1', name: 'One' }],
  ...overrides,
});

describe('deal <-> referral', () => {
  it.each([
    [{ isClosed: false }, undefined, undefined],
    [{ isClosed: true, isWon: true }, 'Accepted', 'Won'],
    [{ isClosed: true, isWon: false }, 'Accepted', 'Lost'],
    [{ isClosed: true, isWon: false }, 'Declined', 'Declined'],
  ] as const)('R13 a deal %j over snapshot %s stands for substatus %s', (d, snapshot, expected) => {
    expect(crmStatusOf(deal(d), snapshot)).toBe(expected);
  });

  it("R10 R12 a complete co-sell deal builds a valid Shared referral whose values equal the deal's", () => {
    const referral = referralFromDeal(deal());
    expect(validateReferralForCreate(referral)).toEqual([]);
    expect(referral).toMatchObject({ type: 'Shared', externalReferenceId: '006A' });
    const fromDeal = dealValues(deal());
    const fromReferral = referralValues(referral);
    for (const field of [
      'name',
      'dealValue',
      'currency',
      'closeDate',
      'notes',
      'howCanMicrosoftHelp',
      'solutions',
      'contacts',
    ]) {
      expect(fromReferral[field], field).toEqual(fromDeal[field]);
    }
  });

  it('R12 a co-sell deal without contact, solution and country fails every rule at once', () => {
    const referral = referralFromDeal(
      deal({ contacts: [], solutions: [], account: { name: 'X', address: {} } }),
    );
    expect(
      validateReferralForCreate(referral)
        .map((p) => p.rule)
        .sort(),
    ).toEqual(['country-code-missing', 'customer-contact-required', 'solution-required']);
  });

  it('R6 R15 Partner Center changes become a DealPatch: fields, added and removed solutions, a close', () => {
    const before = dealValues(deal());
    const changed = referralValues({
      ...referralFromDeal(deal()),
      details: {
        dealValue: 2000,
        currency: 'USD',
        closingDateTime: '2027-03-31T00:00:00Z',
        notes: 'n',
        requirements: { solutions: [{ id: 'SOL-2', name: 'Two' }] },
      },
      substatus: 'Expired',
    });
    const diff = diffAgainstSnapshot({
      referral: changed,
      crm: before,
      snapshot: { ...before, status: 'Accepted' },
      mapping: SYNC_MAPPING,
    });
    const write = crmWriteFor(writesToCrm(diff), deal(), {
      details: { requirements: { solutions: [{ id: 'SOL-2', name: 'Two' }] } },
    });
    // Help requested made the referral visible: the CRM follows (R14).
    expect(write.patch.fields).toEqual({ value: 2000, visibleToMicrosoft: true });
    expect(write.patch.addSolutions).toEqual([{ id: 'SOL-2', name: 'Two' }]);
    expect(write.patch.removeSolutions).toEqual(['SOL-1']);
    expect(write.close).toBe('lost');
  });

  it('R22 R11 the mapping table drives both directions: every mapped Deal property is read, Partner Center values land in their property by kind, a lead says nothing about opportunity-only fields', () => {
    const services = deal({
      partnerRole: 'Implementation',
      solutionArea: 'Security',
      solutionPlay: 'Data security',
    });
    expect(dealValues(services)).toMatchObject({
      partnerRole: 'Implementation',
      solutionArea: 'Security',
      solutionPlay: 'Data security',
      howCanMicrosoftHelp: 'ProofOfConceptOrDemo',
    });
    const lead = dealValues(deal({ kind: 'lead', partnerRole: 'Implementation' }));
    for (const field of ['partnerRole', 'howCanMicrosoftHelp', 'visibility', 'solutions', 'responseDeadline'])
      expect(lead).not.toHaveProperty(field);

    const byField = new Map(SYNC_MAPPING.map((m) => [m.field, m]));
    const write = crmWriteFor(
      [
        { field: 'closeDate', value: '2027-05-01', mapping: byField.get('closeDate')! },
        {
          field: 'responseDeadline',
          value: '2027-05-01T10:00:00Z',
          mapping: byField.get('responseDeadline')!,
        },
        { field: 'dealValue', value: '2500.5', mapping: byField.get('dealValue')! },
        { field: 'name', value: null, mapping: byField.get('name')! },
        { field: 'solutionArea', value: 'Security', mapping: byField.get('solutionArea')! },
        { field: 'microsoftCrmId', value: '7-ABC', mapping: byField.get('microsoftCrmId')! },
      ] as never,
      deal(),
      {},
    );
    expect(write.patch.fields).toEqual({
      closeDate: '2027-05-01',
      responseDeadline: '2027-05-01T10:00:00Z',
      value: 2500.5,
      solutionArea: 'Security',
    });
    expect(write.sync).toEqual({ microsoftCrmId: '7-ABC' });
  });
});

describe('intake', () => {
  const body = JSON.stringify({
    EventName: 'referral-updated',
    ResourceUri: 'https://api.partnercenter.microsoft.com/engagements/v1/referrals/abc-123',
    ResourceName: 'referral',
    AuditUri: null,
    ResourceChangeUtcDate: '2026-11-20T10:00:00.1230000+00:00',
  });

  it('R2 reads the referral id from the last ResourceUri segment; redeliveries share a dedupe key', () => {
    const event = parseWebhookEvent(body);
    expect(referralIdOf(event)).toBe('abc-123');
    expect(dedupeKeyOf(parseWebhookEvent(body))).toBe(dedupeKeyOf(event));
    expect(() => parseWebhookEvent('{"x":1}')).toThrow(/EventName/);
  });

  it('polls fast after activity and doubles while idle, within bounds', () => {
    const bounds = { minIntervalMs: 1000, maxIntervalMs: 8000 };
    expect(nextPollInterval(8000, 3, bounds)).toBe(1000);
    expect(nextPollInterval(1000, 0, bounds)).toBe(2000);
    expect(nextPollInterval(8000, 0, bounds)).toBe(8000);
  });

  it('settings default every key', () => {
    expect(parseEngineSettings({}).worker.concurrency).toBe(4);
    expect(parseEngineSettings({ crmPoll: { minIntervalMs: 5 } }).crmPoll).toMatchObject({
      minIntervalMs: 5,
      maxIntervalMs: 60_000,
    });
  });
});

describe('error classification', () => {
  const pc = (status: number, extra: Partial<ConstructorParameters<typeof PartnerCenterError>[0]> = {}) =>
    new PartnerCenterError({
      api: 'referrals',
      method: 'PATCH',
      path: '/referrals/x',
      status,
      code: 'c',
      ...extra,
    });
  it.each([
    ['refusal', new SyncRefusal('solution-required', 'm'), 'fail'],
    ['400', pc(400), 'fail'],
    ['401 (credentials circuit)', pc(401), 'pause'],
    ['429 with Retry-After (pause the API)', pc(429, { retryAfterMs: 30_000 }), 'pause'],
    ['503', pc(503), 'retry'],
    ['unknown create outcome', pc(0, { code: 'outcomeUnknown' }), 'retry'],
    [
      'CRM auth',
      new CrmError({ crm: 'salesforce', operation: 'x', message: 'm', authFailed: true }),
      'pause',
    ],
    [
      'CRM budget',
      new CrmError({ crm: 'salesforce', operation: 'x', message: 'm', budgetExhausted: true }),
      'pause',
    ],
    ['CRM lock', new CrmError({ crm: 'salesforce', operation: 'x', message: 'm', retryable: true }), 'retry'],
    ['CRM field error', new CrmError({ crm: 'salesforce', operation: 'x', message: 'm' }), 'fail'],
    ['a bug', new TypeError('x'), 'retry'],
  ])('%s -> %s', (_name, error, kind) => {
    expect(classifyError(error).kind).toBe(kind);
  });
});
