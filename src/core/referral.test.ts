import { describe, expect, it } from 'vitest';
import { camelCaseKeys, parseReferral, referralPageSchema, referralSchema } from './referral.ts';

/** A referral as the reference §3 samples show it: PascalCase keys (doc-table style), `ids: {}`,
 *  7-digit fractional timestamps, a string dealValue, and fields the schema does not know. */
const documented = {
  Id: '6a9b5e2c-47d1-4f8b-9f0a-0d3c1b2a4e5f',
  EngagementId: '1f2e3d4c-5b6a-4789-8abc-def012345678',
  OrganizationId: '0b1c2d3e-4f50-4617-8a9b-c0d1e2f3a4b5',
  OrganizationName: 'Fabrikam Partners',
  Name: 'Contoso Azure migration',
  ExternalReferenceId: '0065g00000ABCDEAA1',
  CreatedDateTime: '2026-11-20T10:00:00.1234567Z',
  UpdatedDateTime: '2026-11-20T10:05:00.7654321Z',
  ExpirationDateTime: '2026-12-04T10:00:00.1234567Z',
  AcceptedDateTime: '2026-11-20T10:00:00.1234567Z',
  Status: 'Active',
  Substatus: 'Accepted',
  StatusReason: null,
  Type: 'Shared',
  Qualification: 'SalesQualified',
  Direction: 'Outgoing',
  SalesStage: 'Develop',
  CustomerProfile: {
    Name: 'Contoso',
    Size: '1001to5000employees',
    Address: {
      AddressLine1: 'One Microsoft Way',
      City: 'Redmond',
      State: 'WA',
      PostalCode: '98052',
      Country: 'US',
      Region: null,
    },
    Team: [
      {
        FirstName: 'Ada',
        LastName: 'Lovelace',
        Email: 'ada@contoso.com',
        PhoneNumber: '+1 425 555 0100',
        ContactPreference: { Locale: 'en-us', DisableNotifications: false },
      },
    ],
    Ids: {},
    LinkedInUrl: 'https://example.invalid/contoso',
  },
  Consent: {
    ConsentToContact: true,
    ConsentToToShareInfoWithOthers: true,
    ConsentToShareReferralWithMicrosoftSellers: true,
    ConsentToMicrosoftToContactSpecificPartners: false,
  },
  Details: {
    Notes: 'Customer wants to move 300 VMs.',
    DealValue: '10000',
    Currency: 'USD',
    ClosingDateTime: '2026-12-31T00:00:00.0000000Z',
    CustomerAction: 'None',
    CustomerRequestedContact: true,
    Requirements: {
      Industries: [{ Id: 'Manufacturing' }],
      Products: [{ Id: 'Azure' }],
      Services: [{ Id: 'DeploymentOrMigration' }],
      Solutions: [
        {
          Id: 'SOL-34104-EBB',
          Name: 'Azure Migration Factory',
          Type: 'Name',
          PublisherName: 'Fabrikam',
          SolutionType: '3P',
        },
      ],
      Offers: [],
      AdditionalRequirements: {
        Iot: {},
        Attributes: [{ Id: 'HaveNotDecided', Type: 'CustomerMarketplaceIntent' }],
      },
    },
  },
  Team: [{ FirstName: 'Pat', LastName: 'Partner', Email: 'pat@fabrikam.com' }],
  InviteContext: {
    Notes: 'Please help with a PoC',
    AssistanceRequestCode: 'ProofOfConceptOrDemo',
    InvitedBy: {
      OrganizationId: '0b1c2d3e-4f50-4617-8a9b-c0d1e2f3a4b5',
      OrganizationName: 'Fabrikam Partners',
    },
  },
  Target: [{ Type: 'SolutionProfile', Id: 'SOL-34104-EBB' }],
  Links: {
    Self: { Uri: 'https://api.partner.microsoft.com/v1.0/engagements/referrals/6a9b5e2c', Method: 'GET' },
    RelatedReferrals: {
      Uri: "https://api.partner.microsoft.com/v1.0/engagments/referrals?$filter=engagementId eq '1f2e'",
      Method: 'GET',
    },
  },
  TrackingInfo: { MicrosoftMsxId: '7-3ABCDEFGH' },
  ETag: '"2500ec5a-0000-0000-0000-5bf4967d0000"',
  CampaignId: null,
  Favorite: false,
  Registrations: [],
  '@odata.context': 'https://api.partner.microsoft.com/v1.0/engagements/$metadata#Referrals/$entity',
  CustomerMarketplaceIntent: 'HaveNotDecided',
  FutureField: { Nested: [1, 2, { Deep: true }] },
};

describe('Referral schema (reference §3 shapes)', () => {
  it('the documented PascalCase shape round-trips without loss, unknown fields preserved', () => {
    const parsed = parseReferral(documented);
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    // The only rewrites are the documented tolerances: camelCase keys, ids {} -> [], numeric-string money.
    const expected = camelCaseKeys(documented) as Record<string, unknown>;
    const profile = expected['customerProfile'] as Record<string, unknown>;
    profile['ids'] = [];
    (expected['details'] as Record<string, unknown>)['dealValue'] = 10000;
    expect(parsed.referral).toEqual(expected);
    expect(parsed.referral['futureField']).toEqual({ nested: [1, 2, { deep: true }] });
    expect((parsed.referral.customerProfile as Record<string, unknown>)['linkedInUrl']).toBe(
      'https://example.invalid/contoso',
    );
    expect(parsed.referral.createdDateTime).toBe('2026-11-20T10:00:00.1234567Z');
    // Serialised and parsed again, nothing changes.
    expect(referralSchema.parse(JSON.parse(JSON.stringify(parsed.referral)))).toEqual(parsed.referral);
  });

  it('accepts ids as [] and {} alike, and camelCase wins over PascalCase duplicates', () => {
    const a = referralSchema.parse({ customerProfile: { ids: [] } });
    const b = referralSchema.parse({ customerProfile: { ids: {} } });
    expect(a.customerProfile?.ids).toEqual([]);
    expect(b.customerProfile?.ids).toEqual([]);
    expect(referralSchema.parse({ name: 'camel', Name: 'Pascal' }).name).toBe('camel');
  });

  it('a list page with an @odata.nextLink parses', () => {
    const page = referralPageSchema.parse({
      '@odata.context': 'x',
      '@odata.count': 1,
      '@odata.nextLink': 'https://api.partner.microsoft.com/v1.0/referrals?$skiptoken=abc',
      value: [camelCaseKeys(documented)],
    });
    expect(page.value[0]?.name).toBe('Contoso Azure migration');
    expect(page['@odata.nextLink']).toContain('$skiptoken=abc');
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['unknown status', { status: 'Open' }, 'status'],
    ['unknown substatus', { substatus: 'Maybe' }, 'substatus'],
    ['unknown type', { type: 'Private' }, 'type'],
    ['date without a time zone', { createdDateTime: '2026-11-20T10:00:00' }, 'createdDateTime'],
    ['impossible date', { updatedDateTime: '2026-02-30T10:00:00Z' }, 'updatedDateTime'],
    [
      'closing date that is not a date',
      { details: { closingDateTime: 'next week' } },
      'details.closingDateTime',
    ],
    ['money that is not a number', { details: { dealValue: 'ten' } }, 'details.dealValue'],
    [
      'registration date',
      { registrations: [{ registrationDateTime: 'soon' }] },
      'registrations.0.registrationDateTime',
    ],
  ])('rejects %s with a path-named problem', (_title, input, path) => {
    const parsed = parseReferral(input);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems).toHaveLength(1);
    expect(parsed.problems[0]!.startsWith(`${path}: `)).toBe(true);
  });

  it('reports every problem at once', () => {
    const parsed = parseReferral({ Status: 'Open', Substatus: 'Maybe', Details: { ClosingDateTime: 'x' } });
    expect(parsed.ok ? [] : parsed.problems.map((p) => p.split(':')[0])).toEqual([
      'status',
      'substatus',
      'details.closingDateTime',
    ]);
  });
});
