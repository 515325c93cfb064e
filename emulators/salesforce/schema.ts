/**
 * The emulated org's schema: standard objects from `standard-objects.ts` plus the custom fields and objects of
 * the shipped package (`packaging/salesforce/`), and what the integration user may see through the permission
 * set. `bare: true` gives an org where the package was never deployed.
 */
import {
  type PackageField,
  type PackageObject,
  type PermissionSetGrants,
  readSalesforcePackage,
  type SalesforcePackage,
} from './package-files.ts';
import {
  currencyField,
  customObjectSystemFields,
  STANDARD_CHILD_RELATIONSHIPS,
  standardObjects,
} from './standard-objects.ts';
import { type FieldDef, type FieldType, fieldDef, type ObjectDef } from './types.ts';

export const INTEGRATION_PERMISSION_SET = 'Cosell_Integration';

export interface LoadSchemaOptions {
  bare?: boolean;
  multiCurrency?: boolean;
  packageDir?: string;
}

export interface Schema {
  objects: Map<string, ObjectDef>;
  /** Grants of the shipped permission set; empty in a bare org. */
  permissionSet: PermissionSetGrants | undefined;
  multiCurrency: boolean;
}

/** Who is asking: the API integration user (FLS applies) or a seller in the UI (sees everything). */
export interface AccessView {
  kind: 'api' | 'ui';
  permissionSetAssigned: boolean;
  /**
   * `Object.Field` names whose grant an admin weakened in the org's copy of the permission set (control API):
   * read-only ones describe as not createable/updateable, hidden ones are absent.
   */
  readOnlyFields?: ReadonlySet<string>;
  hiddenFields?: ReadonlySet<string>;
}

const LENGTHLESS_TYPES: Record<string, { type: FieldType; length: number }> = {
  Url: { type: 'url', length: 255 },
  Email: { type: 'email', length: 80 },
  Phone: { type: 'phone', length: 40 },
  TextArea: { type: 'textarea', length: 255 },
};

function customFieldDef(field: PackageField): FieldDef {
  const common = {
    name: field.fullName,
    label: field.label,
    description: field.description,
    inlineHelpText: field.inlineHelpText,
    externalId: field.externalId,
    unique: field.unique,
    caseSensitive: field.caseSensitive,
    nillable: !field.required,
    required: field.required,
  };
  switch (field.type) {
    case 'Checkbox':
      return fieldDef({
        ...common,
        type: 'boolean',
        nillable: false,
        defaultValue: field.defaultValue === 'true',
      });
    case 'Text':
      return fieldDef({ ...common, type: 'string', length: field.length ?? 255 });
    case 'LongTextArea':
    case 'Html':
      return fieldDef({
        ...common,
        type: 'textarea',
        length: field.length ?? 32768,
        extraTypeInfo: 'plaintextarea',
      });
    case 'Picklist':
      return fieldDef({
        ...common,
        type: 'picklist',
        length: 255,
        restrictedPicklist: field.restricted,
        picklistValues: field.values.map((v) => ({
          value: v.fullName,
          label: v.label,
          active: true,
          defaultValue: v.default,
        })),
      });
    case 'Number':
    case 'Currency':
    case 'Percent':
      return fieldDef({
        ...common,
        type: field.type === 'Number' ? 'double' : field.type === 'Currency' ? 'currency' : 'percent',
        precision: field.precision ?? 18,
        scale: field.scale ?? 0,
      });
    case 'Date':
      return fieldDef({ ...common, type: 'date' });
    case 'DateTime':
      return fieldDef({ ...common, type: 'datetime' });
    case 'Lookup':
    case 'MasterDetail': {
      const isMaster = field.type === 'MasterDetail';
      return fieldDef({
        ...common,
        type: 'reference',
        length: 18,
        referenceTo: field.referenceTo ? [field.referenceTo] : [],
        relationshipName: field.fullName.replace(/__c$/, '__r'),
        nillable: isMaster ? false : common.nillable,
        required: isMaster || common.required,
        cascadeDelete: isMaster,
      });
    }
    default: {
      const simple = LENGTHLESS_TYPES[field.type];
      if (!simple)
        throw new Error(`Field ${field.object}.${field.fullName}: type ${field.type} is not emulated`);
      return fieldDef({ ...common, type: simple.type, length: field.length ?? simple.length });
    }
  }
}

function customObjectDef(object: PackageObject, keyPrefix: string, multiCurrency: boolean): ObjectDef {
  const fields = new Map<string, FieldDef>();
  const system = customObjectSystemFields({ hasOwner: object.sharingModel !== 'ControlledByParent' });
  const [id, ...rest] = system;
  if (id) fields.set(id.name, id);
  const isAutoNumber = object.nameFieldType === 'AutoNumber';
  fields.set(
    'Name',
    fieldDef({
      name: 'Name',
      label: object.nameFieldLabel,
      type: 'string',
      length: isAutoNumber ? 30 : 80,
      nillable: isAutoNumber,
      required: !isAutoNumber,
      createable: !isAutoNumber,
      updateable: !isAutoNumber,
      calculated: isAutoNumber,
    }),
  );
  for (const field of rest) fields.set(field.name, field);
  if (multiCurrency) fields.set('CurrencyIsoCode', currencyField());
  return {
    name: object.fullName,
    label: object.label,
    labelPlural: object.pluralLabel,
    keyPrefix,
    custom: true,
    createable: true,
    updateable: true,
    deletable: true,
    fields,
    childRelationships: [],
    autoNumberFormat: isAutoNumber ? (object.displayFormat ?? '{0}') : undefined,
  };
}

/** Custom objects get key prefixes a0A, a0B, … in name order, so ids are stable across runs. */
function customKeyPrefix(index: number): string {
  return `a0${String.fromCharCode(65 + index)}`;
}

export function loadSchema(options: LoadSchemaOptions = {}): Schema {
  const multiCurrency = options.multiCurrency ?? false;
  const objects = new Map<string, ObjectDef>();
  for (const object of standardObjects({ multiCurrency })) objects.set(object.name, object);
  let permissionSet: PermissionSetGrants | undefined;
  if (!options.bare) {
    const pkg: SalesforcePackage = readSalesforcePackage(options.packageDir);
    pkg.objects
      .slice()
      .sort((a, b) => a.fullName.localeCompare(b.fullName))
      .forEach((object, index) => {
        objects.set(object.fullName, customObjectDef(object, customKeyPrefix(index), multiCurrency));
      });
    for (const field of pkg.fields) {
      const object = objects.get(field.object);
      if (!object)
        throw new Error(`Package field ${field.object}.${field.fullName}: object is not in the org`);
      object.fields.set(field.fullName, customFieldDef(field));
    }
    for (const field of pkg.fields) {
      if (
        (field.type === 'Lookup' || field.type === 'MasterDetail') &&
        field.referenceTo &&
        field.relationshipName
      ) {
        objects.get(field.referenceTo)?.childRelationships.push({
          childSObject: field.object,
          field: field.fullName,
          relationshipName: `${field.relationshipName}__r`,
          cascadeDelete: field.type === 'MasterDetail' || field.deleteConstraint === 'Cascade',
          restrictedDelete: field.deleteConstraint === 'Restrict',
        });
      }
    }
    permissionSet = pkg.permissionSets.find((p) => p.name === INTEGRATION_PERMISSION_SET);
  }
  for (const rel of STANDARD_CHILD_RELATIONSHIPS) {
    objects.get(rel.parent)?.childRelationships.push({
      childSObject: rel.child,
      field: rel.field,
      relationshipName: rel.name,
      cascadeDelete: rel.child === 'OpportunityContactRole',
      restrictedDelete: false,
    });
  }
  return { objects, permissionSet, multiCurrency };
}

/** Finds an object by API name, case-insensitively as Salesforce does. */
export function findObject(schema: Schema, name: string): ObjectDef | undefined {
  const exact = schema.objects.get(name);
  if (exact) return exact;
  const lower = name.toLowerCase();
  for (const object of schema.objects.values()) if (object.name.toLowerCase() === lower) return object;
  return undefined;
}

export function findObjectByKeyPrefix(schema: Schema, keyPrefix: string): ObjectDef | undefined {
  for (const object of schema.objects.values()) if (object.keyPrefix === keyPrefix) return object;
  return undefined;
}

/**
 * The integration user gets custom schema only through the permission set (its profile grants no custom
 * fields), so with the set unassigned custom objects and fields are invisible to the API, as in a real org.
 */
export function isObjectVisible(schema: Schema, object: ObjectDef, view: AccessView): boolean {
  if (view.kind === 'ui' || !object.custom) return true;
  return view.permissionSetAssigned && (schema.permissionSet?.objects.get(object.name)?.read ?? false);
}

/** The field as this viewer sees it (describe flags adjusted by FLS), or undefined when invisible. */
export function visibleField(
  schema: Schema,
  object: ObjectDef,
  field: FieldDef,
  view: AccessView,
): FieldDef | undefined {
  if (view.kind === 'ui' || !field.custom) return field;
  // Required and master-detail fields cannot carry field permissions: access follows the object.
  if (field.required || field.cascadeDelete) return isObjectVisible(schema, object, view) ? field : undefined;
  if (!view.permissionSetAssigned) return undefined;
  const key = `${object.name}.${field.name}`;
  const grant = schema.permissionSet?.fields.get(key);
  if (!grant?.readable || view.hiddenFields?.has(key)) return undefined;
  if (grant.editable && !view.readOnlyFields?.has(key)) return field;
  return { ...field, createable: false, updateable: false };
}

export function visibleFields(schema: Schema, object: ObjectDef, view: AccessView): FieldDef[] {
  const out: FieldDef[] = [];
  for (const field of object.fields.values()) {
    const visible = visibleField(schema, object, field, view);
    if (visible) out.push(visible);
  }
  return out;
}

/** Case-insensitive field lookup honouring visibility. */
export function findField(
  schema: Schema,
  object: ObjectDef,
  name: string,
  view: AccessView,
): FieldDef | undefined {
  let field = object.fields.get(name);
  if (!field) {
    const lower = name.toLowerCase();
    for (const candidate of object.fields.values()) {
      if (candidate.name.toLowerCase() === lower) {
        field = candidate;
        break;
      }
    }
  }
  return field ? visibleField(schema, object, field, view) : undefined;
}
