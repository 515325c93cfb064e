// R22: a picklist or choice the sync maps is a two-way table between Partner Center's values and what the CRM
// stores. The shipped table is the default; a deployment whose org renamed or renumbered the values overrides
// entries in its config. Pure data plus two lookups, so adapters and doctor read the same table.
import { z } from 'zod';

export class ValueMap<C extends string, V extends string | number> {
  private readonly byCode: ReadonlyMap<C, V>;
  private readonly byValue: ReadonlyMap<V, C>;

  constructor(
    defaults: Readonly<Record<C, V>>,
    overrides: Readonly<Partial<Record<C, V>>> = {} as Partial<Record<C, V>>,
  ) {
    const merged = new Map<C, V>(Object.entries(defaults) as [C, V][]);
    for (const [code, value] of Object.entries(overrides) as [C, V | undefined][])
      if (value !== undefined) merged.set(code, value);
    this.byCode = merged;
    this.byValue = new Map([...merged].map(([code, value]) => [value, code]));
  }

  /** What the CRM stores for Partner Center's `code`; null for a code the table does not hold. */
  toCrm(code: string | null | undefined): V | null {
    return code ? (this.byCode.get(code as C) ?? null) : null;
  }

  /** Partner Center's code for a stored CRM value; null for a value the table does not hold. */
  fromCrm(value: unknown): C | null {
    return value === null || value === undefined ? null : (this.byValue.get(value as V) ?? null);
  }

  /** Every stored value, for doctor's check against the org's picklist / choice. */
  crmValues(): V[] {
    return [...this.byCode.values()];
  }
}

/**
 * Config schema of overrides: `{<code>: <stored value>}` over the given codes. Two codes stored as the same
 * value could not be told apart when read back, so that is refused with both named.
 */
export function valueOverridesSchema<C extends string, V extends string | number>(
  defaults: Readonly<Record<C, V>>,
  value: z.ZodType<V>,
) {
  const codes = Object.keys(defaults) as [C, ...C[]];
  return z
    .partialRecord(z.enum(codes), value)
    .default({})
    .superRefine((overrides, ctx) => {
      const merged: Record<string, unknown> = { ...defaults, ...overrides };
      const seen = new Map<unknown, string>();
      for (const [code, stored] of Object.entries(merged)) {
        const other = seen.get(stored);
        if (other)
          ctx.addIssue({
            code: 'custom',
            path: [code in overrides ? code : other],
            message: `${other} and ${code} would both be stored as ${JSON.stringify(stored)}: give each its own value`,
          });
        seen.set(stored, code);
      }
    });
}
