// The package as this deployment uses it: an existing installation may keep its own field and object names
// (R32) and its own "How can Microsoft help?" values (R22), so doctor and `start` compare the org with the
// names the config gives, never the shipped ones it does not use.
import { PACKAGE_FIELDS, PACKAGE_OBJECTS } from './fields.ts';
import { assistanceValues } from './mapping.ts';
import type { PackageSchema } from './package-schema.ts';
import type { SalesforceSettings } from './settings.ts';

/** Shipped name → configured name, per object. */
function renames(s: SalesforceSettings): Map<string, Map<string, string>> {
  const f = s.fields;
  const deal = new Map<string, string>([
    [PACKAGE_FIELDS.syncFlag, f.syncFlag],
    [PACKAGE_FIELDS.referralId, f.referralId],
    [PACKAGE_FIELDS.referralLink, f.referralLink],
    [PACKAGE_FIELDS.audit, f.audit],
    [PACKAGE_FIELDS.assistance, f.assistance],
    [PACKAGE_FIELDS.visibility, f.visibility],
    [PACKAGE_FIELDS.microsoftCrmId, f.microsoftCrmId],
    [PACKAGE_FIELDS.responseDeadline, f.responseDeadline],
    [PACKAGE_FIELDS.partnerRole, f.partnerRole],
    [PACKAGE_FIELDS.solutionArea, f.solutionArea],
    [PACKAGE_FIELDS.solutionPlay, f.solutionPlay],
  ]);
  return new Map([
    ['Opportunity', deal],
    ['Lead', deal],
    [
      PACKAGE_OBJECTS.solutionCatalogue,
      new Map([
        [PACKAGE_FIELDS.catalogueSolutionId, s.solutions.catalogueSolutionId],
        [PACKAGE_FIELDS.catalogueSolutionName, s.solutions.catalogueSolutionName],
      ]),
    ],
    [
      PACKAGE_OBJECTS.solutionJunction,
      new Map([
        [PACKAGE_FIELDS.junctionDeal, s.solutions.junctionDeal],
        [PACKAGE_FIELDS.junctionSolution, s.solutions.junctionSolution],
      ]),
    ],
  ]);
}

export function configuredPackage(pkg: PackageSchema, s: SalesforceSettings): PackageSchema {
  const byObject = renames(s);
  const objectName = new Map<string, string>([
    [PACKAGE_OBJECTS.solutionCatalogue, s.solutions.catalogueObject],
    [PACKAGE_OBJECTS.solutionJunction, s.solutions.junctionObject],
  ]);
  const assistance = assistanceValues(s).crmValues();
  return {
    ...pkg,
    objects: pkg.objects.map((object) => {
      const name = objectName.get(object.name) ?? object.name;
      const fields = byObject.get(object.name);
      return {
        ...object,
        name,
        fields: object.fields.map((field) => {
          const renamed = fields?.get(field.name) ?? field.name;
          return {
            ...field,
            object: name,
            name: renamed,
            ...(field.name === PACKAGE_FIELDS.assistance ? { picklistValues: assistance } : {}),
            ...(field.referenceTo && objectName.has(field.referenceTo)
              ? { referenceTo: objectName.get(field.referenceTo) }
              : {}),
          };
        }),
      };
    }),
  };
}
