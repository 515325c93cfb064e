import { describe, expect, it } from 'vitest';
import { ASSISTANCE_PICKLIST, PACKAGE_OBJECTS, PERMISSION_SET } from './fields.ts';
import { loadPackageSchema } from './package-schema.ts';
import { parseSalesforceSettings } from './settings.ts';

describe('packaging/salesforce vs the adapter', async () => {
  const pkg = await loadPackageSchema();
  const field = (object: string, name: string) =>
    pkg.objects.find((o) => o.name === object)?.fields.find((f) => f.name === name);

  it('R18 every custom field the adapter uses by default is shipped, with the type the adapter expects', () => {
    const s = parseSalesforceSettings();
    const expected: [string, string, string][] = [
      ['Opportunity', s.fields.syncFlag, 'Checkbox'],
      ['Opportunity', s.fields.referralId, 'Text'],
      ['Opportunity', s.fields.referralLink, 'Url'],
      ['Opportunity', s.fields.audit, 'LongTextArea'],
      ['Opportunity', s.fields.assistance, 'Picklist'],
      ['Opportunity', s.fields.visibility, 'Checkbox'],
      ['Opportunity', s.fields.microsoftCrmId, 'Text'],
      ['Lead', s.fields.syncFlag, 'Checkbox'],
      ['Lead', s.fields.referralId, 'Text'],
      ['Lead', s.fields.referralLink, 'Url'],
      ['Lead', s.fields.audit, 'LongTextArea'],
      ['Lead', s.fields.microsoftCrmId, 'Text'],
      [s.solutions.catalogueObject, s.solutions.catalogueSolutionId, 'Text'],
      [s.solutions.catalogueObject, s.solutions.catalogueSolutionName, 'Text'],
      [s.solutions.junctionObject, s.solutions.junctionDeal, 'MasterDetail'],
      [s.solutions.junctionObject, s.solutions.junctionSolution, 'Lookup'],
    ];
    for (const [object, name, type] of expected) {
      expect(field(object, name), `${object}.${name}`).toMatchObject({ type });
    }
    expect(
      pkg.objects
        .filter((o) => o.custom)
        .map((o) => o.name)
        .sort(),
    ).toEqual(Object.values(PACKAGE_OBJECTS).sort());
  });

  it('R18 the upsert keys are External ID + Unique and the audit holds 100000 characters', () => {
    const s = parseSalesforceSettings();
    expect(field('Opportunity', s.fields.referralId)).toMatchObject({
      externalId: true,
      unique: true,
      length: 100,
    });
    expect(field('Lead', s.fields.referralId)).toMatchObject({ externalId: true, unique: true });
    expect(field(s.solutions.catalogueObject, s.solutions.catalogueSolutionId)).toMatchObject({
      externalId: true,
      unique: true,
    });
    expect(field('Opportunity', s.fields.audit)?.length).toBe(100_000);
  });

  it('R18 the picklist ships exactly the six labels the adapter maps', () => {
    const picklist = field('Opportunity', parseSalesforceSettings().fields.assistance);
    expect(picklist?.restrictedPicklist).toBe(true);
    expect(picklist?.picklistValues).toEqual(Object.values(ASSISTANCE_PICKLIST));
  });

  it('R28 the permission set grants read and edit on every custom field except master-detail', () => {
    expect(pkg.permissionSet?.name).toBe(PERMISSION_SET);
    const granted = new Map(pkg.permissionSet?.fields.map((f) => [f.field, f]));
    for (const object of pkg.objects) {
      for (const f of object.fields) {
        if (f.type === 'MasterDetail') continue;
        expect(granted.get(`${object.name}.${f.name}`), `${object.name}.${f.name}`).toMatchObject({
          readable: true,
          editable: true,
        });
      }
    }
  });
});
