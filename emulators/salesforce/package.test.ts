import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PACKAGE_DIR, readSalesforcePackage } from './package-files.ts';
import { INTEGRATION_PERMISSION_SET, loadSchema } from './schema.ts';
import {
  HOW_CAN_MICROSOFT_HELP_VALUES,
  SHIPPED_CUSTOM_FIELDS,
  SHIPPED_CUSTOM_OBJECTS,
} from './shipped-fields.ts';

const pkg = readSalesforcePackage();

describe('packaging/salesforce (the shipped schema)', () => {
  it('R18 every field of the shipped field list is in the package with its type, length and key flags', () => {
    for (const expected of SHIPPED_CUSTOM_FIELDS) {
      const field = pkg.fields.find((f) => f.object === expected.object && f.fullName === expected.field);
      expect(field, `${expected.object}.${expected.field}`).toBeDefined();
      expect(field?.type).toBe(expected.type);
      if (expected.length !== undefined) expect(field?.length).toBe(expected.length);
      expect(field?.externalId).toBe(expected.externalId ?? false);
      expect(field?.unique).toBe(expected.unique ?? false);
      if (expected.referenceTo) expect(field?.referenceTo).toBe(expected.referenceTo);
    }
    // …and nothing ships that the list does not name (the adapter's list is checked against this one).
    expect(pkg.fields.map((f) => `${f.object}.${f.fullName}`).sort()).toEqual(
      SHIPPED_CUSTOM_FIELDS.map((f) => `${f.object}.${f.field}`).sort(),
    );
  });

  it('R18 How can Microsoft help? is a restricted picklist with exactly the six values', () => {
    const field = pkg.fields.find(
      (f) => f.object === 'Opportunity' && f.fullName === 'How_can_Microsoft_help__c',
    );
    expect(field?.restricted).toBe(true);
    expect(field?.values.map((v) => v.fullName)).toEqual([...HOW_CAN_MICROSOFT_HELP_VALUES]);
    expect(field?.values.map((v) => v.label)).toEqual([...HOW_CAN_MICROSOFT_HELP_VALUES]);
  });

  it('R18 field details from the connector seed: checkbox default off, audit 100000 with 4 lines, visibility label', () => {
    const get = (object: string, name: string) =>
      pkg.fields.find((f) => f.object === object && f.fullName === name);
    expect(get('Opportunity', 'Sync_with_Partner_Center__c')?.defaultValue).toBe('false');
    expect(get('Opportunity', 'Audit__c')?.visibleLines).toBe(4);
    expect(get('Opportunity', 'Products__c')?.description).toMatch(/obsolete/i);
    expect(get('Opportunity', 'Referral_Visibility__c')?.label).toBe(
      'Microsoft Partner Center Referral Visibility',
    );
  });

  it('R18 ships the solution catalogue and the junction object with their labels', () => {
    expect(pkg.objects.map((o) => o.fullName).sort()).toEqual([...SHIPPED_CUSTOM_OBJECTS].sort());
    const catalogue = pkg.objects.find((o) => o.fullName === 'Microsoft_Solution_Detail__c');
    const junction = pkg.objects.find((o) => o.fullName === 'Microsoft_Partner_Center_Solution__c');
    expect(catalogue?.label).toBe('Microsoft Solution Details');
    expect(junction?.pluralLabel).toBe('Microsoft Partner Center Solutions');
    expect(junction?.sharingModel).toBe('ControlledByParent');
    expect(catalogue?.deploymentStatus).toBe('Deployed');
  });

  it('R18 the permission set grants read+edit on every custom field it may carry and access to the objects', () => {
    const permset = pkg.permissionSets.find((p) => p.name === INTEGRATION_PERMISSION_SET);
    expect(permset).toBeDefined();
    for (const field of pkg.fields) {
      const key = `${field.object}.${field.fullName}`;
      // Salesforce refuses field permissions on required and master-detail fields: the object grants them.
      if (field.required || field.type === 'MasterDetail') {
        expect(permset?.fields.has(key), key).toBe(false);
        continue;
      }
      expect(permset?.fields.get(key), key).toEqual({ readable: true, editable: true });
    }
    for (const object of SHIPPED_CUSTOM_OBJECTS) {
      expect(permset?.objects.get(object)).toMatchObject({
        read: true,
        create: true,
        edit: true,
        delete: true,
      });
    }
  });

  it('R18 manifest/package.xml lists every field, object and the permission set', () => {
    expect(pkg.manifest.get('CustomField')?.sort()).toEqual(
      pkg.fields.map((f) => `${f.object}.${f.fullName}`).sort(),
    );
    expect(pkg.manifest.get('CustomObject')?.sort()).toEqual([...SHIPPED_CUSTOM_OBJECTS].sort());
    expect(pkg.manifest.get('PermissionSet')).toEqual([INTEGRATION_PERMISSION_SET]);
    expect(pkg.manifestVersion).toMatch(/^\d+\.0$/);
    const project = JSON.parse(readFileSync(join(DEFAULT_PACKAGE_DIR, 'sfdx-project.json'), 'utf8')) as {
      packageDirectories: { path: string; default: boolean }[];
      sourceApiVersion: string;
    };
    expect(project.packageDirectories).toEqual([{ path: 'force-app', default: true }]);
    expect(project.sourceApiVersion).toBe(pkg.manifestVersion);
  });

  it('R18 the emulator schema is built from the package; bare mode has none of it', () => {
    const full = loadSchema();
    for (const expected of SHIPPED_CUSTOM_FIELDS) {
      expect(full.objects.get(expected.object)?.fields.has(expected.field), expected.field).toBe(true);
    }
    const bare = loadSchema({ bare: true });
    for (const expected of SHIPPED_CUSTOM_FIELDS) {
      expect(bare.objects.get(expected.object)?.fields.has(expected.field) ?? false).toBe(false);
    }
    for (const object of SHIPPED_CUSTOM_OBJECTS) expect(bare.objects.has(object)).toBe(false);
  });
});
