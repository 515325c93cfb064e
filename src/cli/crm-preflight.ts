// Before `start` does anything, the CRM is checked against the config the way `doctor --config` checks it: a
// field name or stage value that does not exist in the org would otherwise fail every sync, one record at a
// time. Problems are reported together with the config file's own; a CRM that cannot be reached is not a
// config problem (the engine pauses and resumes on outages), so it only gets a warning.
import type { ConfigProblem } from '../config/errors.ts';
import type { Config } from '../config/schema.ts';
import type { DoctorLine } from '../crm/doctor.ts';
import { runDynamicsDoctor } from '../crm/dynamics/doctor.ts';
import { runSalesforceDoctor } from '../crm/salesforce/doctor.ts';

/** Doctor checks that describe the org against the config: a failure is something an admin must fix. */
const CONFIG_CHECKS: ReadonlySet<string> = new Set([
  'schema',
  'role',
  'fields',
  'settings',
  'decision',
  'mapping',
  'currencies',
  'api-version',
]);

export interface CrmPreflight {
  problems: ConfigProblem[];
  /** Why the org could not be checked (unreachable, refused the sign-in), or null when it was. */
  unchecked: string | null;
}

export async function crmPreflight(config: Config): Promise<CrmPreflight> {
  const kind = config.crm.kind;
  const lines = await crmDoctorLines(config);
  const failed = lines.filter((l) => !l.ok);
  const problems = failed
    .filter((l) => CONFIG_CHECKS.has(l.check))
    .map(
      (l): ConfigProblem => ({
        path: `crm.${kind}`,
        message: `${kind === 'salesforce' ? 'Salesforce' : 'Dynamics 365'} ${l.check}: ${l.message}${l.fix ? ` Fix: ${l.fix}` : ''}`,
      }),
    );
  const other = failed.filter((l) => !CONFIG_CHECKS.has(l.check));
  return {
    problems,
    unchecked:
      other.length > 0 ? other.map((l) => `${l.message}${l.fix ? ` (${l.fix})` : ''}`).join(' ') : null,
  };
}

async function crmDoctorLines(config: Config): Promise<DoctorLine[]> {
  const createDefaults = config.engine.mapping.createDefaults;
  // The start-up check waits no longer for an answer than the sync would (engine.requestTimeoutMs).
  const clientOptions = { timeoutMs: config.engine.requestTimeoutMs };
  if (config.crm.kind === 'salesforce' && config.crm.salesforce) {
    const { connection, settings } = config.crm.salesforce;
    return (await runSalesforceDoctor(connection, { createDefaults, settings, clientOptions })).lines;
  }
  if (config.crm.kind === 'dynamics' && config.crm.dynamics) {
    const { connection, settings } = config.crm.dynamics;
    return (await runDynamicsDoctor(connection, settings, { createDefaults, clientOptions })).lines;
  }
  return [];
}
