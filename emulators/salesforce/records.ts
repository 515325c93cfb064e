/** Records and describe results in the JSON shapes of the REST API. */
import type { DmlContext } from './dml.ts';
import { type AccessView, findObject, isObjectVisible, type Schema, visibleFields } from './schema.ts';
import type { StoredRecord } from './store.ts';
import type { ObjectDef } from './types.ts';

export function recordUrl(apiVersion: string, type: string, id: string): string {
  return `/services/data/v${apiVersion}/sobjects/${type}/${id}`;
}

export function attributesOf(apiVersion: string, record: StoredRecord): { type: string; url: string } {
  return { type: record.type, url: recordUrl(apiVersion, record.type, record.id) };
}

/** A full record as `GET /sobjects/{type}/{id}` returns it (every visible field, nulls included). */
export function recordBody(
  ctx: DmlContext,
  object: ObjectDef,
  record: StoredRecord,
  apiVersion: string,
  only?: string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = { attributes: attributesOf(apiVersion, record) };
  const wanted = only?.map((f) => f.toLowerCase());
  for (const field of visibleFields(ctx.schema, object, ctx.view)) {
    if (wanted && !wanted.includes(field.name.toLowerCase())) continue;
    out[field.name] = record.values[field.name] ?? null;
  }
  return out;
}

export function describeObject(schema: Schema, object: ObjectDef, view: AccessView, apiVersion: string) {
  // The full describe is the describeGlobal entry plus fields and child relationships.
  return {
    ...describeGlobalEntry(object, apiVersion),
    retrieveable: true,
    searchable: true,
    replicateable: true,
    childRelationships: object.childRelationships
      .filter((rel) => {
        const child = findObject(schema, rel.childSObject);
        return child !== undefined && isObjectVisible(schema, child, view);
      })
      .map((rel) => ({
        childSObject: rel.childSObject,
        field: rel.field,
        relationshipName: rel.relationshipName,
        cascadeDelete: rel.cascadeDelete,
        deprecatedAndHidden: false,
      })),
    fields: visibleFields(schema, object, view).map((f) => ({
      name: f.name,
      label: f.label,
      type: f.type,
      soapType: soapType(f.type),
      length: f.length,
      precision: f.precision,
      scale: f.scale,
      byteLength: f.length * 3,
      custom: f.custom,
      calculated: f.calculated,
      nillable: f.nillable,
      createable: f.createable,
      updateable: f.updateable,
      defaultedOnCreate: f.defaultValue !== null || f.calculated || f.name === 'OwnerId',
      defaultValue: f.type === 'boolean' ? f.defaultValue : null,
      externalId: f.externalId,
      unique: f.unique,
      caseSensitive: f.caseSensitive,
      idLookup: f.name === 'Id' || f.externalId,
      filterable: f.type !== 'textarea' || f.length <= 255,
      sortable: f.type !== 'textarea' || f.length <= 255,
      groupable: f.type !== 'textarea',
      picklistValues: f.picklistValues.map((v) => ({ ...v, validFor: null })),
      restrictedPicklist: f.restrictedPicklist,
      referenceTo: f.referenceTo,
      relationshipName: f.relationshipName,
      cascadeDelete: f.cascadeDelete,
      extraTypeInfo: f.extraTypeInfo ?? null,
      inlineHelpText: f.inlineHelpText ?? null,
      htmlFormatted: false,
      nameField: f.name === 'Name',
      autoNumber: f.name === 'Name' && object.autoNumberFormat !== undefined,
      deprecatedAndHidden: false,
      permissionable: f.custom && !f.required && !f.cascadeDelete,
    })),
  };
}

function soapType(type: string): string {
  switch (type) {
    case 'id':
    case 'reference':
      return 'tns:ID';
    case 'boolean':
      return 'xsd:boolean';
    case 'double':
    case 'currency':
    case 'percent':
      return 'xsd:double';
    case 'int':
      return 'xsd:int';
    case 'date':
      return 'xsd:date';
    case 'datetime':
      return 'xsd:dateTime';
    default:
      return 'xsd:string';
  }
}

export function describeGlobalEntry(object: ObjectDef, apiVersion: string) {
  return {
    name: object.name,
    label: object.label,
    labelPlural: object.labelPlural,
    keyPrefix: object.keyPrefix,
    custom: object.custom,
    createable: object.createable,
    updateable: object.updateable,
    deletable: object.deletable,
    queryable: true,
    urls: {
      sobject: `/services/data/v${apiVersion}/sobjects/${object.name}`,
      describe: `/services/data/v${apiVersion}/sobjects/${object.name}/describe`,
      rowTemplate: `/services/data/v${apiVersion}/sobjects/${object.name}/{ID}`,
    },
  };
}
