// Checks a Dataverse environment against the shipped solution (packaging/dynamics): every table, column
// (type, length), choice value, the referral-identifier alternate key, change tracking on the tables the feed
// reads, the environment variables, and the application user's security role (R18, R21, R28). One line per
// problem, each with the fix.
import { ValueMap } from '../../core/value-map.ts';
import {
  createDefaultLines,
  type DescribedFields,
  type DoctorLine,
  type DoctorResult,
  decisionLine,
  type NamedField,
  namedFieldLines,
} from '../doctor.ts';
import { CrmError, type SchemaProblem, type SchemaReport } from '../port.ts';
import { DataverseClient, type DataverseClientOptions } from './client.ts';
import { readCurrencies } from './currencies.ts';
import {
  API_VERSION,
  ASSISTANCE_CHOICES,
  ENTITY_SETS,
  REQUIRED_ROLES,
  SOLUTION_SOURCE_DIR,
  solutionNames,
} from './fields.ts';
import { effectiveSettings, type VariableValue } from './mapping.ts';
import { readSolution, type SolutionColumn, type SolutionSchema, withPrefix } from './package-schema.ts';
import type { DynamicsConnection, DynamicsSettings } from './settings.ts';

type Row = Record<string, unknown>;

const TYPE_NAMES: Record<SolutionColumn['type'], string> = {
  nvarchar: 'String',
  ntext: 'Memo',
  bit: 'Boolean',
  picklist: 'Picklist',
  lookup: 'Lookup',
  money: 'Money',
  datetime: 'DateTime',
  int: 'Integer',
};

const IMPORT_FIX = `Import the cosell solution: pac solution pack --folder ${SOLUTION_SOURCE_DIR} --zipfile cosell.zip, then pac solution import --path cosell.zip (or run cosell provision --crm dynamics --out <dir>).`;

/** Environment variables of the solution: current value and default value by lower-case schema name. */
export async function readVariables(
  client: DataverseClient,
  prefix: string,
): Promise<Map<string, VariableValue>> {
  const page = (await client.run('read environment variables', (api) =>
    api.retrieveMultiple({
      collection: ENTITY_SETS.definition,
      select: ['schemaname', 'defaultvalue'],
      filter: `startswith(schemaname,'${prefix}_')`,
      expand: [{ property: 'environmentvariabledefinition_environmentvariablevalue', select: ['value'] }],
    }),
  )) as { value?: Row[] };
  const out = new Map<string, VariableValue>();
  for (const row of page.value ?? []) {
    const values = (row.environmentvariabledefinition_environmentvariablevalue as Row[] | undefined) ?? [];
    out.set(String(row.schemaname).toLowerCase(), {
      value: typeof values[0]?.value === 'string' ? String(values[0].value) : null,
      defaultValue: typeof row.defaultvalue === 'string' ? row.defaultvalue : null,
    });
  }
  return out;
}

async function entityMetadata(client: DataverseClient, table: string): Promise<Row | null> {
  try {
    return (await client.run('read table metadata', (api) =>
      api.retrieveEntity({
        key: `LogicalName='${table}'`,
        select: ['LogicalName', 'EntitySetName', 'ChangeTrackingEnabled'],
        expand: [
          { property: 'Attributes', select: ['LogicalName', 'AttributeType', 'MaxLength', 'OptionSetName'] },
          { property: 'Keys', select: ['LogicalName', 'KeyAttributes', 'EntityKeyIndexStatus'] },
        ],
      }),
    )) as Row;
  } catch (error) {
    if ((error as { status?: number }).status === 404) return null;
    throw error;
  }
}

export async function checkSolutionSchema(
  client: DataverseClient,
  settings: DynamicsSettings,
  solution?: SolutionSchema,
): Promise<SchemaReport> {
  const shipped = solution ?? withPrefix(await readSolution(), settings.prefix);
  const problems: SchemaProblem[] = [];
  const objects: SchemaReport['objects'] = [];
  for (const table of shipped.tables) {
    const meta = await entityMetadata(client, table.name);
    if (!meta) {
      objects.push({ name: table.name, present: false, fields: [] });
      problems.push({
        kind: 'missing-object',
        object: table.name,
        message: `Table ${table.name} (${table.displayName}) does not exist.`,
        fix: IMPORT_FIX,
      });
      continue;
    }
    const attributes = new Map(
      ((meta.Attributes as Row[] | undefined) ?? []).map((a) => [String(a.LogicalName), a]),
    );
    objects.push({ name: table.name, present: true, fields: [...attributes.keys()] });
    if (table.changeTracking && meta.ChangeTrackingEnabled !== true) {
      problems.push({
        kind: 'not-readable',
        object: table.name,
        message: `Change tracking is off on ${table.name}: cosell cannot see its changes.`,
        fix: `Power Apps > Tables > ${table.displayName} > Properties > Advanced options > Track changes (or import the solution, which turns it on).`,
      });
    }
    for (const column of table.columns) {
      const found = attributes.get(column.name);
      if (!found) {
        problems.push({
          kind: 'missing-field',
          object: table.name,
          field: column.name,
          message: `Column ${table.name}.${column.name} (${column.displayName}, ${TYPE_NAMES[column.type]}) does not exist.`,
          fix: IMPORT_FIX,
        });
        continue;
      }
      if (found.AttributeType !== TYPE_NAMES[column.type]) {
        problems.push({
          kind: 'wrong-type',
          object: table.name,
          field: column.name,
          message: `Column ${table.name}.${column.name} is ${String(found.AttributeType)}; cosell needs ${TYPE_NAMES[column.type]}.`,
          fix: `Delete the column and import the cosell solution, or point the config at a ${TYPE_NAMES[column.type]} column.`,
        });
      }
      if (
        column.maxLength !== undefined &&
        typeof found.MaxLength === 'number' &&
        found.MaxLength < column.maxLength
      ) {
        problems.push({
          kind: 'wrong-length',
          object: table.name,
          field: column.name,
          message: `Column ${table.name}.${column.name} holds ${found.MaxLength} characters; cosell needs ${column.maxLength}.`,
          fix: `Raise its maximum length to ${column.maxLength} in Power Apps (Tables > ${table.displayName} > Columns).`,
        });
      }
    }
    for (const key of table.keys) {
      const keys = (meta.Keys as Row[] | undefined) ?? [];
      const present = keys.find((k) => String(k.LogicalName) === key.name);
      if (present?.EntityKeyIndexStatus !== 'Active') {
        problems.push({
          kind: 'not-external-id',
          object: table.name,
          field: key.columns.join(','),
          message: present
            ? `Alternate key ${key.name} on ${table.name} is ${String(present.EntityKeyIndexStatus)}, not Active: creates cannot be made idempotent yet.`
            : `Alternate key ${key.name} on ${table.name} (${key.columns.join(', ')}) does not exist: a retried create could duplicate the opportunity.`,
          fix: present
            ? 'Wait for the key index to finish building, or reactivate it in Power Apps (Tables > Keys).'
            : IMPORT_FIX,
        });
      }
    }
  }
  for (const choice of shipped.choices) {
    let options: Row[] | null = null;
    try {
      const found = (await client.run('read choice', (api) =>
        api.retrieveGlobalOptionSet({ key: `Name='${choice.name}'`, select: ['Name', 'Options'] }),
      )) as Row;
      options = (found.Options as Row[] | undefined) ?? [];
    } catch (error) {
      if ((error as { status?: number }).status !== 404) throw error;
    }
    if (!options) {
      problems.push({
        kind: 'missing-object',
        object: choice.name,
        message: `Choice ${choice.name} (${choice.displayName}) does not exist.`,
        fix: IMPORT_FIX,
      });
      continue;
    }
    // The values this deployment maps (R22): its own for "How can Microsoft help?" where the config says so.
    const assistanceChoice = shipped.tables
      .flatMap((t) => t.columns)
      .find((c) => c.name === solutionNames(settings.prefix).columns.assistance)?.optionSet;
    const expected =
      choice.name === assistanceChoice
        ? new ValueMap(ASSISTANCE_CHOICES, settings.values.assistance).crmValues().map((value) => ({
            value,
            label:
              choice.options.find((o) => o.value === value)?.label ?? 'from crm.dynamics.settings.values',
          }))
        : choice.options;
    for (const option of expected) {
      if (!options.some((o) => Number(o.Value) === option.value)) {
        problems.push({
          kind: 'missing-picklist-value',
          object: choice.name,
          field: String(option.value),
          message: `Choice ${choice.name} has no option ${option.value} (${option.label}).`,
          fix: `Add the option ${option.value} "${option.label}" to ${choice.displayName}, or import the cosell solution.`,
        });
      }
    }
  }
  const variables = await readVariables(client, settings.prefix);
  for (const variable of shipped.variables) {
    if (!variables.has(variable.schemaName.toLowerCase())) {
      problems.push({
        kind: 'missing-object',
        object: variable.schemaName,
        message: `Environment variable ${variable.schemaName} (${variable.displayName}) does not exist.`,
        fix: IMPORT_FIX,
      });
    }
  }
  problems.push(...(await roleProblems(client)));
  return { apiVersion: API_VERSION, objects, problems };
}

/** R28: the application user needs System Administrator or System Customizer. */
async function roleProblems(client: DataverseClient): Promise<SchemaProblem[]> {
  const me = (await client.run('who am I', (api) => api.callFunction({ functionName: 'WhoAmI' }))) as Row;
  const user = (await client.run('read application user roles', (api) =>
    api.retrieve({
      collection: ENTITY_SETS.systemuser,
      key: String(me.UserId),
      select: ['fullname'],
      expand: [{ property: 'systemuserroles_association', select: ['name'] }],
    }),
  )) as Row;
  const roles = ((user.systemuserroles_association as Row[] | undefined) ?? []).map((r) => String(r.name));
  if (roles.some((r) => (REQUIRED_ROLES as readonly string[]).includes(r))) return [];
  return [
    {
      kind: 'not-editable',
      object: 'systemuser',
      field: String(user.fullname ?? me.UserId),
      message: `The application user ${String(user.fullname ?? me.UserId)} has ${roles.length ? `only ${roles.join(', ')}` : 'no security role'}; cosell needs ${REQUIRED_ROLES.join(' or ')} (R28).`,
      fix: 'Power Platform admin center > Environments > <environment> > Settings > Users + permissions > Application users > the app > Edit security roles > System Customizer.',
    },
  ];
}

/** `cosell doctor` for Dynamics 365: token, environment, role, every table/column/choice/key of the solution,
 *  change tracking, the effective settings and where each came from, and the enabled currencies. */
export async function runDynamicsDoctor(
  connection: DynamicsConnection,
  settings: DynamicsSettings,
  options: {
    clientOptions?: DataverseClientOptions;
    /** R22: engine.mapping.createDefaults, checked against the environment's columns. */
    createDefaults?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  } = {},
): Promise<DoctorResult> {
  const lines: DoctorLine[] = [];
  let client: DataverseClient;
  try {
    client = await DataverseClient.connect(connection, {
      policy: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0, maxRetryAfterMs: 0 },
      ...options.clientOptions,
    });
    lines.push({
      ok: true,
      check: 'token',
      message: `Token for ${connection.url}/.default from tenant ${connection.tenantId} (${connection.auth.grant}).`,
    });
  } catch (error) {
    const e =
      error instanceof CrmError
        ? error
        : new CrmError({ crm: 'dynamics', operation: 'token', message: String(error) });
    lines.push({ ok: false, check: 'token', message: e.message, ...(e.fix ? { fix: e.fix } : {}) });
    return { ok: false, lines };
  }
  try {
    const me = (await client.run('who am I', (api) => api.callFunction({ functionName: 'WhoAmI' }))) as Row;
    lines.push({
      ok: true,
      check: 'environment',
      message: `${connection.url} answers; application user ${String(me.UserId)}.`,
    });
    const report = await checkSolutionSchema(client, settings);
    if (report.problems.length === 0) {
      lines.push({
        ok: true,
        check: 'schema',
        message: `Every table, column, choice, key and environment variable of ${SOLUTION_SOURCE_DIR} is present; change tracking is on; the application user has a required role.`,
      });
    }
    for (const problem of report.problems) {
      lines.push({
        ok: false,
        check: problem.kind === 'not-editable' ? 'role' : 'schema',
        message: problem.message,
        fix: problem.fix,
      });
    }
    const effective = effectiveSettings(settings, await readVariables(client, settings.prefix));
    for (const key of [
      'dealValueField',
      'accountCountryField',
      'displayCheckMark',
      'syncCoSellOpportunitiesOnly',
    ] as const) {
      lines.push({
        ok: true,
        check: 'setting',
        message: `${key} = ${String(effective[key])} (${effective.sources[key]})`,
      });
    }
    if (options.createDefaults) {
      const described = async (table: string): Promise<DescribedFields> => {
        const meta = await entityMetadata(client, table);
        const attributes = (meta?.Attributes as Row[] | undefined) ?? [];
        return meta ? new Map(attributes.map((a) => [String(a.LogicalName), {}])) : null;
      };
      lines.push(
        ...createDefaultLines(
          options.createDefaults,
          { opportunity: await described('opportunity'), lead: await described('lead') },
          (kind) => kind,
        ),
      );
    }
    // R21: the columns the settings or environment variables name must exist.
    const columns = async (table: string) => {
      const meta = await entityMetadata(client, table);
      const attributes = (meta?.Attributes as Row[] | undefined) ?? [];
      return meta ? new Set(attributes.map((a) => String(a.LogicalName).toLowerCase())) : null;
    };
    // Where the name came from, so the fix points at the config key or the environment variable to change.
    const whereSet = (key: 'dealValueField' | 'accountCountryField') =>
      effective.sources[key] === 'config'
        ? `crm.dynamics.settings.${key}`
        : effective.sources[key].startsWith('environment variable')
          ? `the ${effective.names.variables[key]} ${effective.sources[key]}`
          : `${key} (built-in default)`;
    const named: NamedField[] = [
      { path: whereSet('dealValueField'), type: 'opportunity', name: effective.dealValueField },
      ...(settings.accountCountryLookup
        ? []
        : [{ path: whereSet('accountCountryField'), type: 'account', name: effective.accountCountryField }]),
      ...(settings.accountDunsField
        ? [
            {
              path: 'crm.dynamics.settings.accountDunsField',
              type: 'account',
              name: settings.accountDunsField,
            },
          ]
        : []),
    ];
    lines.push(
      ...namedFieldLines(named, {
        opportunity: await columns('opportunity'),
        account: await columns('account'),
      }),
    );
    if (settings.decision) {
      const meta = await entityMetadata(client, 'opportunity');
      const attributes = (meta?.Attributes as Row[] | undefined) ?? [];
      lines.push(
        decisionLine(
          settings.decision,
          meta ? new Map(attributes.map((a) => [String(a.LogicalName), {}])) : null,
          'opportunity',
        ),
      );
    }
    const currencies = await readCurrencies(client);
    lines.push({
      ok: currencies.enabled.length > 0,
      check: 'currencies',
      message: `base ${currencies.corporate || '?'}; enabled ${currencies.enabled.join(', ') || 'none'}.`,
      ...(currencies.enabled.length
        ? {}
        : { fix: 'Give the application user read access to transactioncurrency and organization.' }),
    });
  } catch (error) {
    const e =
      error instanceof CrmError
        ? error
        : new CrmError({ crm: 'dynamics', operation: 'doctor', message: String(error) });
    lines.push({ ok: false, check: e.operation, message: e.message, ...(e.fix ? { fix: e.fix } : {}) });
  }
  return { ok: lines.every((l) => l.ok), lines };
}
