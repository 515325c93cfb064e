import { describe, expect, it } from 'vitest';
import { and, anyOf, buildListQuery, eq, ge, gt, le, literal, lt, ne, not, or } from './filter.ts';

describe('OData $filter builder', () => {
  it.each([
    ['Shared', "'Shared'"],
    ["O'Brien", "'O''Brien'"],
    ["') or (1 eq 1", "''') or (1 eq 1'"],
    ["''", "''''''"],
    [42, '42'],
    [-1.5, '-1.5'],
    [true, 'true'],
    [false, 'false'],
    [null, 'null'],
    [new Date('2026-11-20T10:00:00Z'), '2026-11-20T10:00:00.000Z'],
  ] as const)('R3 literal %j -> %s', (value, expected) => {
    expect(literal(value)).toBe(expected);
  });

  it('refuses values that have no OData literal', () => {
    expect(() => literal(Number.NaN)).toThrow(/finite/);
    expect(() => literal(new Date('nope'))).toThrow(/valid Date/);
  });

  it('R3 comparison operators render field op literal', () => {
    expect(eq('status', 'New').text).toBe("status eq 'New'");
    expect(ne('substatus', null).text).toBe('substatus ne null');
    expect(gt('details/dealValue', 100).text).toBe('details/dealValue gt 100');
    expect(ge('updatedDateTime', new Date('2026-01-01T00:00:00Z')).text).toBe(
      'updatedDateTime ge 2026-01-01T00:00:00.000Z',
    );
    expect(lt('details/dealValue', 5).text).toBe('details/dealValue lt 5');
    expect(le('consent/consentToContact', true).text).toBe('consent/consentToContact le true');
    expect(eq('customerProfile/address/country', 'US').text).toBe("customerProfile/address/country eq 'US'");
  });

  it('R3 combines with and/or/not, parenthesising every operand', () => {
    const f = and(eq('type', 'Shared'), or(eq('direction', 'Incoming'), not(eq('status', 'Closed'))));
    expect(f.text).toBe("(type eq 'Shared') and ((direction eq 'Incoming') or (not (status eq 'Closed')))");
    expect(and(eq('a', 1)).text).toBe('a eq 1');
    expect(() => and()).toThrow(/at least one/);
  });

  it('R3 lambda any over team e-mails', () => {
    expect(anyOf('team', 't', eq('t/email', 'a@contoso.com')).text).toBe(
      "team/any(t:t/email eq 'a@contoso.com')",
    );
  });

  it('R3 a hostile value stays one literal inside the expression', () => {
    const f = and(eq('name', "') or (1 eq 1"), eq('status', 'New'));
    expect(f.text).toBe("(name eq ''') or (1 eq 1') and (status eq 'New')");
    // Every quote inside the literal is doubled, so the quote count stays even.
    expect((f.text.match(/'/g) ?? []).length % 2).toBe(0);
  });

  it('refuses field paths and lambda variables that are not identifiers', () => {
    expect(() => eq('status eq 1 or status', 'x')).toThrow(/Invalid OData field path/);
    expect(() => eq('a//b', 'x')).toThrow(/Invalid OData field path/);
    expect(() => eq('', 'x')).toThrow(/Invalid OData field path/);
    expect(() => anyOf('team', 't:x', eq('t/email', 'x'))).toThrow(/lambda variable/);
  });
});

describe('buildListQuery', () => {
  it('R3 encodes filter, orderby and top', () => {
    const query = buildListQuery({
      filter: and(eq('type', 'Shared'), eq('direction', 'Incoming')),
      orderBy: [{ field: 'createdDateTime', direction: 'desc' }],
      top: 10,
    });
    expect(query).toBe(
      `$filter=${encodeURIComponent("(type eq 'Shared') and (direction eq 'Incoming')")}&$orderby=createdDateTime%20desc&$top=10`,
    );
    const params = new URLSearchParams(query);
    expect(params.get('$filter')).toBe("(type eq 'Shared') and (direction eq 'Incoming')");
    expect(params.get('$orderby')).toBe('createdDateTime desc');
  });

  it('R3 a hostile value cannot add query parameters', () => {
    const params = new URLSearchParams(buildListQuery({ filter: eq('name', "x'&$top=1&y='") }));
    expect([...params.keys()]).toEqual(['$filter']);
    expect(params.get('$filter')).toBe("name eq 'x''&$top=1&y='''");
  });

  it('is empty without options and validates top and orderBy', () => {
    expect(buildListQuery()).toBe('');
    expect(
      buildListQuery({
        orderBy: [{ field: 'updatedDateTime' }, { field: 'createdDateTime', direction: 'desc' }],
      }),
    ).toBe('$orderby=updatedDateTime%20asc%2CcreatedDateTime%20desc');
    expect(() => buildListQuery({ top: 0 })).toThrow(/positive integer/);
    // @ts-expect-error: only the two documented fields are orderable
    expect(() => buildListQuery({ orderBy: [{ field: 'name' }] })).toThrow(/can only order by/);
  });
});
