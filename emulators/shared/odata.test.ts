import { describe, expect, it } from 'vitest';
import { compileFilter, compileOrderBy, equalities, instantTicks, ODataSyntaxError } from './odata.ts';

const referrals = [
  {
    id: 'a',
    name: "O'Neil deal",
    status: 'New',
    substatus: 'Pending',
    type: 'Shared',
    direction: 'Incoming',
    qualification: 'SalesQualified',
    engagementId: '9c1b6f1e-0b1a-4c55-8a4e-000000000001',
    createdDateTime: '2026-11-01T00:00:00.0000000Z',
    updatedDateTime: '2026-11-01T00:00:00.1234567Z',
    favorite: true,
    details: { dealValue: 10000 },
    customerProfile: { name: 'Contoso', address: { country: 'US' }, team: [{ email: 'ann@contoso.com' }] },
    team: [{ email: 'Bob@Fabrikam.com' }, { email: 'carol@fabrikam.com' }],
  },
  {
    id: 'b',
    name: 'Tailspin',
    status: 'Active',
    substatus: 'Accepted',
    type: 'Independent',
    direction: 'Outgoing',
    qualification: 'None',
    engagementId: '9c1b6f1e-0b1a-4c55-8a4e-000000000002',
    createdDateTime: '2026-11-02T00:00:00.0000000Z',
    updatedDateTime: '2026-11-20T10:00:00.0000000Z',
    favorite: false,
    details: { dealValue: '500' },
    customerProfile: { name: 'Tailspin', address: { country: 'DE' }, team: [] },
    team: [{ email: 'carol@fabrikam.com' }],
  },
  {
    id: 'c',
    name: 'Closed one',
    status: 'Closed',
    substatus: 'Won',
    type: 'Shared',
    direction: 'Outgoing',
    qualification: null,
    engagementId: '9c1b6f1e-0b1a-4c55-8a4e-000000000001',
    createdDateTime: '2026-10-15T08:30:00.0000000Z',
    updatedDateTime: '2026-11-01T00:00:00.1234568Z',
    customerProfile: { name: 'Contoso', address: { country: 'US' } },
    team: [],
  },
];

const ids = (filter: string) =>
  referrals
    .filter(compileFilter(filter))
    .map((r) => r.id)
    .join(',');

describe('compileFilter', () => {
  it.each([
    // comparisons on strings (case-sensitive)
    ["status eq 'New'", 'a'],
    ["status ne 'New'", 'b,c'],
    ["status eq 'new'", ''],
    ["name eq 'O''Neil deal'", 'a'],
    ["name gt 'P'", 'b'],
    // documented examples (reference §2)
    ["(type eq 'Shared' and direction eq 'Incoming')", 'a'],
    ["customerProfile/address/country eq 'US'", 'a,c'],
    ["qualification eq 'SalesQualified'", 'a'],
    ["engagementId eq '9c1b6f1e-0b1a-4c55-8a4e-000000000001'", 'a,c'],
    ["team/any(t:t/email eq 'carol@fabrikam.com')", 'a,b'],
    ["team/any(t:t/email eq 'bob@fabrikam.com')", ''],
    ["team/any(t:tolower(t/email) eq 'bob@fabrikam.com')", 'a'],
    ["team/all(t:endswith(t/email, '@fabrikam.com'))", 'b,c'],
    ["team/all(t:endswith(tolower(t/email), '@fabrikam.com'))", 'a,b,c'],
    ['team/any()', 'a,b'],
    ["customerProfile/team/any(c:c/email eq 'ann@contoso.com')", 'a'],
    // unquoted GUID literal is a string
    ['engagementId eq 9c1b6f1e-0b1a-4c55-8a4e-000000000002', 'b'],
    // datetimes compared as instants, at 100 ns precision
    ['updatedDateTime gt 2026-11-01T00:00:00Z', 'a,b,c'],
    ['updatedDateTime gt 2026-11-01T00:00:00.1234567Z', 'b,c'],
    ['updatedDateTime le 2026-11-01T00:00:00.1234567Z', 'a'],
    ['updatedDateTime eq 2026-11-01T01:00:00.1234567+01:00', 'a'],
    ['createdDateTime lt 2026-11-01', 'c'],
    ['createdDateTime ge 2026-11-01 and createdDateTime lt 2026-11-02T00:00:00Z', 'a'],
    // boolean logic and precedence: and binds tighter than or
    ["status eq 'Closed' or status eq 'New' and type eq 'Independent'", 'c'],
    ["(status eq 'Closed' or status eq 'New') and type eq 'Shared'", 'a,c'],
    ["not status eq 'New'", 'b,c'],
    ["not (status eq 'New' or status eq 'Active')", 'c'],
    ["status eq 'New' AND type EQ 'Shared'", 'a'],
    // numbers, including money stored as a numeric string
    ['details/dealValue gt 1000', 'a'],
    ['details/dealValue le 500', 'b'],
    ['details/dealValue eq 500.0', 'b'],
    // booleans and null
    ['favorite eq true', 'a'],
    ['favorite', 'a'],
    ['favorite ne true', 'b,c'],
    ['qualification eq null', 'c'],
    ['qualification ne null', 'a,b'],
    ['details/dealValue gt null', ''],
    ['missing/path eq null', 'a,b,c'],
    // functions
    ["contains(name, 'deal')", 'a'],
    ["startswith(name, 'Tail')", 'b'],
    ["toupper(customerProfile/address/country) eq 'DE'", 'b'],
    // lambda variables may be combined with the root entity
    ["team/any(t:t/email eq 'carol@fabrikam.com' and status eq 'Active')", 'b'],
  ])('%s -> [%s]', (filter, expected) => {
    expect(ids(filter)).toBe(expected);
  });

  it.each([
    ['', 'is empty'],
    ['status', undefined], // a bare path is legal syntax (a boolean property)
    ["status eq 'New", 'string literal starting here is not closed'],
    ['status eq', 'expected a property path, a literal or a parenthesised expression, found the end'],
    ["status eq 'New' and", 'found the end of the expression'],
    ["status 'New'", 'expected a comparison operator (eq, ne, gt, ge, lt, le)'],
    ["status equals 'New'", "found 'equals'"],
    ["(status eq 'New'", "expected ')' to close the parenthesis"],
    ["status eq 'New')", "expected 'and', 'or' or the end of the $filter, found ')'"],
    ["a eq 'x' eq 'y'", 'comparisons cannot be chained'],
    ["substringof('x', name)", "unknown function 'substringof'"],
    ['contains(name)', "expected ',' (contains takes 2 arguments)"],
    ["team/any(t t/email eq 'x')", "expected ':' after the lambda variable"],
    ['team/all()', 'expected a lambda variable'],
    ['updatedDateTime gt 2026-11-01T00:00:00.12345678Z', 'malformed datetime literal'],
    ['updatedDateTime gt 2026-13-45T00:00:00Z', 'a real calendar date'],
    ['status eq #', "unexpected character '#'"],
  ])('rejects %j with a helpful message', (filter, message) => {
    if (message === undefined) {
      expect(() => compileFilter(filter)).not.toThrow();
      return;
    }
    let error: unknown;
    try {
      compileFilter(filter);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ODataSyntaxError);
    expect((error as ODataSyntaxError).message).toContain(message);
  });

  it('reports the position of the offending token', () => {
    expect(() => compileFilter("status eq 'New' xor type eq 'Shared'")).toThrow(
      /Invalid \$filter at position 16 in .*expected 'and', 'or' or the end of the \$filter, found 'xor'/,
    );
    try {
      compileFilter("status eq 'New' xor");
    } catch (error) {
      expect((error as ODataSyntaxError).position).toBe(16);
    }
  });
});

describe('compileOrderBy', () => {
  const order = (orderby: string, items: unknown[] = referrals) =>
    [...items]
      .sort(compileOrderBy(orderby))
      .map((r) => (r as { id: string }).id)
      .join(',');

  it.each([
    ['createdDateTime', 'c,a,b'],
    ['createdDateTime asc', 'c,a,b'],
    ['createdDateTime desc', 'b,a,c'],
    ['updatedDateTime desc', 'b,c,a'],
    ['type, createdDateTime desc', 'b,a,c'],
    ['customerProfile/name desc, id desc', 'b,c,a'],
    ['status DESC', 'a,c,b'],
    // ties broken by id, also when nothing is given
    ['type', 'b,a,c'],
    ['', 'a,b,c'],
    // null sorts first
    ['qualification', 'c,b,a'],
  ])('%j -> [%s]', (orderby, expected) => {
    expect(order(orderby)).toBe(expected);
  });

  it('compares datetimes of different precision as instants', () => {
    const items = [
      { id: '1', updatedDateTime: '2026-11-01T00:00:00Z' },
      { id: '2', updatedDateTime: '2026-11-01T00:00:00.5000000Z' },
      { id: '3', updatedDateTime: '2026-10-31T23:59:59.9999999Z' },
    ];
    expect(order('updatedDateTime', items)).toBe('3,1,2');
  });

  it.each([
    ['createdDateTime sideways', "expected 'asc', 'desc', ',' or the end of the $orderby, found 'sideways'"],
    ['createdDateTime,', 'expected a property name, found the end'],
    ['team/any(t:t/email eq 1)', 'lambdas are not sortable'],
  ])('rejects %j', (orderby, message) => {
    expect(() => compileOrderBy(orderby)).toThrow(ODataSyntaxError);
    expect(() => compileOrderBy(orderby)).toThrow(message);
  });
});

describe('instantTicks', () => {
  it('keeps all 7 fractional digits and honours offsets', () => {
    expect(instantTicks('2026-11-01T00:00:00.1234567Z')! - instantTicks('2026-11-01T00:00:00Z')!).toBe(
      1_234_567n,
    );
    expect(instantTicks('2026-11-01T01:00:00+01:00')).toBe(instantTicks('2026-11-01T00:00:00Z'));
    expect(instantTicks('not a date')).toBeUndefined();
  });
});

describe('case-insensitive comparison (Dataverse collation)', () => {
  const rows = [
    { name: "O'Neil Ltd", id: 'A1B2C3D4-0000-0000-0000-000000000001' },
    { name: 'contoso', id: 'a1b2c3d4-0000-0000-0000-000000000002' },
  ];
  it('matches strings and GUID literals in any case only when asked', () => {
    const names = (filter: string, caseInsensitive: boolean) =>
      rows.filter(compileFilter(filter, { caseInsensitive })).map((r) => r.name);
    expect(names("name eq 'CONTOSO'", true)).toEqual(['contoso']);
    expect(names("name eq 'CONTOSO'", false)).toEqual([]);
    expect(names('id eq a1b2c3d4-0000-0000-0000-000000000001', true)).toEqual(["O'Neil Ltd"]);
    expect(names("contains(name,'o''neil')", true)).toEqual(["O'Neil Ltd"]);
    expect(names("startswith(name,'CON')", true)).toEqual(['contoso']);
  });
});

describe('equalities', () => {
  it('lists the equalities every kept entity satisfies: and-conjuncts, or-lists on one property', () => {
    expect(
      equalities(
        "statecode eq 0 and (emailaddress1 eq 'a@x.com' or 'b@x.com' eq emailaddress1) and _parentaccountid_value eq 3f2504e0-4f89-11d3-9a0c-0305e82c3301",
      ),
    ).toEqual([
      [{ property: 'statecode', values: [0] }],
      [{ property: 'emailaddress1', values: ['a@x.com', 'b@x.com'] }],
      [{ property: '_parentaccountid_value', values: ['3f2504e0-4f89-11d3-9a0c-0305e82c3301'] }],
    ]);
  });

  it('lists an or across properties as alternatives when every branch requires one (an account by name or DUNS)', () => {
    expect(
      equalities(
        "(name eq 'A' and address1_postalcode eq '1') or duns eq '2' or (name eq 'B' and city ne 'x')",
      ),
    ).toEqual([
      [
        { property: 'name', values: ['A', 'B'] },
        { property: 'duns', values: ['2'] },
      ],
    ]);
    // A branch that requires nothing narrows nothing.
    expect(equalities("name eq 'a' or city ne 'b'")).toEqual([]);
  });

  it('gives none for what an index cannot narrow: not, ne, paths, null, bad syntax', () => {
    expect(equalities("not name eq 'a'")).toEqual([]);
    expect(equalities("name ne 'a'")).toEqual([]);
    expect(equalities("customer/name eq 'a'")).toEqual([]);
    expect(equalities('name eq null')).toEqual([]);
    expect(equalities("name eq 'a' and")).toEqual([]);
    expect(equalities("tolower(name) eq 'a'")).toEqual([]);
  });
});
