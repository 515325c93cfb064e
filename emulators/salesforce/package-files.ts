/**
 * Reads the shipped Salesforce package (`packaging/salesforce/`, metadata source format) into plain data:
 * custom fields, custom objects and the permission set. The emulator builds its custom schema from this,
 * so what we ship is what we test.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';

export const DEFAULT_PACKAGE_DIR = fileURLToPath(new URL('../../packaging/salesforce/', import.meta.url));
const SOURCE_DIR = join('force-app', 'main', 'default');

export interface PackagePicklistValue {
  fullName: string;
  label: string;
  default: boolean;
}

/** A CustomField as written in a `.field-meta.xml` file (element names of the Metadata API). */
export interface PackageField {
  object: string;
  fullName: string;
  label: string;
  type: string;
  length?: number;
  precision?: number;
  scale?: number;
  visibleLines?: number;
  externalId: boolean;
  unique: boolean;
  caseSensitive: boolean;
  required: boolean;
  defaultValue?: string;
  description?: string;
  inlineHelpText?: string;
  referenceTo?: string;
  relationshipName?: string;
  /** Lookup `<deleteConstraint>`: SetNull (default), Restrict or Cascade. */
  deleteConstraint?: string;
  restricted: boolean;
  values: PackagePicklistValue[];
}

export interface PackageObject {
  fullName: string;
  label: string;
  pluralLabel: string;
  nameFieldLabel: string;
  nameFieldType: 'Text' | 'AutoNumber';
  displayFormat?: string;
  sharingModel: string;
  deploymentStatus: string;
}

export interface PermissionSetGrants {
  name: string;
  label: string;
  /** `Object.Field` → access. */
  fields: Map<string, { readable: boolean; editable: boolean }>;
  objects: Map<string, { read: boolean; create: boolean; edit: boolean; delete: boolean }>;
}

export interface SalesforcePackage {
  dir: string;
  fields: PackageField[];
  objects: PackageObject[];
  permissionSets: PermissionSetGrants[];
  /** `type` → members of `manifest/package.xml`. */
  manifest: Map<string, string[]>;
  manifestVersion: string;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  isArray: (name) => ['value', 'fieldPermissions', 'objectPermissions', 'types', 'members'].includes(name),
});

type XmlNode = Record<string, unknown>;

function parseXmlFile(path: string, root: string): XmlNode {
  let doc: XmlNode;
  try {
    doc = parser.parse(readFileSync(path, 'utf8'), true) as XmlNode;
  } catch (error) {
    throw new Error(`${path} is not valid XML: ${(error as Error).message}`);
  }
  const node = doc[root];
  if (!node || typeof node !== 'object') throw new Error(`${path} has no <${root}> root element`);
  return node as XmlNode;
}

function text(node: XmlNode, key: string): string | undefined {
  const value = node[key];
  if (value === undefined || value === null) return undefined;
  return String(value);
}

function num(node: XmlNode, key: string): number | undefined {
  const value = text(node, key);
  return value === undefined ? undefined : Number(value);
}

function bool(node: XmlNode, key: string): boolean {
  return text(node, key) === 'true';
}

function asNodes(value: unknown): XmlNode[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]) as XmlNode[];
}

function parseField(object: string, path: string): PackageField {
  const node = parseXmlFile(path, 'CustomField');
  const fullName = text(node, 'fullName');
  const type = text(node, 'type');
  if (!fullName || !type) throw new Error(`${path} needs <fullName> and <type>`);
  const valueSet = (node['valueSet'] ?? {}) as XmlNode;
  const definition = (valueSet['valueSetDefinition'] ?? {}) as XmlNode;
  return {
    object,
    fullName,
    label: text(node, 'label') ?? fullName,
    type,
    length: num(node, 'length'),
    precision: num(node, 'precision'),
    scale: num(node, 'scale'),
    visibleLines: num(node, 'visibleLines'),
    externalId: bool(node, 'externalId'),
    unique: bool(node, 'unique'),
    caseSensitive: bool(node, 'caseSensitive'),
    required: bool(node, 'required'),
    defaultValue: text(node, 'defaultValue'),
    description: text(node, 'description'),
    inlineHelpText: text(node, 'inlineHelpText'),
    referenceTo: text(node, 'referenceTo'),
    relationshipName: text(node, 'relationshipName'),
    deleteConstraint: text(node, 'deleteConstraint'),
    restricted: bool(valueSet, 'restricted'),
    values: asNodes(definition['value']).map((v) => ({
      fullName: text(v, 'fullName') ?? '',
      label: text(v, 'label') ?? text(v, 'fullName') ?? '',
      default: bool(v, 'default'),
    })),
  };
}

function parseObject(fullName: string, path: string): PackageObject {
  const node = parseXmlFile(path, 'CustomObject');
  const nameField = (node['nameField'] ?? {}) as XmlNode;
  const nameFieldType = text(nameField, 'type') === 'AutoNumber' ? 'AutoNumber' : 'Text';
  return {
    fullName,
    label: text(node, 'label') ?? fullName,
    pluralLabel: text(node, 'pluralLabel') ?? fullName,
    nameFieldLabel: text(nameField, 'label') ?? 'Name',
    nameFieldType,
    displayFormat: text(nameField, 'displayFormat'),
    sharingModel: text(node, 'sharingModel') ?? 'ReadWrite',
    deploymentStatus: text(node, 'deploymentStatus') ?? 'Deployed',
  };
}

function parsePermissionSet(name: string, path: string): PermissionSetGrants {
  const node = parseXmlFile(path, 'PermissionSet');
  const fields = new Map<string, { readable: boolean; editable: boolean }>();
  for (const grant of asNodes(node['fieldPermissions'])) {
    fields.set(text(grant, 'field') ?? '', {
      readable: bool(grant, 'readable'),
      editable: bool(grant, 'editable'),
    });
  }
  const objects = new Map<string, { read: boolean; create: boolean; edit: boolean; delete: boolean }>();
  for (const grant of asNodes(node['objectPermissions'])) {
    objects.set(text(grant, 'object') ?? '', {
      read: bool(grant, 'allowRead'),
      create: bool(grant, 'allowCreate'),
      edit: bool(grant, 'allowEdit'),
      delete: bool(grant, 'allowDelete'),
    });
  }
  return { name, label: text(node, 'label') ?? name, fields, objects };
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path).sort();
  } catch {
    return [];
  }
}

export function readSalesforcePackage(dir: string = DEFAULT_PACKAGE_DIR): SalesforcePackage {
  const source = join(dir, SOURCE_DIR);
  const fields: PackageField[] = [];
  const objects: PackageObject[] = [];
  for (const object of listDir(join(source, 'objects'))) {
    const objectFile = join(source, 'objects', object, `${object}.object-meta.xml`);
    if (listDir(join(source, 'objects', object)).includes(`${object}.object-meta.xml`)) {
      objects.push(parseObject(object, objectFile));
    }
    for (const file of listDir(join(source, 'objects', object, 'fields'))) {
      if (file.endsWith('.field-meta.xml'))
        fields.push(parseField(object, join(source, 'objects', object, 'fields', file)));
    }
  }
  const permissionSets = listDir(join(source, 'permissionsets'))
    .filter((file) => file.endsWith('.permissionset-meta.xml'))
    .map((file) =>
      parsePermissionSet(file.replace('.permissionset-meta.xml', ''), join(source, 'permissionsets', file)),
    );
  const manifestNode = parseXmlFile(join(dir, 'manifest', 'package.xml'), 'Package');
  const manifest = new Map<string, string[]>();
  for (const types of asNodes(manifestNode['types'])) {
    manifest.set(text(types, 'name') ?? '', (types['members'] as unknown[] | undefined)?.map(String) ?? []);
  }
  return {
    dir,
    fields,
    objects,
    permissionSets,
    manifest,
    manifestVersion: text(manifestNode, 'version') ?? '',
  };
}
