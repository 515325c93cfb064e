// Reads the shipped Salesforce package (packaging/salesforce/) into a list of objects and fields: the source of
// truth doctor checks a live org against, and the list the adapter's field names are cross-checked with.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';

/** packaging/salesforce at the repository root (this file is src/crm/salesforce/package-schema.ts). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../packaging/salesforce/', import.meta.url));

export interface PackageField {
  object: string;
  name: string;
  /** Metadata API type: Checkbox, Text, Url, LongTextArea, Picklist, Lookup, MasterDetail, … */
  type: string;
  length?: number;
  externalId: boolean;
  unique: boolean;
  picklistValues: string[];
  restrictedPicklist: boolean;
  referenceTo?: string;
}

export interface PackageObject {
  name: string;
  /** True when the package creates the object (a CustomObject file), false for standard objects it extends. */
  custom: boolean;
  fields: PackageField[];
}

export interface PackageSchema {
  objects: PackageObject[];
  permissionSet: { name: string; fields: { field: string; readable: boolean; editable: boolean }[] } | null;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  isArray: (name) => ['value', 'fieldPermissions', 'objectPermissions', 'types', 'members'].includes(name),
});

/** Describe's type for each Metadata API type (what `sobjects/X/describe` reports for the field). */
export const DESCRIBE_TYPE_OF: Readonly<Record<string, string>> = {
  Checkbox: 'boolean',
  Text: 'string',
  Url: 'url',
  LongTextArea: 'textarea',
  TextArea: 'textarea',
  Picklist: 'picklist',
  MultiselectPicklist: 'multipicklist',
  Lookup: 'reference',
  MasterDetail: 'reference',
  Number: 'double',
  Currency: 'currency',
  Percent: 'percent',
  Date: 'date',
  DateTime: 'datetime',
  Email: 'email',
  Phone: 'phone',
};

/** Length describe reports for types whose metadata has none (Url fields are 255). */
const IMPLIED_LENGTH: Readonly<Record<string, number>> = { Url: 255 };

function text(value: unknown): string | undefined {
  return value === undefined || value === null ? undefined : String(value);
}

export function parseFieldXml(object: string, xml: string): PackageField {
  const doc = parser.parse(xml) as { CustomField?: Record<string, unknown> };
  const field = doc.CustomField;
  if (!field) throw new Error(`${object}: not a CustomField file`);
  const type = text(field.type) ?? '';
  const length = text(field.length);
  const valueSet = (field.valueSet ?? {}) as {
    restricted?: unknown;
    valueSetDefinition?: { value?: { fullName?: unknown }[] };
  };
  return {
    object,
    name: text(field.fullName) ?? '',
    type,
    ...(length ? { length: Number(length) } : IMPLIED_LENGTH[type] ? { length: IMPLIED_LENGTH[type] } : {}),
    externalId: text(field.externalId) === 'true',
    unique: text(field.unique) === 'true',
    picklistValues: (valueSet.valueSetDefinition?.value ?? []).map((v) => text(v.fullName) ?? ''),
    restrictedPicklist: text(valueSet.restricted) === 'true',
    ...(field.referenceTo ? { referenceTo: text(field.referenceTo) } : {}),
  };
}

/** Reads every object and field of the package's `force-app/main/default`. */
export async function loadPackageSchema(root: string = PACKAGE_ROOT): Promise<PackageSchema> {
  const base = path.join(root, 'force-app', 'main', 'default');
  const objectsDir = path.join(base, 'objects');
  const objects: PackageObject[] = [];
  for (const name of (await readdir(objectsDir)).sort()) {
    const dir = path.join(objectsDir, name);
    const entries = await readdir(dir);
    const custom = entries.includes(`${name}.object-meta.xml`);
    const fieldFiles = entries.includes('fields') ? (await readdir(path.join(dir, 'fields'))).sort() : [];
    const fields: PackageField[] = [];
    for (const file of fieldFiles.filter((f) => f.endsWith('.field-meta.xml'))) {
      fields.push(parseFieldXml(name, await readFile(path.join(dir, 'fields', file), 'utf8')));
    }
    objects.push({ name, custom, fields });
  }
  return { objects, permissionSet: await loadPermissionSet(base) };
}

async function loadPermissionSet(base: string): Promise<PackageSchema['permissionSet']> {
  const dir = path.join(base, 'permissionsets');
  let files: string[];
  try {
    files = await readdir(dir);
  } catch {
    return null;
  }
  const file = files.find((f) => f.endsWith('.permissionset-meta.xml'));
  if (!file) return null;
  const doc = parser.parse(await readFile(path.join(dir, file), 'utf8')) as {
    PermissionSet?: { fieldPermissions?: { field?: unknown; readable?: unknown; editable?: unknown }[] };
  };
  return {
    name: file.replace('.permissionset-meta.xml', ''),
    fields: (doc.PermissionSet?.fieldPermissions ?? []).map((p) => ({
      field: text(p.field) ?? '',
      readable: text(p.readable) === 'true',
      editable: text(p.editable) === 'true',
    })),
  };
}
