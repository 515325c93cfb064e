// Reads the shipped Dataverse solution (packaging/dynamics/src, the unpacked layout `pac solution pack` zips)
// into tables, columns, choices, alternate keys and environment variables: the source of truth doctor checks
// an environment against, and the schema the Dataverse emulator loads, so both see exactly what ships.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';

/** packaging/dynamics/src at the repository root (this file is src/crm/dynamics/package-schema.ts). */
export const SOLUTION_ROOT = fileURLToPath(new URL('../../../packaging/dynamics/src/', import.meta.url));

/** Column types as the solution files name them. */
export type ColumnType = 'nvarchar' | 'ntext' | 'bit' | 'picklist' | 'lookup' | 'money' | 'datetime' | 'int';

export interface SolutionColumn {
  table: string;
  /** Logical name (the JSON key), lower case. */
  name: string;
  /** Schema name (the case-sensitive navigation name of a lookup). */
  schemaName: string;
  displayName: string;
  type: ColumnType;
  maxLength?: number;
  required: boolean;
  /** Global choice (option set) the column uses. */
  optionSet?: string;
  /** Lookup target table (logical name). */
  target?: string;
  /** Default of a Yes/No column. */
  defaultValue?: number;
}

export interface SolutionTable {
  /** Logical name, lower case. */
  name: string;
  /** True when the solution creates the table; false for standard tables it extends. */
  custom: boolean;
  displayName: string;
  entitySet?: string;
  primaryName?: string;
  changeTracking: boolean;
  columns: SolutionColumn[];
  keys: { name: string; columns: string[] }[];
}

export interface SolutionChoice {
  name: string;
  displayName: string;
  options: { value: number; label: string }[];
}

export interface SolutionVariable {
  schemaName: string;
  displayName: string;
  /** 100000000 String, 100000001 Number, 100000002 Boolean, 100000003 JSON (reference/crm.md §A.13). */
  type: number;
  defaultValue: string;
}

export interface SolutionSchema {
  uniqueName: string;
  version: string;
  publisher: { uniqueName: string; prefix: string; optionValuePrefix: number };
  tables: SolutionTable[];
  choices: SolutionChoice[];
  variables: SolutionVariable[];
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  isArray: (name) =>
    [
      'attribute',
      'option',
      'EntityKey',
      'KeyAttribute',
      'label',
      'displayname',
      'LocalizedName',
      'LocalizedCollectionName',
      'RootComponent',
    ].includes(name),
});

type Xml = Record<string, unknown>;
const obj = (v: unknown): Xml => (v && typeof v === 'object' ? (v as Xml) : {});
const arr = (v: unknown): Xml[] => (Array.isArray(v) ? (v as Xml[]) : v ? [obj(v)] : []);
const text = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const label = (v: unknown, tag: string): string => text(arr(obj(v)[tag])[0]?.['@description']);

function readColumn(table: string, x: Xml): SolutionColumn {
  const type = text(x.Type) as ColumnType;
  const column: SolutionColumn = {
    table,
    name: text(x.LogicalName),
    schemaName: text(x['@PhysicalName']),
    displayName: label(x.displaynames, 'displayname'),
    type,
    required: text(x.RequiredLevel) !== 'none',
  };
  if (x.MaxLength !== undefined) column.maxLength = Number(x.MaxLength);
  if (x.OptionSetName) column.optionSet = text(x.OptionSetName);
  const lookup = arr(obj(x.LookupTypes).LookupType)[0] ?? obj(x.LookupTypes).LookupType;
  if (type === 'lookup') column.target = text(typeof lookup === 'object' ? obj(lookup)['#text'] : lookup);
  if (type === 'bit' && x.AppDefaultValue !== undefined) column.defaultValue = Number(x.AppDefaultValue);
  return column;
}

async function readTables(root: string): Promise<SolutionTable[]> {
  const dirs = await readdir(path.join(root, 'Entities'));
  const tables: SolutionTable[] = [];
  for (const dir of dirs.sort()) {
    const xml = obj(
      parser.parse(await readFile(path.join(root, 'Entities', dir, 'Entity.xml'), 'utf8')).Entity,
    );
    const name = text(obj(xml.Name)['#text'] ?? xml.Name).toLowerCase();
    const entity = obj(obj(xml.EntityInfo).entity);
    const custom = entity.EntitySetName !== undefined;
    const table: SolutionTable = {
      name,
      custom,
      displayName: text(obj(xml.Name)['@LocalizedName']) || name,
      changeTracking: text(entity.ChangeTrackingEnabled) === '1',
      columns: arr(obj(entity.attributes).attribute).map((a) => readColumn(name, a)),
      keys: arr(obj(xml.EntityKeys).EntityKey).map((k) => ({
        name: text(k.LogicalName),
        columns: arr(obj(k.KeyAttributes).KeyAttribute).map((c) => text(c)),
      })),
    };
    if (custom) {
      table.entitySet = text(entity.EntitySetName);
      table.primaryName = text(entity.PrimaryNameAttribute);
    }
    tables.push(table);
  }
  return tables;
}

async function readChoices(root: string): Promise<SolutionChoice[]> {
  const files = await readdir(path.join(root, 'OptionSets'));
  const choices: SolutionChoice[] = [];
  for (const file of files.sort()) {
    const xml = obj(parser.parse(await readFile(path.join(root, 'OptionSets', file), 'utf8')).optionset);
    choices.push({
      name: text(xml['@Name']),
      displayName: text(xml['@localizedName']),
      options: arr(obj(xml.options).option).map((o) => ({
        value: Number(o['@value']),
        label: label(o.labels, 'label'),
      })),
    });
  }
  return choices;
}

async function readVariables(root: string): Promise<SolutionVariable[]> {
  const dir = path.join(root, 'environmentvariabledefinitions');
  const variables: SolutionVariable[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const xml = obj(
      parser.parse(await readFile(path.join(dir, name, 'environmentvariabledefinition.xml'), 'utf8'))
        .environmentvariabledefinition,
    );
    variables.push({
      schemaName: text(xml['@schemaname']),
      displayName: text(obj(xml.displayname)['@default']),
      type: Number(xml.type),
      defaultValue: text(xml.defaultvalue),
    });
  }
  return variables;
}

/** Reads the unpacked solution. Throws with the file's path when a file is missing or malformed. */
export async function readSolution(root: string = SOLUTION_ROOT): Promise<SolutionSchema> {
  const manifest = obj(
    obj(parser.parse(await readFile(path.join(root, 'Other', 'Solution.xml'), 'utf8')).ImportExportXml)
      .SolutionManifest,
  );
  const publisher = obj(manifest.Publisher);
  return {
    uniqueName: text(manifest.UniqueName),
    version: text(manifest.Version),
    publisher: {
      uniqueName: text(publisher.UniqueName),
      prefix: text(publisher.CustomizationPrefix),
      optionValuePrefix: Number(publisher.CustomizationOptionValuePrefix),
    },
    tables: await readTables(root),
    choices: await readChoices(root),
    variables: await readVariables(root),
  };
}

/** The same solution under another publisher prefix (`contoso_referralidentifier`): what an admin who
 *  re-published it under their own publisher has. Names only; choice values keep the option-value prefix. */
export function withPrefix(schema: SolutionSchema, prefix: string): SolutionSchema {
  const from = schema.publisher.prefix;
  if (prefix === from) return schema;
  const swap = (name: string): string =>
    name.toLowerCase().startsWith(`${from}_`) ? `${prefix}_${name.slice(from.length + 1)}` : name;
  return {
    ...schema,
    publisher: { ...schema.publisher, prefix },
    tables: schema.tables.map((t) => ({
      ...t,
      name: swap(t.name),
      ...(t.entitySet ? { entitySet: swap(t.entitySet) } : {}),
      ...(t.primaryName ? { primaryName: swap(t.primaryName) } : {}),
      columns: t.columns.map((c) => ({
        ...c,
        table: swap(c.table),
        name: swap(c.name),
        schemaName: swap(c.schemaName),
        ...(c.optionSet ? { optionSet: swap(c.optionSet) } : {}),
        ...(c.target ? { target: swap(c.target) } : {}),
      })),
      keys: t.keys.map((k) => ({ name: swap(k.name), columns: k.columns.map(swap) })),
    })),
    choices: schema.choices.map((c) => ({ ...c, name: swap(c.name) })),
    variables: schema.variables.map((v) => ({ ...v, schemaName: swap(v.schemaName) })),
  };
}
