// What `cosell doctor` prints, in the same shape for every CRM: one line per check, a fix on every failure.
import type { DecisionField } from '../core/decision.ts';

export interface DoctorLine {
  ok: boolean;
  /** Which system the line is about, when a doctor run covers several (default: the CRM's). */
  system?: string;
  check: string;
  message: string;
  fix?: string;
}

export interface DoctorResult {
  ok: boolean;
  lines: DoctorLine[];
}

/** A CRM record type's fields as the org describes them (null: the type itself is not visible). */
export type DescribedFields = ReadonlyMap<string, { createable?: boolean }> | null;

/**
 * R22: every field `engine.mapping.createDefaults` names must exist on its record type and take a value on
 * create, or every record cosell creates would be refused. Names compare without case, as both CRMs do.
 */
export function createDefaultLines(
  defaults: Readonly<Record<string, Readonly<Record<string, unknown>>>>,
  described: Readonly<Record<string, DescribedFields>>,
  typeName: (kind: string) => string,
): DoctorLine[] {
  const lines: DoctorLine[] = [];
  for (const [kind, fields] of Object.entries(defaults)) {
    const names = Object.keys(fields);
    if (names.length === 0) continue;
    const known = described[kind];
    const byName = new Map([...(known ?? new Map()).entries()].map(([n, f]) => [n.toLowerCase(), f]));
    const problems = names.flatMap((name): DoctorLine[] => {
      const field = known ? byName.get(name.replace(/@odata\.bind$/, '').toLowerCase()) : undefined;
      const at = `engine.mapping.createDefaults.${kind}.${name}`;
      if (!field)
        return [
          {
            ok: false,
            check: 'mapping',
            message: `${at}: ${typeName(kind)} has no field ${name} the integration user can see.`,
            fix: 'Use the field API / logical name (not its label), or grant the integration user access to it.',
          },
        ];
      if (field.createable === false)
        return [
          {
            ok: false,
            check: 'mapping',
            message: `${at}: ${typeName(kind)}.${name} cannot be set on create by the integration user.`,
            fix: 'Grant Edit on the field (field-level security), or remove the default.',
          },
        ];
      return [];
    });
    lines.push(
      ...(problems.length > 0
        ? problems
        : [
            {
              ok: true,
              check: 'mapping',
              message: `New ${typeName(kind)} records get ${names.join(', ')} from engine.mapping.createDefaults.`,
            },
          ]),
    );
  }
  return lines;
}

/** A described field for the decision check: its picklist / choice values when it has any. */
export type DescribedChoices = ReadonlyMap<string, { values?: readonly (string | number)[] }> | null;

/**
 * R8: the decision field the config names must exist on the opportunity, and where it is a picklist or a
 * choice, offer the accept and decline values, or no seller could ever answer a referral with it.
 */
export function decisionLine(
  decision: DecisionField,
  fields: DescribedChoices,
  typeName: string,
): DoctorLine {
  const at = 'crm.decision';
  const field = fields
    ? [...fields.entries()].find(([name]) => name.toLowerCase() === decision.field.toLowerCase())?.[1]
    : undefined;
  if (!field)
    return {
      ok: false,
      check: 'decision',
      message: `${at}.field: ${typeName} has no field ${decision.field} the integration user can see.`,
      fix: 'Use the field API / logical name (not its label), or grant the integration user access to it.',
    };
  const missing = field.values
    ? [decision.accept, decision.decline].filter((v) => !field.values?.includes(v as string | number))
    : [];
  if (missing.length > 0)
    return {
      ok: false,
      check: 'decision',
      message: `${at}: ${typeName}.${decision.field} has no value ${missing.map((v) => JSON.stringify(v)).join(' or ')}.`,
      fix: `Use values the field offers: ${(field.values ?? []).map((v) => JSON.stringify(v)).join(', ')}.`,
    };
  return {
    ok: true,
    check: 'decision',
    message: `Sellers answer incoming referrals with ${typeName}.${decision.field}: ${JSON.stringify(decision.accept)} accepts, ${JSON.stringify(decision.decline)} declines.`,
  };
}

/** A field the config names on a CRM record type (R21): `path` is where in the config. */
export interface NamedField {
  path: string;
  type: string;
  name: string;
}

/**
 * R21: every field name the config gives (deal value, notes, country, DUNS) must exist on its record type, or every
 * sync that reads or writes it would fail. `described` holds each type's field names in lower case (null: the type
 * itself is not visible). One line per missing field, else one line for all.
 */
export function namedFieldLines(
  fields: readonly NamedField[],
  described: Readonly<Record<string, ReadonlySet<string> | null>>,
): DoctorLine[] {
  const missing = fields.filter((f) => {
    const known = described[f.type];
    return known !== null && known !== undefined && !known.has(f.name.toLowerCase());
  });
  if (missing.length === 0) {
    return [
      {
        ok: true,
        check: 'fields',
        message: `The fields the config names exist: ${fields.map((f) => `${f.type}.${f.name}`).join(', ')}.`,
      },
    ];
  }
  return missing.map((f) => ({
    ok: false,
    check: 'fields',
    message: `${f.path} is ${f.name}, but ${f.type} has no such field the integration user can see.`,
    fix: `Use the field's API / logical name (not its label), grant the integration user access to it, or remove ${f.path} to use the default.`,
  }));
}
