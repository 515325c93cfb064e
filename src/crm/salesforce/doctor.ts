// `cosell doctor`, Salesforce part (R18, R23, R28): can we get a token, does the org serve our API version, is
// every object and field of packaging/salesforce/ there with the right type, length, picklist values and
// external-id flag, and can the integration user read and edit each custom field (field-level security).
// Every problem comes with the exact fix; the package XML is the source of truth.

import {
  createDefaultLines,
  type DescribedFields,
  type DoctorLine,
  type DoctorResult,
  decisionLine,
  type NamedField,
  namedFieldLines,
} from '../doctor.ts';
import type { SchemaProblem, SchemaReport } from '../port.ts';
import { CrmError } from '../port.ts';
import { type DescribeResult, SalesforceClient, type SalesforceClientOptions } from './client.ts';
import { configuredPackage } from './configured-schema.ts';
import { readCurrencySupport } from './currencies.ts';
import { assignPermissionSetCommand, deployCommand, PERMISSION_SET } from './fields.ts';
import {
  DESCRIBE_TYPE_OF,
  loadPackageSchema,
  type PackageField,
  type PackageSchema,
} from './package-schema.ts';
import type { SalesforceConnection, SalesforceSettings } from './settings.ts';
import { literal } from './soql.ts';

export type { DoctorLine, DoctorResult };

const DEPLOY_AND_ASSIGN = `deploy the package (${deployCommand()}) and assign the permission set (${assignPermissionSetCommand()})`;

/** Whether the permission set is assigned to the user: true/false, or undefined when the org would not say. */
async function isPermissionSetAssigned(
  client: SalesforceClient,
  userId: string | undefined,
): Promise<boolean | undefined> {
  if (!userId) return undefined;
  try {
    const rows = await client.query(
      `SELECT Id FROM PermissionSetAssignment WHERE PermissionSet.Name = ${literal(PERMISSION_SET)} AND AssigneeId = ${literal(userId)}`,
      'check permission set',
    );
    return rows.length > 0;
  } catch {
    return undefined;
  }
}

async function describeOrNull(client: SalesforceClient, object: string): Promise<DescribeResult | null> {
  try {
    return await client.describe(object);
  } catch (error) {
    if (
      error instanceof CrmError &&
      (error.status === 404 || error.code === 'NOT_FOUND' || error.code === 'INVALID_TYPE')
    )
      return null;
    throw error;
  }
}

function fieldProblems(field: PackageField, described: DescribeResult, hint: string): SchemaProblem[] {
  const qualified = `${field.object}.${field.name}`;
  const found = described.fields.find((f) => f.name.toLowerCase() === field.name.toLowerCase());
  if (!found) {
    return [
      {
        kind: 'missing-field',
        object: field.object,
        field: field.name,
        message: `${qualified} is missing or not visible to the integration user.`,
        fix: hint,
      },
    ];
  }
  const problems: SchemaProblem[] = [];
  const expectedType = DESCRIBE_TYPE_OF[field.type];
  if (expectedType && found.type !== expectedType) {
    problems.push({
      kind: 'wrong-type',
      object: field.object,
      field: field.name,
      message: `${qualified} is ${found.type}, expected ${expectedType} (${field.type}).`,
      fix: `Change the field type in Setup to ${field.type}, or delete it and ${DEPLOY_AND_ASSIGN}.`,
    });
  }
  if (field.length && found.length && found.length < field.length) {
    problems.push({
      kind: 'wrong-length',
      object: field.object,
      field: field.name,
      message: `${qualified} holds ${found.length} characters, expected ${field.length}.`,
      fix: `Widen the field to ${field.length} characters in Setup (or redeploy: ${deployCommand()}).`,
    });
  }
  const present = new Set((found.picklistValues ?? []).filter((v) => v.active !== false).map((v) => v.value));
  for (const value of field.picklistValues.filter((v) => !present.has(v))) {
    problems.push({
      kind: 'missing-picklist-value',
      object: field.object,
      field: field.name,
      message: `${qualified} lacks the picklist value "${value}".`,
      fix: `Add "${value}" to the picklist in Setup (or redeploy: ${deployCommand()}).`,
    });
  }
  if (field.externalId && !found.externalId) {
    problems.push({
      kind: 'not-external-id',
      object: field.object,
      field: field.name,
      message: `${qualified} is not an External ID${field.unique ? ' (Unique)' : ''}; creates could duplicate.`,
      fix: `Tick "External ID" and "Unique" on the field in Setup (or redeploy: ${deployCommand()}).`,
    });
  }
  // Master-detail fields carry no field permissions: access follows the parent; they are set on create only.
  const isMasterDetail = field.type === 'MasterDetail';
  if (!isMasterDetail && found.updateable === false) {
    problems.push({
      kind: 'not-editable',
      object: field.object,
      field: field.name,
      message: `${qualified} is read-only for the integration user (field-level security).`,
      fix: `Assign the permission set (${assignPermissionSetCommand()}) or grant Edit on the field.`,
    });
  }
  return problems;
}

/** R21: every stage and lead status the settings name is a value of the org's picklist (an active one). */
/** The org's own fields the config names (package fields are checked by the schema check, R32). */
function configuredStandardFields(settings: SalesforceSettings): NamedField[] {
  const f = settings.fields;
  const at = (key: string) => `crm.salesforce.settings.fields.${key}`;
  return [
    { path: at('dealValue'), type: 'Opportunity', name: f.dealValue },
    { path: at('notes'), type: 'Opportunity', name: f.notes },
    { path: at('accountCountryName'), type: 'Account', name: f.accountCountryName },
    ...(f.accountDuns ? [{ path: at('accountDuns'), type: 'Account', name: f.accountDuns }] : []),
  ];
}

function picklistLines(
  settings: Pick<SalesforceSettings, 'stages' | 'leadStatus'>,
  opportunity: DescribeResult,
  lead: DescribeResult | null,
): DoctorLine[] {
  const valuesOf = (described: DescribeResult | null, field: string) =>
    new Set(
      (described?.fields.find((f) => f.name === field)?.picklistValues ?? [])
        .filter((v) => v.active !== false)
        .map((v) => v.value),
    );
  const stages = valuesOf(opportunity, 'StageName');
  const statuses = valuesOf(lead, 'Status');
  const wanted: [string, string, Set<string>][] = [
    ...Object.entries(settings.stages).map(([key, value]): [string, string, Set<string>] => [
      `crm.salesforce.settings.stages.${key}`,
      value,
      stages,
    ]),
    ['crm.salesforce.settings.leadStatus', settings.leadStatus, statuses],
  ];
  const problems = wanted
    .filter(([, value, known]) => known.size > 0 && !known.has(value))
    .map(
      ([path, value, known]): DoctorLine => ({
        ok: false,
        check: 'settings',
        message: `${path} is "${value}", which is not a value of the org's picklist.`,
        fix: `Set it to one of: ${[...known].join(', ')} (API names, not labels).`,
      }),
    );
  return problems.length > 0
    ? problems
    : [
        {
          ok: true,
          check: 'settings',
          message: `Stages ${Object.values(settings.stages).join(', ')} and lead status ${settings.leadStatus} exist in the org.`,
        },
      ];
}

/** Compares the org with the package. Costs one describe per object of the package (plus one query). */
export async function checkPackageSchema(
  client: SalesforceClient,
  pkg?: PackageSchema,
  userId?: string,
  settings?: SalesforceSettings,
): Promise<SchemaReport> {
  const shipped = pkg ?? (await loadPackageSchema());
  // The names and values this deployment uses (R22, R32), not the shipped ones it may have renamed.
  const schema = settings ? configuredPackage(shipped, settings) : shipped;
  const assigned = await isPermissionSetAssigned(client, userId);
  const hint =
    assigned === false
      ? `Assign the permission set (${assignPermissionSetCommand()}); if the field is still missing, ${deployCommand()}.`
      : `${DEPLOY_AND_ASSIGN[0]!.toUpperCase()}${DEPLOY_AND_ASSIGN.slice(1)}.`;
  const problems: SchemaProblem[] = [];
  if (assigned === false) {
    problems.push({
      kind: 'not-readable',
      object: 'PermissionSet',
      message: `The permission set ${PERMISSION_SET} is not assigned to the integration user, so cosell's custom fields are invisible to it (field-level security).`,
      fix: assignPermissionSetCommand(),
    });
  }
  const objects: SchemaReport['objects'] = [];
  const described = await Promise.all(schema.objects.map((o) => describeOrNull(client, o.name)));
  schema.objects.forEach((object, i) => {
    const describe = described[i];
    if (!describe) {
      objects.push({ name: object.name, present: false, fields: [] });
      problems.push({
        kind: 'missing-object',
        object: object.name,
        message: `Object ${object.name} is missing or not visible to the integration user, with its fields ${object.fields.map((f) => f.name).join(', ')}.`,
        fix: hint,
      });
      return;
    }
    objects.push({ name: object.name, present: true, fields: describe.fields.map((f) => f.name) });
    for (const field of object.fields) problems.push(...fieldProblems(field, describe, hint));
  });
  // Without PermissionSetAssignment access the org cannot tell "not deployed" from "no field-level security"
  // (both hide the fields from describe); say so once, in front of the per-field lines.
  const customMissing = schema.objects.every((object, i) =>
    object.custom
      ? !described[i]
      : object.fields.every(
          (f) => !described[i]?.fields.some((d) => d.name.toLowerCase() === f.name.toLowerCase()),
        ),
  );
  if (assigned === undefined && customMissing) {
    problems.unshift({
      kind: 'not-readable',
      object: 'PermissionSet',
      message: `None of cosell's custom objects or fields are visible to the integration user: the package is not deployed, or the permission set ${PERMISSION_SET} is not assigned (field-level security).`,
      fix: `${deployCommand()} then ${assignPermissionSetCommand()}`,
    });
  }
  return { apiVersion: client.apiVersion, objects, problems };
}

/** Runs every Salesforce check; never throws for a problem it can describe. */
export async function runSalesforceDoctor(
  connection: SalesforceConnection,
  options: {
    clientOptions?: SalesforceClientOptions;
    pkg?: PackageSchema;
    /** R22: engine.mapping.createDefaults, checked against the org's fields. */
    createDefaults?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
    /** R21: the configured stage names and lead status, checked against the org's picklists. */
    settings?: SalesforceSettings;
  } = {},
): Promise<DoctorResult> {
  const lines: DoctorLine[] = [];
  let client: SalesforceClient;
  try {
    client = await SalesforceClient.connect(connection, {
      retryPolicy: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0, maxRetryAfterMs: 0 },
      ...options.clientOptions,
    });
    lines.push({
      ok: true,
      check: 'token',
      message: `Token from ${connection.loginUrl} (${connection.auth.grant}); instance ${client.instanceUrl}.`,
    });
  } catch (error) {
    const e =
      error instanceof CrmError
        ? error
        : new CrmError({ crm: 'salesforce', operation: 'token', message: String(error) });
    lines.push({ ok: false, check: 'token', message: e.message, ...(e.fix ? { fix: e.fix } : {}) });
    return { ok: false, lines };
  }

  try {
    const versions = await client.versions();
    const served = versions.some((v) => v.version === connection.apiVersion);
    const newest = versions
      .map((v) => v.version)
      .sort((a, b) => Number(a) - Number(b))
      .at(-1);
    lines.push(
      served
        ? {
            ok: true,
            check: 'api-version',
            message: `API v${connection.apiVersion} is served (newest v${newest}).`,
          }
        : {
            ok: false,
            check: 'api-version',
            message: `The org does not serve API v${connection.apiVersion} (newest v${newest ?? '?'}).`,
            fix: `Set the Salesforce apiVersion to ${newest ?? 'a served version'} (--sf-api-version).`,
          },
    );
    const report = await checkPackageSchema(client, options.pkg, client.userId, options.settings);
    if (report.problems.length === 0) {
      lines.push({
        ok: true,
        check: 'schema',
        message: `Every object and field of packaging/salesforce is present, readable and editable.`,
      });
    }
    for (const problem of report.problems) {
      lines.push({ ok: false, check: 'schema', message: problem.message, fix: problem.fix });
    }
    // The engine reads the org's currencies before every referral it writes (R21): it must be allowed to.
    const opportunity = await client.describe('Opportunity');
    const currencies = await readCurrencySupport(
      client,
      opportunity.fields.some((f) => f.name === 'CurrencyIsoCode'),
    );
    lines.push({
      ok: currencies.enabled.length > 0,
      check: 'currencies',
      message:
        currencies.enabled.length > 0
          ? `Amounts are in ${currencies.enabled.join(', ')} (corporate ${currencies.corporate}); a referral in another currency is synced without its deal value and shows ✖.`
          : 'The org named no currency (Organization.DefaultCurrencyIsoCode / CurrencyType).',
      ...(currencies.enabled.length > 0
        ? {}
        : {
            fix: 'Give the integration user read access to Organization and CurrencyType (View Setup and Configuration).',
          }),
    });
    if (options.settings) {
      lines.push(...picklistLines(options.settings, opportunity, await describeOrNull(client, 'Lead')));
      const account = await describeOrNull(client, 'Account');
      const names = (d: DescribeResult | null) =>
        d ? new Set(d.fields.map((f) => f.name.toLowerCase())) : null;
      lines.push(
        ...namedFieldLines(configuredStandardFields(options.settings), {
          Opportunity: names(opportunity),
          Account: names(account),
        }),
      );
    }
    if (options.settings?.decision) {
      const fields = new Map(
        opportunity.fields.map((f) => [
          f.name,
          f.type === 'picklist' ? { values: (f.picklistValues ?? []).map((p) => p.value) } : {},
        ]),
      );
      lines.push(decisionLine(options.settings.decision, fields, 'Opportunity'));
    }
    if (options.createDefaults) {
      const described = async (object: string): Promise<DescribedFields> => {
        const d = await describeOrNull(client, object);
        return d ? new Map(d.fields.map((f) => [f.name, { createable: f.createable }])) : null;
      };
      lines.push(
        ...createDefaultLines(
          options.createDefaults,
          { opportunity: await described('Opportunity'), lead: await described('Lead') },
          (kind) => (kind === 'lead' ? 'Lead' : 'Opportunity'),
        ),
      );
    }
    const usage = client.apiUsage;
    if (usage)
      lines.push({
        ok: true,
        check: 'api-usage',
        message: `API usage ${usage.used}/${usage.limit} in the last 24 h.`,
      });
  } catch (error) {
    const e =
      error instanceof CrmError
        ? error
        : new CrmError({ crm: 'salesforce', operation: 'doctor', message: String(error) });
    lines.push({ ok: false, check: e.operation, message: e.message, ...(e.fix ? { fix: e.fix } : {}) });
  }
  return { ok: lines.every((l) => l.ok), lines };
}
