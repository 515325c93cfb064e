import { describe, expect, it } from 'vitest';
import {
  crmUpdateFor,
  diffAgainstSnapshot,
  type FieldChange,
  referralPatchFor,
  snapshotAfter,
  writesToCrm,
  writesToReferral,
} from './diff.ts';
import {
  DEFAULT_MAPPING,
  type FieldMapping,
  readCrmValues,
  readReferralValues,
  type Values,
} from './mapping.ts';
import { checkPatch } from './patchable.ts';

const mapping: FieldMapping[] = DEFAULT_MAPPING.filter((m) =>
  ['name', 'dealValue', 'closeDate', 'notes', 'microsoftCrmId', 'solutions', 'status'].includes(m.field),
).map((m) => ({ ...m, crmField: m.crmField.replace(/[{}]/g, '') }));

const snapshot: Values = {
  name: 'Contoso deal',
  dealValue: '1000',
  closeDate: '2026-12-31',
  notes: 'Call the CIO',
  microsoftCrmId: null,
  solutions: ['sol-1'],
  status: 'Accepted',
};

const run = (referral: Partial<Values>, crm: Partial<Values>, snap: Values | null = snapshot) =>
  diffAgainstSnapshot({
    referral: { ...snapshot, ...referral } as Values,
    crm: { ...snapshot, ...crm } as Values,
    snapshot: snap,
    mapping,
  });
const byField = (diff: ReturnType<typeof run>) =>
  Object.fromEntries(diff.fields.map((f) => [f.field, [f.change, f.winner ?? null, f.value]]));

describe('diffAgainstSnapshot (DESIGN §3)', () => {
  it('R6 nothing changed: zero writes', () => {
    const diff = run({}, {});
    expect(diff.changed).toBe(false);
    expect(diff.fields.every((f) => f.change === 'unchanged')).toBe(true);
    expect(writesToCrm(diff)).toEqual([]);
    expect(writesToReferral(diff)).toEqual([]);
  });

  it.each<[string, Partial<Values>, Partial<Values>, string, FieldChange, string | null, unknown]>([
    [
      'R13 deal value edited in the CRM goes to Partner Center',
      {},
      { dealValue: '1200' },
      'dealValue',
      'changedInCrm',
      'crm',
      '1200',
    ],
    [
      'R6 notes edited in Partner Center go to the CRM',
      { notes: 'New' },
      {},
      'notes',
      'changedInPartnerCenter',
      'partnerCenter',
      'New',
    ],
    [
      'R7 Microsoft CRM id arrives from Partner Center',
      { microsoftCrmId: '7-X' },
      {},
      'microsoftCrmId',
      'changedInPartnerCenter',
      'partnerCenter',
      '7-X',
    ],
    [
      'a CRM edit of a Partner Center-only field is written back',
      {},
      { microsoftCrmId: 'typo' },
      'microsoftCrmId',
      'changedInCrm',
      'partnerCenter',
      null,
    ],
    [
      'conflict on a CRM-owned field: the CRM wins',
      { closeDate: '2027-01-31' },
      { closeDate: '2027-02-28' },
      'closeDate',
      'conflict',
      'crm',
      '2027-02-28',
    ],
    [
      'both sides changed to the same value: unchanged',
      { dealValue: '5' },
      { dealValue: '5' },
      'dealValue',
      'unchanged',
      null,
      '5',
    ],
    ['R13 won in the CRM closes the referral', {}, { status: 'Won' }, 'status', 'changedInCrm', 'crm', 'Won'],
    [
      'R30 Expired from Partner Center beats a CRM stage move',
      { status: 'Expired' },
      { status: 'Won' },
      'status',
      'conflict',
      'partnerCenter',
      'Expired',
    ],
    [
      'R15 a solution added in the CRM',
      {},
      { solutions: ['sol-1', 'sol-2'] },
      'solutions',
      'changedInCrm',
      'crm',
      ['sol-1', 'sol-2'],
    ],
  ])('%s', (_title, referral, crm, field, change, winner, value) => {
    expect(byField(run(referral, crm))[field]).toEqual([change, winner, value]);
  });

  it('echo suppression: our own write coming back with equal normalised values is unchanged', () => {
    const referral = readReferralValues(
      {
        name: 'Contoso deal',
        details: {
          dealValue: 1000.0,
          closingDateTime: '2026-12-31T00:00:00.0000000Z',
          notes: 'Call the CIO ',
          requirements: { solutions: [{ id: 'SOL-1' }] },
        },
        substatus: 'Accepted',
      },
      mapping,
    );
    const diff = diffAgainstSnapshot({ referral, crm: snapshot, snapshot, mapping });
    expect(diff.changed).toBe(false);
  });

  it('R20 a ✔ mark added to the CRM name is not a change', () => {
    const crm = { ...snapshot, ...readCrmValues({ nameField: 'Contoso deal ✔' }, mapping) };
    expect(crm['name']).toBe('Contoso deal');
    expect(diffAgainstSnapshot({ referral: snapshot, crm, snapshot, mapping }).changed).toBe(false);
  });

  it('a side that says nothing about a field is taken as unchanged', () => {
    const { notes: _omit, ...crm } = snapshot;
    const diff = diffAgainstSnapshot({ referral: { ...snapshot, notes: 'PC' }, crm, snapshot, mapping });
    expect(byField(diff)['notes']).toEqual(['changedInPartnerCenter', 'partnerCenter', 'PC']);
  });

  it('R4 first sync without snapshot: empty sides take the other value, real differences go to the owner', () => {
    const diff = diffAgainstSnapshot({
      referral: { name: 'From PC', dealValue: '100', notes: null, microsoftCrmId: '7-X' },
      crm: { name: 'From CRM', dealValue: null, notes: 'CRM notes', microsoftCrmId: null },
      snapshot: null,
      mapping,
    });
    const fields = byField(diff);
    expect(fields['name']).toEqual(['conflict', 'crm', 'From CRM']);
    expect(fields['dealValue']).toEqual(['changedInPartnerCenter', 'partnerCenter', '100']);
    expect(fields['notes']).toEqual(['changedInCrm', 'crm', 'CRM notes']);
    expect(fields['microsoftCrmId']).toEqual(['changedInPartnerCenter', 'partnerCenter', '7-X']);
  });

  it('writes, snapshot and CRM update follow the winners', () => {
    const diff = run({ notes: 'New', microsoftCrmId: '7-X' }, { dealValue: '1200', status: 'Won' });
    expect(writesToCrm(diff).map((f) => f.field)).toEqual(['notes', 'microsoftCrmId']);
    expect(writesToReferral(diff).map((f) => f.field)).toEqual(['dealValue', 'status']);
    expect(crmUpdateFor(writesToCrm(diff))).toEqual({ notesField: 'New', microsoftCrmIdField: '7-X' });
    expect(snapshotAfter(diff)).toEqual({
      ...snapshot,
      notes: 'New',
      microsoftCrmId: '7-X',
      dealValue: '1200',
      status: 'Won',
    });
  });

  it('R11/R13 referral writes become an allowed JSON Patch; create-only fields are set aside', () => {
    const diff = run(
      {},
      {
        name: 'Renamed',
        dealValue: '1200',
        closeDate: '2027-01-31',
        status: 'Won',
        solutions: ['sol-1', 'sol-9'],
      },
    );
    const { ops, createOnly } = referralPatchFor(writesToReferral(diff), {
      solutions: [{ id: 'SOL-1', name: 'One' }, { id: 'SOL-9' }],
    });
    expect(ops).toEqual([
      { op: 'replace', path: '/details/dealValue', value: 1200 },
      { op: 'replace', path: '/details/closingDateTime', value: '2027-01-31T00:00:00Z' },
      {
        op: 'replace',
        path: '/details/requirements/solutions',
        value: [{ id: 'SOL-1', name: 'One' }, { id: 'SOL-9' }],
      },
      { op: 'replace', path: '/status', value: 'Closed' },
      { op: 'replace', path: '/substatus', value: 'Won' },
    ]);
    expect(checkPatch(ops)).toEqual([]);
    expect(createOnly.map((f) => f.field)).toEqual(['name']);
  });
});
