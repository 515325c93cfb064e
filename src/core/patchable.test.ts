import { describe, expect, it } from 'vitest';
import {
  CREATE_ONLY_FIELDS,
  checkPatch,
  createOnlyFieldOf,
  createOnlyFieldsChanged,
  isPatchablePath,
  PATCHABLE_PATHS,
} from './patchable.ts';
import { fromJsonPointer } from './paths.ts';

describe('patchable paths (reference §2)', () => {
  it('is exactly the connector Swagger list', () => {
    expect([...PATCHABLE_PATHS].sort()).toEqual(
      [
        '/campaignId',
        '/consent/consentToShareReferralWithMicrosoftSellers',
        '/customerProfile/team',
        '/customerProfile/team/-',
        '/details/closingDateTime',
        '/details/currency',
        '/details/dealValue',
        '/details/notes',
        '/details/requirements/solutions',
        '/details/requirements/solutions/-',
        '/externalReferenceId',
        '/referralProgram',
        '/salesStage',
        '/status',
        '/substatus',
        '/statusReason',
        '/team',
        '/team/-',
      ].sort(),
    );
  });

  it.each([
    ['/details/dealValue', true],
    ['/team/-', true],
    ['/name', false],
    ['/customerProfile/address/country', false],
    ['/inviteContext/assistanceRequestCode', false],
    ['/details/dealvalue', false],
    ['details/dealValue', false],
    ['/team/0', false],
  ])('R11 isPatchablePath(%j) -> %s', (path, expected) => {
    expect(isPatchablePath(path)).toBe(expected);
  });

  it('R11 no create-only field is reachable by a patchable path (and vice versa)', () => {
    for (const path of PATCHABLE_PATHS) {
      const dotted = fromJsonPointer(path.replace(/\/-$/, ''));
      expect(createOnlyFieldOf(dotted), path).toBeUndefined();
      for (const field of CREATE_ONLY_FIELDS)
        expect(field.path.startsWith(`${dotted}.`), field.path).toBe(false);
    }
  });

  it.each([
    ['/name', 'referral name'],
    ['/customerProfile/name', 'customer name'],
    ['/customerProfile/address/city', 'customer address'],
    ['/inviteContext/assistanceRequestCode', 'How can Microsoft help?'],
    ['/details/requirements/additionalRequirements/attributes', 'partner role'],
  ])('R11 %s is create-only (%s)', (path, label) => {
    expect(createOnlyFieldOf(path)?.label).toContain(label);
  });
});

describe('checkPatch', () => {
  it('accepts replace and add on allowed paths', () => {
    expect(
      checkPatch([
        { op: 'replace', path: '/status', value: 'Closed' },
        { op: 'replace', path: '/substatus', value: 'Won' },
        { op: 'replace', path: '/details/dealValue', value: '10000' },
        { op: 'add', path: '/details/requirements/solutions/-', value: { id: 'SOL-1' } },
      ]),
    ).toEqual([]);
  });

  it('R11 returns every problem, naming the path and saying when it is create-only', () => {
    const problems = checkPatch([
      { op: 'remove', path: '/details/notes' },
      { op: 'replace', path: '/name', value: 'New name' },
      { op: 'replace', path: '/customerProfile/address/country', value: 'US' },
      { op: 'replace', path: '/eTag', value: 'x' },
      { op: 'replace', path: '/team/-', value: {} },
      { op: 'replace', path: '/details/currency' },
      'nonsense',
    ]);
    expect(problems.map((p) => [p.index, p.rule])).toEqual([
      [0, 'patch-op'],
      [0, 'patch-value'],
      [1, 'patch-path'],
      [2, 'patch-path'],
      [3, 'patch-path'],
      [4, 'patch-op'],
      [5, 'patch-value'],
      [6, 'patch-shape'],
    ]);
    expect(problems[2]!.message).toBe(
      "Path '/name' cannot be patched: the referral name is create-only in Partner Center (it can only be set when the referral is created).",
    );
    expect(problems[3]!.message).toContain("'/customerProfile/address/country'");
    expect(problems[3]!.message).toContain('customer address is create-only');
    expect(problems[4]!.message).toContain(
      "Path '/eTag' cannot be patched: Partner Center accepts only /campaignId",
    );
    expect(problems[5]!.message).toContain("use op 'add'");
  });

  it('refuses a body that is not an array', () => {
    expect(checkPatch({ op: 'replace' })[0]!.rule).toBe('patch-shape');
  });

  it('accepts deal registration paths only when asked to', () => {
    const ops = [{ op: 'replace', path: '/registrations/0/contract/value', value: 5 }];
    expect(checkPatch(ops)).toHaveLength(1);
    expect(checkPatch(ops, { allowRegistrations: true })).toEqual([]);
  });
});

describe('createOnlyFieldsChanged (R11 audit lines)', () => {
  const before = {
    name: 'Contoso deal',
    customerProfile: { name: 'Contoso', address: { city: 'Redmond', country: 'US' } },
    inviteContext: { assistanceRequestCode: 'GeneralOrOther' },
    details: { dealValue: 10 },
  };

  it('lists changed create-only fields and ignores patchable ones', () => {
    const after = {
      name: 'Contoso deal (renamed)',
      customerProfile: { name: 'Contoso', address: { city: 'Seattle', country: 'US' } },
      details: { dealValue: 20 },
    };
    expect(createOnlyFieldsChanged(before, after)).toEqual([
      { path: 'name', label: 'referral name', before: 'Contoso deal', after: 'Contoso deal (renamed)' },
      {
        path: 'customerProfile.address',
        label: 'customer address',
        before: before.customerProfile.address,
        after: after.customerProfile.address,
      },
    ]);
  });

  it('ignores fields the new state does not carry, marks, padding and key order', () => {
    const after = {
      name: ' Contoso deal ✔',
      customerProfile: { address: { country: 'US', city: 'Redmond ', state: null } },
    };
    expect(createOnlyFieldsChanged(before, after)).toEqual([]);
  });
});
