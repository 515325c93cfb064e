/**
 * Insert/update/delete/upsert with Salesforce's validation and side effects: unknown and read-only fields,
 * required fields, restricted picklists, lengths, references, unique values, timestamps and derived fields.
 * Everything is synchronous so a composite request or collection runs as one transaction.
 */
import { apiError, dmlError, notFound, SalesforceApiError, type SalesforceErrorItem } from './errors.ts';
import { keyPrefixOf, makeId, normaliseId } from './ids.ts';
import {
  type AccessView,
  findField,
  findObject,
  findObjectByKeyPrefix,
  isObjectVisible,
  type Schema,
  visibleFields,
} from './schema.ts';
import { indexKeyOf, keyOfId } from './soql.ts';
import { OPPORTUNITY_STAGES } from './standard-objects.ts';
import type { FieldValue, RecordStore, StoredRecord } from './store.ts';
import { formatDateTime, isValidDate, parseDateTime, systemStamp } from './time.ts';
import type { FieldDef, ObjectDef } from './types.ts';

export interface DmlContext {
  schema: Schema;
  store: RecordStore;
  view: AccessView;
  /** The acting user (integration user for the API, a seller for the UI control API). */
  userId: string;
  now: () => Date;
}

type Body = Record<string, unknown>;

/** Resolves an sObject type named in a URL; unknown or invisible types are 404 like a real org. */
export function objectFromPath(ctx: DmlContext, name: string): ObjectDef {
  const object = findObject(ctx.schema, name);
  if (!object || !isObjectVisible(ctx.schema, object, ctx.view)) throw notFound();
  return object;
}

/** Resolves an sObject type named in a body (`attributes.type`); unknown types are INVALID_TYPE. */
export function objectFromBody(ctx: DmlContext, name: unknown): ObjectDef {
  const object = typeof name === 'string' ? findObject(ctx.schema, name) : undefined;
  if (!object || !isObjectVisible(ctx.schema, object, ctx.view)) {
    throw dmlError('INVALID_TYPE', `sObject type '${String(name)}' is not supported.`);
  }
  return object;
}

/** Finds a live record by the id in a URL, with Salesforce's answers for bad, foreign and deleted ids. */
export function recordFromPath(ctx: DmlContext, object: ObjectDef, rawId: string): StoredRecord {
  const id = normaliseId(rawId);
  if (!id || keyPrefixOf(id) !== object.keyPrefix) {
    throw notFound(`Provided external ID field does not exist or is not accessible: ${rawId}`);
  }
  const record = ctx.store.get(object.name, id);
  if (!record) throw notFound();
  if (record.isDeleted) throw apiError(404, 'ENTITY_IS_DELETED', 'entity is deleted');
  return record;
}

function labelFor(field: FieldDef): string {
  return field.type === 'reference' ? `${field.label.replace(/Id$/, '')} ID` : field.label;
}

function jsonError(field: FieldDef, value: unknown): SalesforceApiError {
  return apiError(
    400,
    'JSON_PARSER_ERROR',
    `Cannot deserialize instance of ${field.type} from ${typeof value} value ${JSON.stringify(value)} or request may be missing a required field`,
  );
}

/** Live records of an object whose field may equal `value` (an index look-up: the caller compares exactly). */
function withValue(ctx: DmlContext, type: string, field: FieldDef, value: FieldValue): StoredRecord[] {
  const keyOf = indexKeyOf(field);
  const key = keyOf(value);
  return key === null ? [] : ctx.store.lookup(type, field.name, [key], keyOf).filter((r) => !r.isDeleted);
}

/** Live child records whose reference field `field` may point at `parentId`. */
export function childrenOf(
  ctx: Pick<DmlContext, 'store'>,
  type: string,
  field: string,
  parentId: FieldValue | undefined,
): StoredRecord[] {
  const key = keyOfId(parentId ?? null);
  return key === null ? [] : ctx.store.lookup(type, field, [key], keyOfId).filter((r) => !r.isDeleted);
}

function sameValue(field: FieldDef, a: FieldValue, b: FieldValue): boolean {
  if (typeof a === 'string' && typeof b === 'string' && !field.caseSensitive)
    return a.toLowerCase() === b.toLowerCase();
  return a === b;
}

/** Converts one JSON value to the stored form, or returns an error item for the value itself. */
function coerceValue(ctx: DmlContext, field: FieldDef, value: unknown): FieldValue | SalesforceErrorItem {
  if (value === null || value === undefined) return field.type === 'boolean' ? false : null;
  switch (field.type) {
    case 'boolean':
      if (typeof value !== 'boolean') throw jsonError(field, value);
      return value;
    case 'double':
    case 'currency':
    case 'percent':
    case 'int': {
      const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
      if (!Number.isFinite(n) || (field.type === 'int' && !Number.isInteger(n)))
        throw jsonError(field, value);
      // A number field holds precision - scale digits before the point (Amount: 16), as in Salesforce.
      if (field.precision > 0 && Math.abs(n) >= 10 ** (field.precision - field.scale)) {
        return {
          errorCode: 'NUMBER_OUTSIDE_VALID_RANGE',
          message: `${labelFor(field)}: value outside of valid range on numeric field: ${n}`,
          fields: [field.name],
        };
      }
      return n;
    }
    case 'date': {
      if (typeof value !== 'string') throw jsonError(field, value);
      const date = value.length > 10 && !Number.isNaN(parseDateTime(value)) ? value.slice(0, 10) : value;
      if (!isValidDate(date)) throw jsonError(field, value);
      return date;
    }
    case 'datetime': {
      const ms = typeof value === 'string' ? parseDateTime(value) : Number.NaN;
      if (Number.isNaN(ms)) throw jsonError(field, value);
      return formatDateTime(new Date(ms));
    }
    case 'reference': {
      if (typeof value !== 'string') throw jsonError(field, value);
      if (value === '') return null;
      const id = normaliseId(value);
      const message = `${labelFor(field)}: id value of incorrect type: ${value}`;
      if (!id) return { errorCode: 'MALFORMED_ID', message, fields: [field.name] };
      const target = findObjectByKeyPrefix(ctx.schema, keyPrefixOf(id));
      if (!target || !field.referenceTo.includes(target.name)) {
        return {
          errorCode: 'FIELD_INTEGRITY_EXCEPTION',
          message: `field integrity exception: unknown (${message})`,
          fields: [field.name],
        };
      }
      const record = ctx.store.get(target.name, id);
      if (!record)
        return {
          errorCode: 'INVALID_CROSS_REFERENCE_KEY',
          message: 'invalid cross reference id',
          fields: [field.name],
        };
      if (record.isDeleted)
        return { errorCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [field.name] };
      return id;
    }
    default: {
      if (typeof value === 'object') throw jsonError(field, value);
      const text = String(value);
      if (text === '') return null;
      if (
        field.type === 'picklist' &&
        field.restrictedPicklist &&
        !field.picklistValues.some((v) => v.value === text)
      ) {
        return {
          errorCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
          message: `${field.label}: bad value for restricted picklist field: ${text}`,
          fields: [field.name],
        };
      }
      if (field.type === 'email' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(text)) {
        return {
          errorCode: 'INVALID_EMAIL_ADDRESS',
          message: `${field.label}: invalid email address: ${text}`,
          fields: [field.name],
        };
      }
      if (field.length > 0 && text.length > field.length) {
        const shown = text.length > 40 ? `${text.slice(0, 40)}(too big)` : text;
        return {
          errorCode: 'STRING_TOO_LONG',
          message: `${field.label}: data value too large: ${shown} (max length=${field.length})`,
          fields: [field.name],
        };
      }
      return text;
    }
  }
}

/** `"Account": {"Ext__c": "A-1"}` in a body: a parent given by its external id. */
function resolveParentByExternalId(ctx: DmlContext, field: FieldDef, value: unknown): string {
  const target = field.referenceTo[0] ? findObject(ctx.schema, field.referenceTo[0]) : undefined;
  const entries = Object.entries((value ?? {}) as Body).filter(([k]) => k !== 'attributes');
  const [entry] = entries;
  if (!target || entries.length !== 1 || !entry) {
    throw dmlError('INVALID_FIELD', `Invalid foreign key relationship name ${field.relationshipName}`);
  }
  const [keyName, keyValue] = entry;
  const keyField = findField(ctx.schema, target, keyName, ctx.view);
  if (!keyField || (!keyField.externalId && keyField.name !== 'Id')) {
    throw dmlError('INVALID_FIELD', `Field ${keyName} is not an external id field of ${target.name}`, [
      keyName,
    ]);
  }
  const matches = ctx.store
    .list(target.name)
    .filter((r) => sameValue(keyField, r.values[keyField.name] ?? null, String(keyValue)));
  if (matches.length !== 1 || !matches[0]) {
    throw dmlError(
      matches.length === 0 ? 'INVALID_FIELD' : 'DUPLICATE_EXTERNAL_ID',
      `Foreign key external ID: ${String(keyValue)} ${matches.length === 0 ? 'not found' : 'matched more than one record'} for field ${keyField.name} in entity ${target.name}`,
      [],
    );
  }
  return matches[0].id;
}

/**
 * Validates a request body against the object and returns canonical field values. Structural problems
 * (unknown field, read-only field, wrong JSON type) stop at once like Salesforce; value problems are all
 * reported together.
 */
function readBody(
  ctx: DmlContext,
  object: ObjectDef,
  body: unknown,
  mode: 'create' | 'update',
  ignore: readonly string[] = [],
): Record<string, FieldValue> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw apiError(400, 'JSON_PARSER_ERROR', 'The request body must be a JSON object');
  }
  const values: Record<string, FieldValue> = {};
  const readOnly: string[] = [];
  const problems: SalesforceErrorItem[] = [];
  const ignored = new Set(['attributes', ...ignore].map((k) => k.toLowerCase()));
  for (const [key, raw] of Object.entries(body as Body)) {
    if (ignored.has(key.toLowerCase())) continue;
    const field = findField(ctx.schema, object, key, ctx.view);
    if (!field) {
      const parent = visibleFields(ctx.schema, object, ctx.view).find(
        (f) => f.type === 'reference' && f.relationshipName?.toLowerCase() === key.toLowerCase(),
      );
      if (parent && raw && typeof raw === 'object') {
        if (!(mode === 'create' ? parent.createable : parent.updateable)) readOnly.push(parent.name);
        else values[parent.name] = resolveParentByExternalId(ctx, parent, raw);
        continue;
      }
      throw dmlError('INVALID_FIELD', `No such column '${key}' on sobject of type ${object.name}`, []);
    }
    if (!(mode === 'create' ? field.createable : field.updateable)) {
      readOnly.push(field.name);
      continue;
    }
    const coerced = coerceValue(ctx, field, raw);
    if (coerced !== null && typeof coerced === 'object') problems.push(coerced);
    else values[field.name] = coerced;
  }
  if (readOnly.length > 0) {
    throw dmlError(
      'INVALID_FIELD_FOR_INSERT_UPDATE',
      `Unable to create/update fields: ${readOnly.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
      readOnly,
    );
  }
  if (problems.length > 0) throw new SalesforceApiError(400, problems);
  return values;
}

function checkRequired(object: ObjectDef, merged: Record<string, FieldValue>): void {
  const missing: string[] = [];
  for (const field of object.fields.values()) {
    if (field.required && (merged[field.name] === null || merged[field.name] === undefined))
      missing.push(field.name);
  }
  if (missing.length > 0) {
    throw dmlError('REQUIRED_FIELD_MISSING', `Required fields are missing: [${missing.join(', ')}]`, missing);
  }
}

function checkUnique(
  ctx: DmlContext,
  object: ObjectDef,
  merged: Record<string, FieldValue>,
  selfId: string,
): void {
  for (const field of object.fields.values()) {
    const value = merged[field.name];
    if (!field.unique || value === null || value === undefined) continue;
    const clash = withValue(ctx, object.name, field, value).find(
      (r) => r.id !== selfId && sameValue(field, r.values[field.name] ?? null, value),
    );
    if (clash) {
      throw dmlError(
        'DUPLICATE_VALUE',
        `duplicate value found: ${field.name} duplicates value on record with id: ${clash.id}`,
      );
    }
  }
}

/** Values Salesforce computes: names, stage-derived flags, auto numbers. */
function derive(
  object: ObjectDef,
  merged: Record<string, FieldValue>,
  given: Record<string, FieldValue>,
): void {
  if (object.name === 'Opportunity') {
    const stage = OPPORTUNITY_STAGES.find((s) => s.name === merged['StageName']);
    if (stage) {
      merged['IsClosed'] = stage.isClosed;
      merged['IsWon'] = stage.isWon;
      if ('StageName' in given && !('Probability' in given)) merged['Probability'] = stage.probability;
      if ('StageName' in given && !('ForecastCategoryName' in given)) {
        merged['ForecastCategoryName'] = stage.forecastCategoryName;
      }
    }
  }
  if (object.fields.has('FirstName') && object.fields.get('Name')?.calculated) {
    merged['Name'] = [merged['FirstName'], merged['LastName']]
      .filter((v) => typeof v === 'string' && v)
      .join(' ');
  }
}

function defaultsFor(ctx: DmlContext, object: ObjectDef): Record<string, FieldValue> {
  const values: Record<string, FieldValue> = {};
  for (const field of object.fields.values()) {
    if (field.defaultValue !== null) values[field.name] = field.defaultValue;
    else values[field.name] = null;
  }
  if (object.fields.has('OwnerId')) values['OwnerId'] = ctx.userId;
  values['IsDeleted'] = false;
  return values;
}

function autoNumber(format: string, n: number): string {
  return format.replace(/\{(0+)\}/, (_, zeros: string) => String(n).padStart(zeros.length, '0'));
}

export function createRecord(ctx: DmlContext, object: ObjectDef, body: unknown): StoredRecord {
  // The documented "Example of an error" of Create a Record, to the letter.
  if (body !== null && typeof body === 'object' && Object.keys(body).some((k) => k.toLowerCase() === 'id'))
    throw apiError(400, 'INVALID_FIELD', 'The Id field should not be specified in the sobject data.');
  if (!object.createable)
    throw dmlError('INSUFFICIENT_ACCESS_OR_READONLY', `You cannot create ${object.name} records`);
  const given = readBody(ctx, object, body, 'create');
  const merged = { ...defaultsFor(ctx, object), ...given };
  checkRequired(object, merged);
  derive(object, merged, given);
  const id = makeId(object.keyPrefix, ctx.store.nextSequence());
  checkUnique(ctx, object, merged, id);
  if (object.autoNumberFormat)
    merged['Name'] = autoNumber(object.autoNumberFormat, ctx.store.nextAutoNumber(object.name));
  const stamp = systemStamp(ctx.now());
  Object.assign(merged, {
    Id: id,
    CreatedDate: stamp,
    CreatedById: ctx.userId,
    LastModifiedDate: stamp,
    LastModifiedById: ctx.userId,
    SystemModstamp: stamp,
  });
  const record: StoredRecord = { id, type: object.name, values: merged, isDeleted: false };
  ctx.store.put(record);
  keepOnePrimaryContactRole(ctx, record);
  return record;
}

export function updateRecord(
  ctx: DmlContext,
  object: ObjectDef,
  record: StoredRecord,
  body: unknown,
): StoredRecord {
  const given = readBody(ctx, object, body, 'update', ['Id']);
  if (object.name === 'Lead' && record.values['IsConverted'] === true && ctx.view.kind === 'api') {
    throw dmlError('CANNOT_UPDATE_CONVERTED_LEAD', 'cannot reference converted lead');
  }
  const merged = { ...record.values, ...given };
  checkRequired(object, merged);
  derive(object, merged, given);
  checkUnique(ctx, object, merged, record.id);
  const stamp = systemStamp(ctx.now());
  Object.assign(merged, { LastModifiedDate: stamp, LastModifiedById: ctx.userId, SystemModstamp: stamp });
  ctx.store.touch(record);
  record.values = merged;
  keepOnePrimaryContactRole(ctx, record);
  return record;
}

/** An opportunity has at most one primary contact role: marking one primary clears the others, as Salesforce does. */
function keepOnePrimaryContactRole(ctx: DmlContext, record: StoredRecord): void {
  if (record.type !== 'OpportunityContactRole' || record.values['IsPrimary'] !== true) return;
  for (const other of childrenOf(
    ctx,
    'OpportunityContactRole',
    'OpportunityId',
    record.values['OpportunityId'],
  )) {
    if (
      other.id !== record.id &&
      other.values['OpportunityId'] === record.values['OpportunityId'] &&
      other.values['IsPrimary']
    ) {
      writeSystemFields(ctx, other, { IsPrimary: false });
    }
  }
}

/** Sets fields the API may not write (conversion results, system flags) with fresh stamps. */
export function writeSystemFields(
  ctx: DmlContext,
  record: StoredRecord,
  values: Record<string, FieldValue>,
): void {
  const stamp = systemStamp(ctx.now());
  ctx.store.touch(record);
  Object.assign(record.values, values, {
    LastModifiedDate: stamp,
    LastModifiedById: ctx.userId,
    SystemModstamp: stamp,
  });
}

export function deleteRecord(ctx: DmlContext, object: ObjectDef, record: StoredRecord): void {
  if (!object.deletable)
    throw dmlError('INSUFFICIENT_ACCESS_OR_READONLY', `You cannot delete ${object.name} records`);
  for (const rel of object.childRelationships) {
    if (!rel.restrictedDelete) continue;
    const blocking = childrenOf(ctx, rel.childSObject, rel.field, record.id).filter(
      (child) => child.values[rel.field] === record.id,
    );
    if (blocking.length > 0) {
      const names = blocking.map((child) => String(child.values['Name'] ?? child.id)).join(', ');
      throw dmlError(
        'DELETE_FAILED',
        `Your attempt to delete ${String(record.values['Name'] ?? record.id)} could not be completed because it is associated with the following ${rel.relationshipName}.: ${names}`,
      );
    }
  }
  const stamp = systemStamp(ctx.now());
  ctx.store.touch(record);
  record.isDeleted = true;
  record.deletedDate = stamp;
  Object.assign(record.values, { IsDeleted: true, SystemModstamp: stamp });
  // Detail records (contact roles, junction rows) go with their master, as in Salesforce.
  for (const rel of object.childRelationships) {
    if (!rel.cascadeDelete) continue;
    const childObject = findObject(ctx.schema, rel.childSObject);
    if (!childObject) continue;
    for (const child of childrenOf(ctx, rel.childSObject, rel.field, record.id)) {
      if (child.values[rel.field] === record.id) deleteRecord(ctx, childObject, child);
    }
  }
}

export interface UpsertResult {
  record: StoredRecord;
  created: boolean;
}

/** Records whose external id equals `value` (text external ids compare case-insensitively unless marked). */
export function findByExternalId(
  ctx: DmlContext,
  object: ObjectDef,
  field: FieldDef,
  value: string,
): StoredRecord[] {
  return withValue(ctx, object.name, field, value).filter((r) =>
    sameValue(field, r.values[field.name] ?? null, value),
  );
}

export function externalIdField(ctx: DmlContext, object: ObjectDef, name: string): FieldDef {
  const field = findField(ctx.schema, object, name, ctx.view);
  if (!field || (!field.externalId && field.name !== 'Id')) {
    throw notFound(`Provided external ID field does not exist or is not accessible: ${name}`);
  }
  return field;
}

/**
 * Upsert by external id: 201 created / 200 updated; several matches → 300 with their URLs and nothing written.
 * The key goes into the created record; a different key value in the body is refused like Salesforce does.
 */
export function upsertRecord(
  ctx: DmlContext,
  object: ObjectDef,
  field: FieldDef,
  value: string,
  body: unknown,
  options: { updateOnly?: boolean; apiVersion: string },
): UpsertResult {
  const matches = findByExternalId(ctx, object, field, value);
  if (matches.length > 1) {
    throw new MultipleMatchesError(
      matches.map((r) => `/services/data/v${options.apiVersion}/sobjects/${object.name}/${r.id}`),
    );
  }
  const bodyObject = (body && typeof body === 'object' ? body : {}) as Body;
  const keyInBody = Object.keys(bodyObject).find((k) => k.toLowerCase() === field.name.toLowerCase());
  if (keyInBody && String(bodyObject[keyInBody]) !== value) {
    throw dmlError(
      'INVALID_FIELD',
      `The value of the external ID field ${field.name} in the body doesn't match the value in the URL`,
      [field.name],
    );
  }
  const rest = Object.fromEntries(Object.entries(bodyObject).filter(([k]) => k !== keyInBody));
  const [existing] = matches;
  if (existing) return { record: updateRecord(ctx, object, existing, rest), created: false };
  if (options.updateOnly) throw notFound();
  if (field.name === 'Id') throw notFound();
  return { record: createRecord(ctx, object, { ...rest, [field.name]: value }), created: true };
}

/** 300 Multiple Choices: the body lists the URLs of the matching records. */
export class MultipleMatchesError extends Error {
  readonly urls: string[];
  constructor(urls: string[]) {
    super(`External ID matched ${urls.length} records`);
    this.urls = urls;
  }
}
