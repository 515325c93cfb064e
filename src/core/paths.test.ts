import { describe, expect, it } from 'vitest';
import { fromJsonPointer, readPath, setPath, toJsonPointer } from './paths.ts';

const referral = {
  name: 'Contoso',
  customerProfile: { team: [{ email: 'a@contoso.com' }, { email: 'b@contoso.com' }] },
  details: {
    requirements: {
      additionalRequirements: {
        attributes: [
          { id: 'HaveNotDecided', type: 'CustomerMarketplaceIntent' },
          { id: 'Implementation', type: 'PartnerRole' },
        ],
      },
    },
  },
};
const ATTR = 'details.requirements.additionalRequirements.attributes';

describe('readPath', () => {
  it.each([
    ['name', 'Contoso'],
    ['', referral],
    ['customerProfile.team.1.email', 'b@contoso.com'],
    ['customerProfile.team.5.email', undefined],
    ['customerProfile.address.country', undefined],
    [`${ATTR}[type=PartnerRole].id`, 'Implementation'],
    [`${ATTR}[type=SolutionArea].id`, undefined],
    ['name.length', undefined],
  ])('%j -> %j', (path, expected) => {
    expect(readPath(referral, path)).toEqual(expected);
  });
});

describe('setPath', () => {
  it('creates missing objects and never mutates the input', () => {
    const before = structuredClone(referral);
    const out = setPath(referral, 'customerProfile.address.country', 'US');
    expect(readPath(out, 'customerProfile.address.country')).toBe('US');
    expect(readPath(out, 'customerProfile.team.0.email')).toBe('a@contoso.com');
    expect(referral).toEqual(before);
  });

  it('updates, appends and removes selected array elements, keeping the others', () => {
    const updated = setPath(referral, `${ATTR}[type=PartnerRole].id`, 'Advisory');
    expect(readPath(updated, `${ATTR}[type=PartnerRole].id`)).toBe('Advisory');
    const added = setPath(updated, `${ATTR}[type=SolutionArea].id`, 'AI Business Solutions');
    expect(readPath(added, ATTR)).toEqual([
      { id: 'HaveNotDecided', type: 'CustomerMarketplaceIntent' },
      { id: 'Advisory', type: 'PartnerRole' },
      { type: 'SolutionArea', id: 'AI Business Solutions' },
    ]);
    const removed = setPath(added, `${ATTR}[type=PartnerRole].id`, undefined);
    expect(readPath(removed, ATTR)).toEqual([
      { id: 'HaveNotDecided', type: 'CustomerMarketplaceIntent' },
      { type: 'SolutionArea', id: 'AI Business Solutions' },
    ]);
  });

  it('removes a property when set to undefined', () => {
    expect(setPath({ a: 1, b: 2 }, 'a', undefined)).toEqual({ b: 2 });
  });

  it('sets array elements by index', () => {
    expect(
      readPath(setPath(referral, 'customerProfile.team.0.email', 'c@x.com'), 'customerProfile.team'),
    ).toEqual([{ email: 'c@x.com' }, { email: 'b@contoso.com' }]);
  });
});

describe('JSON pointers', () => {
  it.each([
    ['details.dealValue', '/details/dealValue'],
    ['name', '/name'],
  ])('%s <-> %s', (dotted, pointer) => {
    expect(toJsonPointer(dotted)).toBe(pointer);
    expect(fromJsonPointer(pointer)).toBe(dotted);
  });
});
