// The metadata doctor reads (EntityDefinitions with Attributes and Keys, GlobalOptionSetDefinitions), shaped
// as the Web API's EntityMetadata / AttributeMetadata / OptionSetMetadata JSON, for the tables the
// environment has — so a bare environment shows exactly what is missing.
import { compileFilter, ODataSyntaxError } from '../shared/odata.ts';
import type { ApiResponse } from './api.ts';
import { badRequest, CODES, DataverseError } from './errors.ts';
import { splitTopLevel } from './query.ts';
import type { Column, Table } from './schema.ts';
import type { DataverseStore } from './store.ts';

const ATTRIBUTE_TYPES: Record<Column['kind'], string> = {
  string: 'String',
  memo: 'Memo',
  bool: 'Boolean',
  int: 'Integer',
  decimal: 'Decimal',
  money: 'Money',
  date: 'DateTime',
  datetime: 'DateTime',
  choice: 'Picklist',
  lookup: 'Lookup',
  state: 'State',
  status: 'Status',
  id: 'Uniqueidentifier',
};

function attribute(table: Table, column: Column): Record<string, unknown> {
  return {
    MetadataId: `${table.name}.${column.name}`,
    LogicalName: column.name,
    SchemaName: column.schemaName,
    EntityLogicalName: table.name,
    AttributeType: ATTRIBUTE_TYPES[column.kind],
    AttributeTypeName: { Value: `${ATTRIBUTE_TYPES[column.kind]}Type` },
    IsCustomAttribute: column.custom === true,
    IsValidForCreate: !column.readOnly,
    IsValidForUpdate: !column.readOnly && column.kind !== 'id',
    RequiredLevel: { Value: column.required ? 'ApplicationRequired' : 'None' },
    ...(column.maxLength !== undefined ? { MaxLength: column.maxLength } : {}),
    ...(column.targets ? { Targets: column.targets } : {}),
    ...(column.kind === 'date' ? { Format: 'DateOnly' } : {}),
    ...(column.optionSet ? { OptionSetName: column.optionSet } : {}),
  };
}

function entity(table: Table): Record<string, unknown> {
  return {
    MetadataId: table.name,
    LogicalName: table.name,
    SchemaName: table.name,
    EntitySetName: table.entitySet,
    PrimaryIdAttribute: table.primaryId,
    PrimaryNameAttribute: table.primaryName,
    IsCustomEntity: table.custom,
    ChangeTrackingEnabled: table.changeTracking,
    DisplayName: { UserLocalizedLabel: { Label: table.displayName, LanguageCode: 1033 } },
  };
}

function keys(table: Table): Record<string, unknown>[] {
  return table.keys.map((k) => ({
    LogicalName: k.name,
    SchemaName: k.name,
    KeyAttributes: k.columns,
    EntityKeyIndexStatus: 'Active',
  }));
}

function selectFields(row: Record<string, unknown>, select: string | null): Record<string, unknown> {
  if (!select) return row;
  const wanted = select.split(',').map((s) => s.trim());
  const out: Record<string, unknown> = {};
  for (const name of wanted) if (name in row) out[name] = row[name];
  if (row.MetadataId !== undefined) out.MetadataId = row.MetadataId;
  return out;
}

function filterRows(rows: Record<string, unknown>[], filter: string | null): Record<string, unknown>[] {
  if (!filter) return rows;
  try {
    return rows.filter(compileFilter(filter));
  } catch (error) {
    if (error instanceof ODataSyntaxError) throw badRequest(error.message, CODES.queryNotSupported);
    throw error;
  }
}

const KEY = /^\s*(LogicalName|Name)\s*=\s*'([^']*)'\s*$/;

export function metadataRequest(
  store: DataverseStore,
  apiBase: string,
  name: 'EntityDefinitions' | 'GlobalOptionSetDefinitions',
  key: string | undefined,
  rest: string[],
  params: URLSearchParams,
  method: string,
): ApiResponse {
  if (method !== 'GET') throw new DataverseError(405, CODES.queryNotSupported, 'Metadata is read-only here.');
  const keyName = key !== undefined ? KEY.exec(key)?.[2] : undefined;
  if (key !== undefined && keyName === undefined) {
    throw badRequest(
      `Address metadata by name: ${name}(${name === 'EntityDefinitions' ? 'LogicalName' : 'Name'}='…').`,
    );
  }
  if (name === 'GlobalOptionSetDefinitions') {
    const choices = store.schema.solution?.choices ?? [];
    const toJson = (c: (typeof choices)[number]) => ({
      MetadataId: c.name,
      Name: c.name,
      IsGlobal: true,
      OptionSetType: 'Picklist',
      Options: c.options.map((o) => ({
        Value: o.value,
        Label: { UserLocalizedLabel: { Label: o.label, LanguageCode: 1033 } },
      })),
    });
    if (keyName === undefined) {
      return {
        status: 200,
        headers: {},
        body: {
          '@odata.context': `${apiBase}$metadata#GlobalOptionSetDefinitions`,
          value: choices.map(toJson),
        },
      };
    }
    const choice = choices.find((c) => c.name === keyName);
    if (!choice)
      throw new DataverseError(404, CODES.notFound, `Could not find optionset with name: ${keyName}`);
    return { status: 200, headers: {}, body: toJson(choice) };
  }
  const tables = [...store.schema.tables.values()];
  if (keyName === undefined) {
    const rows = filterRows(tables.map(entity), params.get('$filter')).map((r) =>
      selectFields(r, params.get('$select')),
    );
    return {
      status: 200,
      headers: {},
      body: { '@odata.context': `${apiBase}$metadata#EntityDefinitions`, value: rows },
    };
  }
  const table = store.schema.tables.get(keyName);
  if (!table) {
    throw new DataverseError(
      404,
      CODES.notFound,
      `Could not find an entity with name ${keyName}. Import the solution that defines it.`,
    );
  }
  const attributes = () => [...table.columns.values()].map((c) => attribute(table, c));
  if (rest[0] === 'Attributes') {
    const rows = filterRows(attributes(), params.get('$filter')).map((r) =>
      selectFields(r, params.get('$select')),
    );
    return {
      status: 200,
      headers: {},
      body: {
        '@odata.context': `${apiBase}$metadata#EntityDefinitions('${table.name}')/Attributes`,
        value: rows,
      },
    };
  }
  if (rest[0] === 'Keys') {
    return { status: 200, headers: {}, body: { value: keys(table) } };
  }
  if (rest.length)
    throw new DataverseError(
      404,
      CODES.queryNotSupported,
      `Resource not found for the segment '${rest.join('/')}'.`,
    );
  const body: Record<string, unknown> = selectFields(entity(table), params.get('$select'));
  const expand = params.get('$expand') ?? '';
  for (const item of splitTopLevel(expand, ',')) {
    const nav = item.replace(/\(.*\)$/, '');
    const inner = /\(\s*\$select=([^;)]*)/.exec(item)?.[1] ?? null;
    if (nav === 'Attributes') body.Attributes = attributes().map((r) => selectFields(r, inner));
    else if (nav === 'Keys') body.Keys = keys(table).map((r) => selectFields(r, inner));
    else
      throw badRequest(
        `Could not find a property named '${nav}' on type 'Microsoft.Dynamics.CRM.EntityMetadata'.`,
      );
  }
  return {
    status: 200,
    headers: {},
    body: { '@odata.context': `${apiBase}$metadata#EntityDefinitions/$entity`, ...body },
  };
}
