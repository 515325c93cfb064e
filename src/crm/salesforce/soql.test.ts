import { describe, expect, it } from 'vitest';
import { dateTimeLiteral, identifier, like, literal, select, where } from './soql.ts';

describe('SOQL building', () => {
  it.each([
    ["O'Brien \\ Sons", "'O\\'Brien \\\\ Sons'"],
    ["x' OR Name != '", "'x\\' OR Name != \\''"],
    ['say "hi"\nnext', '\'say \\"hi\\"\\nnext\''],
    ['tab\there', "'tab\\there'"],
  ])('escapes the string literal %j', (value, expected) => {
    expect(literal(value)).toBe(expected);
  });

  it('keeps numbers, booleans, null and dates bare', () => {
    expect(literal(12.5)).toBe('12.5');
    expect(literal(true)).toBe('true');
    expect(literal(null)).toBe('null');
    expect(literal(new Date('2026-11-20T10:11:12.345Z'))).toBe('2026-11-20T10:11:12Z');
    expect(dateTimeLiteral(new Date('2026-01-02T03:04:05Z'))).toBe('2026-01-02T03:04:05Z');
    expect(() => literal(Number.NaN)).toThrow(/finite/);
  });

  it('escapes LIKE wildcards so they match literally', () => {
    expect(like('50%_off', 'prefix')).toBe("'50\\%\\_off%'");
    expect(like("O'B", 'contains')).toBe("'%O\\'B%'");
  });

  it('refuses anything that is not an API name where a field name goes', () => {
    expect(identifier('Account.Name')).toBe('Account.Name');
    expect(() => identifier("Name = 'x' OR Id")).toThrow(/not an API name/);
    expect(() => select({ fields: ['Id'], from: 'Opportunity WHERE Id != null' })).toThrow();
  });

  it('renders nested conditions with parentheses', () => {
    expect(
      where({
        and: [
          { field: 'SystemModstamp', op: '>=', value: new Date('2026-11-20T00:00:00Z') },
          {
            or: [
              { field: 'Sync__c', op: '=', value: true },
              { field: 'Ref__c', op: '!=', value: null },
            ],
          },
        ],
      }),
    ).toBe('(SystemModstamp >= 2026-11-20T00:00:00Z AND (Sync__c = true OR Ref__c != null))');
    expect(where({ field: 'Id', op: 'IN', values: ['a', "b'c"] })).toBe("Id IN ('a', 'b\\'c')");
    expect(() => where({ field: 'Id', op: 'IN', values: [] })).toThrow(/empty IN/);
  });

  it('builds a select with a child subquery, order and limit', () => {
    expect(
      select({
        fields: ['Id', 'Name', 'Id'],
        from: 'Opportunity',
        children: [{ relationship: 'OpportunityContactRoles', fields: ['ContactId'] }],
        where: { field: 'Name', op: '=', value: "O'Brien" },
        orderBy: [{ field: 'CreatedDate', direction: 'DESC' }],
        limit: 5,
      }),
    ).toBe(
      "SELECT Id, Name, (SELECT ContactId FROM OpportunityContactRoles) FROM Opportunity WHERE Name = 'O\\'Brien' ORDER BY CreatedDate DESC LIMIT 5",
    );
  });
});
