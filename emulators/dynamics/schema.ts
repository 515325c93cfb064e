// The tables the Dataverse emulator serves: the standard tables cosell touches (columns, types, lengths,
// state/status pairs, lookups and their navigation names, as documented in reference/crm.md §A.11), plus the
// custom schema loaded from the shipped solution files (packaging/dynamics/), so doctor and the adapter meet
// exactly what an admin imports. A "bare" environment has the standard tables only.
import type { SolutionSchema } from '../../src/crm/dynamics/package-schema.ts';

export type ColumnKind =
  | 'string'
  | 'memo'
  | 'bool'
  | 'int'
  | 'decimal'
  | 'money'
  | 'date'
  | 'datetime'
  | 'choice'
  | 'lookup'
  | 'state'
  | 'status'
  | 'id';

export interface Column {
  name: string;
  /** Schema name: the case-sensitive navigation property of a lookup (`cosell_OpportunityId`). */
  schemaName: string;
  kind: ColumnKind;
  maxLength?: number;
  required?: boolean;
  /** Lookup targets (logical names); several for Customer / polymorphic lookups. */
  targets?: string[];
  /** Allowed values of a choice. */
  options?: { value: number; label: string }[];
  optionSet?: string;
  /** Set by the platform only (fullname, createdon, versionnumber…). */
  readOnly?: boolean;
  custom?: boolean;
  defaultValue?: unknown;
  displayName?: string;
}

export interface Table {
  name: string;
  entitySet: string;
  primaryId: string;
  primaryName: string;
  columns: Map<string, Column>;
  keys: { name: string; columns: string[] }[];
  changeTracking: boolean;
  custom: boolean;
  /** statecode → allowed statuscodes; the first is the default. */
  states?: Record<number, number[]>;
  displayName: string;
}

export interface Relationship {
  /** Collection-valued navigation property on the referenced table. */
  name: string;
  referencingTable: string;
  lookup: string;
  referencedTable: string;
}

export interface Schema {
  tables: Map<string, Table>;
  bySet: Map<string, Table>;
  relationships: Relationship[];
  solution: SolutionSchema | null;
}

type ColumnSpec = [name: string, kind: ColumnKind, extra?: Partial<Column>];

const s = (n: number): Partial<Column> => ({ maxLength: n });
const address: ColumnSpec[] = [
  ['address1_line1', 'string', s(250)],
  ['address1_line2', 'string', s(250)],
  ['address1_city', 'string', s(80)],
  ['address1_stateorprovince', 'string', s(50)],
  ['address1_postalcode', 'string', s(20)],
  ['address1_country', 'string', s(80)],
];
const common: ColumnSpec[] = [
  ['createdon', 'datetime', { readOnly: true }],
  ['modifiedon', 'datetime', { readOnly: true }],
  ['versionnumber', 'int', { readOnly: true }],
  ['ownerid', 'lookup', { targets: ['systemuser'] }],
];
const lookup = (targets: string[], extra: Partial<Column> = {}): Partial<Column> => ({ targets, ...extra });

const STANDARD: {
  name: string;
  entitySet: string;
  primaryName: string;
  displayName: string;
  states?: Record<number, number[]>;
  changeTracking?: boolean;
  columns: ColumnSpec[];
}[] = [
  {
    name: 'account',
    entitySet: 'accounts',
    primaryName: 'name',
    displayName: 'Account',
    states: { 0: [1], 1: [2] },
    columns: [
      ['name', 'string', { maxLength: 160, required: true }],
      ['accountnumber', 'string', s(20)],
      ['telephone1', 'string', s(50)],
      ['emailaddress1', 'string', s(100)],
      ['websiteurl', 'string', s(200)],
      ['description', 'memo', s(2000)],
      ['primarycontactid', 'lookup', lookup(['contact'])],
      ['parentaccountid', 'lookup', lookup(['account'])],
      ['masterid', 'lookup', lookup(['account'], { readOnly: true })],
      ...address,
    ],
  },
  {
    name: 'contact',
    entitySet: 'contacts',
    primaryName: 'fullname',
    displayName: 'Contact',
    states: { 0: [1], 1: [2] },
    columns: [
      ['firstname', 'string', s(50)],
      ['lastname', 'string', { maxLength: 50, required: true }],
      ['fullname', 'string', { maxLength: 160, readOnly: true }],
      ['emailaddress1', 'string', s(100)],
      ['telephone1', 'string', s(50)],
      ['mobilephone', 'string', s(50)],
      ['jobtitle', 'string', s(100)],
      ['parentcustomerid', 'lookup', lookup(['account', 'contact'])],
      ['masterid', 'lookup', lookup(['contact'], { readOnly: true })],
      ...address,
    ],
  },
  {
    name: 'opportunity',
    entitySet: 'opportunities',
    primaryName: 'name',
    displayName: 'Opportunity',
    states: { 0: [1, 2], 1: [3], 2: [4, 5] },
    columns: [
      ['name', 'string', { maxLength: 300, required: true }],
      ['customerid', 'lookup', lookup(['account', 'contact'])],
      ['parentaccountid', 'lookup', lookup(['account'])],
      ['parentcontactid', 'lookup', lookup(['contact'])],
      ['originatingleadid', 'lookup', lookup(['lead'])],
      ['transactioncurrencyid', 'lookup', lookup(['transactioncurrency'])],
      ['estimatedvalue', 'money'],
      ['estimatedclosedate', 'date'],
      ['actualvalue', 'money'],
      ['actualclosedate', 'date'],
      ['budgetamount', 'money'],
      ['closeprobability', 'int'],
      ['stepname', 'string', s(200)],
      ['description', 'memo', s(2000)],
    ],
  },
  {
    name: 'lead',
    entitySet: 'leads',
    primaryName: 'fullname',
    displayName: 'Lead',
    states: { 0: [1, 2], 1: [3], 2: [4, 5, 6, 7] },
    columns: [
      ['subject', 'string', { maxLength: 300, required: true }],
      ['firstname', 'string', s(50)],
      ['lastname', 'string', s(50)],
      ['fullname', 'string', { maxLength: 160, readOnly: true }],
      ['companyname', 'string', s(100)],
      ['emailaddress1', 'string', s(100)],
      ['telephone1', 'string', s(50)],
      ['jobtitle', 'string', s(100)],
      ['estimatedamount', 'money'],
      ['estimatedclosedate', 'date'],
      ['description', 'memo', s(2000)],
      ['parentaccountid', 'lookup', lookup(['account'])],
      ['parentcontactid', 'lookup', lookup(['contact'])],
      ['customerid', 'lookup', lookup(['account', 'contact'])],
      ['qualifyingopportunityid', 'lookup', lookup(['opportunity'], { readOnly: true })],
      ['transactioncurrencyid', 'lookup', lookup(['transactioncurrency'])],
      ['masterid', 'lookup', lookup(['lead'], { readOnly: true })],
      ...address,
    ],
  },
  {
    name: 'connection',
    entitySet: 'connections',
    primaryName: 'name',
    displayName: 'Connection',
    states: { 0: [1], 1: [2] },
    columns: [
      ['name', 'string', { maxLength: 500, readOnly: true }],
      ['record1id', 'lookup', lookup(['opportunity', 'account', 'contact', 'lead'], { required: true })],
      ['record2id', 'lookup', lookup(['opportunity', 'account', 'contact', 'lead'], { required: true })],
      ['description', 'memo', s(2000)],
    ],
  },
  {
    name: 'transactioncurrency',
    entitySet: 'transactioncurrencies',
    primaryName: 'currencyname',
    displayName: 'Currency',
    states: { 0: [1], 1: [2] },
    changeTracking: false,
    columns: [
      ['isocurrencycode', 'string', { maxLength: 5, required: true }],
      ['currencyname', 'string', { maxLength: 100, required: true }],
      ['currencysymbol', 'string', s(10)],
      ['exchangerate', 'decimal'],
    ],
  },
  {
    name: 'organization',
    entitySet: 'organizations',
    primaryName: 'name',
    displayName: 'Organization',
    changeTracking: false,
    columns: [
      ['name', 'string', s(160)],
      ['basecurrencyid', 'lookup', lookup(['transactioncurrency'])],
    ],
  },
  {
    name: 'systemuser',
    entitySet: 'systemusers',
    primaryName: 'fullname',
    displayName: 'User',
    changeTracking: false,
    columns: [
      ['fullname', 'string', s(200)],
      ['domainname', 'string', s(1024)],
      ['internalemailaddress', 'string', s(100)],
      ['applicationid', 'string', s(40)],
      ['isdisabled', 'bool'],
    ],
  },
  {
    name: 'role',
    entitySet: 'roles',
    primaryName: 'name',
    displayName: 'Security Role',
    changeTracking: false,
    columns: [['name', 'string', s(100)]],
  },
  {
    name: 'environmentvariabledefinition',
    entitySet: 'environmentvariabledefinitions',
    primaryName: 'schemaname',
    displayName: 'Environment Variable Definition',
    changeTracking: false,
    columns: [
      ['schemaname', 'string', { maxLength: 100, required: true }],
      ['displayname', 'string', s(100)],
      ['defaultvalue', 'memo', s(2000)],
      ['type', 'int'],
      ['description', 'memo', s(2000)],
    ],
  },
  {
    name: 'environmentvariablevalue',
    entitySet: 'environmentvariablevalues',
    primaryName: 'schemaname',
    displayName: 'Environment Variable Value',
    changeTracking: false,
    columns: [
      ['schemaname', 'string', s(100)],
      ['value', 'memo', s(2000)],
      [
        'environmentvariabledefinitionid',
        'lookup',
        lookup(['environmentvariabledefinition'], { schemaName: 'EnvironmentVariableDefinitionId' }),
      ],
    ],
  },
  {
    name: 'opportunityclose',
    entitySet: 'opportunitycloses',
    primaryName: 'subject',
    displayName: 'Opportunity Close',
    changeTracking: false,
    columns: [
      ['subject', 'string', s(200)],
      ['opportunityid', 'lookup', lookup(['opportunity'])],
      ['actualrevenue', 'money'],
      ['actualend', 'date'],
      ['description', 'memo', s(2000)],
    ],
  },
];

/** One-to-many navigation properties the emulator serves (`$expand` of a collection). */
const STANDARD_RELATIONSHIPS: Relationship[] = [
  {
    name: 'opportunity_connections1',
    referencingTable: 'connection',
    lookup: 'record1id',
    referencedTable: 'opportunity',
  },
  {
    name: 'environmentvariabledefinition_environmentvariablevalue',
    referencingTable: 'environmentvariablevalue',
    lookup: 'environmentvariabledefinitionid',
    referencedTable: 'environmentvariabledefinition',
  },
  {
    name: 'contact_customer_accounts',
    referencingTable: 'contact',
    lookup: 'parentcustomerid',
    referencedTable: 'account',
  },
];

function toColumn([name, kind, extra]: ColumnSpec): Column {
  return { name, schemaName: name, kind, ...extra };
}

function standardTable(spec: (typeof STANDARD)[number]): Table {
  const columns = new Map<string, Column>();
  const id = `${spec.name === 'opportunityclose' ? 'activity' : spec.name}id`;
  columns.set(id, { name: id, schemaName: id, kind: 'id', readOnly: true });
  for (const c of [...spec.columns, ...common]) columns.set(c[0], toColumn(c));
  if (spec.states) {
    columns.set('statecode', { name: 'statecode', schemaName: 'statecode', kind: 'state' });
    columns.set('statuscode', { name: 'statuscode', schemaName: 'statuscode', kind: 'status' });
  }
  return {
    name: spec.name,
    entitySet: spec.entitySet,
    primaryId: id,
    primaryName: spec.primaryName,
    columns,
    keys: [],
    changeTracking: spec.changeTracking ?? true,
    custom: false,
    displayName: spec.displayName,
    ...(spec.states ? { states: spec.states } : {}),
  };
}

const KIND_OF: Record<string, ColumnKind> = {
  nvarchar: 'string',
  ntext: 'memo',
  bit: 'bool',
  picklist: 'choice',
  lookup: 'lookup',
  money: 'money',
  datetime: 'datetime',
  int: 'int',
};

/** Builds the environment's schema: standard tables, plus the solution's when it is imported. */
export function buildSchema(solution: SolutionSchema | null): Schema {
  const tables = new Map<string, Table>();
  for (const spec of STANDARD) tables.set(spec.name, standardTable(spec));
  const relationships = [...STANDARD_RELATIONSHIPS];
  if (solution) {
    const choices = new Map(solution.choices.map((c) => [c.name, c]));
    for (const t of solution.tables) {
      let table = tables.get(t.name);
      if (!table) {
        const id = `${t.name}id`;
        table = {
          name: t.name,
          entitySet: t.entitySet ?? `${t.name}s`,
          primaryId: id,
          primaryName: t.primaryName ?? `${solution.publisher.prefix}_name`,
          columns: new Map([[id, { name: id, schemaName: id, kind: 'id', readOnly: true }]]),
          keys: [],
          changeTracking: t.changeTracking,
          custom: true,
          states: { 0: [1], 1: [2] },
          displayName: t.displayName,
        };
        for (const c of common) table.columns.set(c[0], toColumn(c));
        table.columns.set('statecode', { name: 'statecode', schemaName: 'statecode', kind: 'state' });
        table.columns.set('statuscode', { name: 'statuscode', schemaName: 'statuscode', kind: 'status' });
        tables.set(t.name, table);
      }
      if (t.changeTracking) table.changeTracking = true;
      for (const c of t.columns) {
        const kind = KIND_OF[c.type] ?? 'string';
        const column: Column = {
          name: c.name,
          schemaName: c.schemaName,
          kind,
          custom: true,
          displayName: c.displayName,
          ...(c.required ? { required: true } : {}),
          ...(c.maxLength !== undefined ? { maxLength: c.maxLength } : {}),
          ...(c.target ? { targets: [c.target] } : {}),
          ...(c.optionSet
            ? { optionSet: c.optionSet, options: choices.get(c.optionSet)?.options ?? [] }
            : {}),
          ...(c.defaultValue !== undefined ? { defaultValue: c.defaultValue === 1 } : {}),
        };
        table.columns.set(c.name, column);
        if (kind === 'lookup' && c.target) {
          relationships.push({
            name: `${solution.publisher.prefix}_${c.target.replace(`${solution.publisher.prefix}_`, '')}_${t.name}`,
            referencingTable: t.name,
            lookup: c.name,
            referencedTable: c.target,
          });
        }
      }
      table.keys.push(...t.keys);
    }
  }
  return {
    tables,
    bySet: new Map([...tables.values()].map((t) => [t.entitySet, t])),
    relationships,
    solution,
  };
}

/** The navigation property that binds a lookup: its schema name, suffixed with the target for polymorphic
 *  lookups (`customerid_account`, `parentcustomerid_contact`, `record2id_contact`). */
export function navigationNames(column: Column): { nav: string; target: string }[] {
  const targets = column.targets ?? [];
  if (targets.length > 1) return targets.map((target) => ({ nav: `${column.schemaName}_${target}`, target }));
  return targets.map((target) => ({ nav: column.schemaName, target }));
}

/** What an admin adds in Power Apps (a custom table or column), e.g. a country table and its lookup (R21). */
export interface CustomColumnSpec {
  name: string;
  /** The lookup's navigation property (case-sensitive), default the name. */
  schemaName?: string;
  kind: 'string' | 'lookup' | 'int' | 'bool';
  maxLength?: number;
  /** A lookup's target table (logical name). */
  target?: string;
  displayName?: string;
}

export interface CustomTableSpec {
  name: string;
  entitySet: string;
  primaryName: string;
  displayName?: string;
  columns: CustomColumnSpec[];
}

const CUSTOM_NAME = /^[a-z][a-z0-9]*_[a-z0-9_]+$/;

/** Adds a column to a table, as an admin does in Power Apps; validates like the maker portal would. */
export function addCustomColumn(schema: Schema, tableName: string, spec: CustomColumnSpec): Column {
  const table = schema.tables.get(tableName);
  if (!table) throw new Error(`No table ${tableName}.`);
  if (!CUSTOM_NAME.test(spec.name))
    throw new Error(`${spec.name}: a custom column is named <prefix>_<name>.`);
  if (table.columns.has(spec.name)) throw new Error(`${tableName}.${spec.name} exists already.`);
  if (spec.kind === 'lookup' && !(spec.target && schema.tables.has(spec.target)))
    throw new Error(`${spec.name}: a lookup needs an existing target table.`);
  const column: Column = {
    name: spec.name,
    schemaName: spec.schemaName ?? spec.name,
    kind: spec.kind,
    custom: true,
    displayName: spec.displayName ?? spec.name,
    ...(spec.maxLength !== undefined ? { maxLength: spec.maxLength } : {}),
    ...(spec.kind === 'lookup' ? { targets: [spec.target!] } : {}),
  };
  table.columns.set(spec.name, column);
  if (spec.kind === 'lookup')
    schema.relationships.push({
      name: `${spec.name}_${tableName}`,
      referencingTable: tableName,
      lookup: spec.name,
      referencedTable: spec.target!,
    });
  return column;
}

/** Adds a custom table (with the standard columns every table has) and its own columns. */
export function addCustomTable(schema: Schema, spec: CustomTableSpec): Table {
  if (!CUSTOM_NAME.test(spec.name)) throw new Error(`${spec.name}: a custom table is named <prefix>_<name>.`);
  if (schema.tables.has(spec.name) || schema.bySet.has(spec.entitySet))
    throw new Error(`${spec.name} (${spec.entitySet}) exists already.`);
  const id = `${spec.name}id`;
  const table: Table = {
    name: spec.name,
    entitySet: spec.entitySet,
    primaryId: id,
    primaryName: spec.primaryName,
    columns: new Map([[id, { name: id, schemaName: id, kind: 'id', readOnly: true }]]),
    keys: [],
    changeTracking: false,
    custom: true,
    states: { 0: [1], 1: [2] },
    displayName: spec.displayName ?? spec.name,
  };
  for (const c of common) table.columns.set(c[0], toColumn(c));
  table.columns.set('statecode', { name: 'statecode', schemaName: 'statecode', kind: 'state' });
  table.columns.set('statuscode', { name: 'statuscode', schemaName: 'statuscode', kind: 'status' });
  schema.tables.set(spec.name, table);
  schema.bySet.set(spec.entitySet, table);
  const columns = spec.columns.some((c) => c.name === spec.primaryName)
    ? spec.columns
    : [{ name: spec.primaryName, kind: 'string' as const, maxLength: 100 }, ...spec.columns];
  for (const column of columns) addCustomColumn(schema, spec.name, column);
  return table;
}
