/** Field types as `describe` reports them (the subset the emulated objects use). */
export type FieldType =
  | 'id'
  | 'string'
  | 'textarea'
  | 'boolean'
  | 'picklist'
  | 'reference'
  | 'date'
  | 'datetime'
  | 'double'
  | 'currency'
  | 'percent'
  | 'int'
  | 'url'
  | 'email'
  | 'phone';

export interface PicklistValue {
  value: string;
  label: string;
  active: boolean;
  defaultValue: boolean;
}

export interface FieldDef {
  name: string;
  label: string;
  type: FieldType;
  /** Characters for text types, 0 otherwise (as describe reports). */
  length: number;
  precision: number;
  scale: number;
  nillable: boolean;
  createable: boolean;
  updateable: boolean;
  /** Must be given on create (describe: not nillable, createable, no default). */
  required: boolean;
  externalId: boolean;
  unique: boolean;
  caseSensitive: boolean;
  custom: boolean;
  picklistValues: PicklistValue[];
  restrictedPicklist: boolean;
  referenceTo: string[];
  relationshipName: string | null;
  /** Master-detail: the child's access follows the parent, and the field cannot be in a permission set. */
  cascadeDelete: boolean;
  defaultValue: string | number | boolean | null;
  /** Filled by the store (derived values, audit stamps); never from a request. */
  calculated: boolean;
  description?: string;
  inlineHelpText?: string;
  extraTypeInfo?: string;
}

export interface ChildRelationship {
  childSObject: string;
  field: string;
  relationshipName: string;
  cascadeDelete: boolean;
  /** Lookup with `deleteConstraint` Restrict: the parent cannot be deleted while children point at it. */
  restrictedDelete: boolean;
}

export interface ObjectDef {
  name: string;
  label: string;
  labelPlural: string;
  keyPrefix: string;
  custom: boolean;
  createable: boolean;
  updateable: boolean;
  deletable: boolean;
  /** Field name → definition, in describe order. */
  fields: Map<string, FieldDef>;
  childRelationships: ChildRelationship[];
  /** For AutoNumber name fields (custom objects): the display format, e.g. `MPCS-{000000}`. */
  autoNumberFormat?: string;
}

/** Partial field spec used by the data modules; `fieldDef` fills the describe defaults. */
export type FieldSpec = Partial<FieldDef> & Pick<FieldDef, 'name' | 'type'>;

export function fieldDef(spec: FieldSpec): FieldDef {
  const custom = spec.name.endsWith('__c');
  const nillable = spec.nillable ?? spec.type !== 'boolean';
  const createable = spec.createable ?? true;
  const defaultValue = spec.defaultValue ?? (spec.type === 'boolean' ? false : null);
  return {
    label: spec.name,
    length: 0,
    precision: 0,
    scale: 0,
    updateable: createable,
    required: false,
    externalId: false,
    unique: false,
    caseSensitive: false,
    custom,
    picklistValues: [],
    restrictedPicklist: false,
    referenceTo: [],
    relationshipName: null,
    cascadeDelete: false,
    calculated: false,
    ...spec,
    nillable,
    createable,
    defaultValue,
  };
}
