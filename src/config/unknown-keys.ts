// Unknown keys in a config file are almost always typos (`pollIntervalMS`, `salesForce`), and zod's plain
// objects drop them silently. The schemas we embed (Salesforce settings, engine settings) are owned by other
// modules and stay plain objects, so instead of making every one strict we walk the parsed file alongside
// the schema and report each key the schema does not know, with its path and the keys it does know.
import { z } from 'zod';

export interface UnknownKey {
  path: (string | number)[];
  key: string;
  known: string[];
}

/** Schema kinds that only wrap another schema (defaults, optionals, refinements keep the object class). */
function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  for (let depth = 0; depth < 10; depth++) {
    const def = current._zod.def as { innerType?: z.ZodType; in?: z.ZodType; type: string };
    if (def.innerType) current = def.innerType;
    else if (def.type === 'pipe' && def.in) current = def.in;
    else break;
  }
  return current;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function findUnknownKeys(
  schema: z.ZodType,
  value: unknown,
  path: (string | number)[] = [],
): UnknownKey[] {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject) {
    if (!isPlainObject(value)) return [];
    const shape = inner.shape as Record<string, z.ZodType>;
    const catchall = (inner._zod.def as { catchall?: z.ZodType }).catchall;
    const found: UnknownKey[] = [];
    for (const [key, child] of Object.entries(value)) {
      const childSchema = shape[key];
      if (childSchema) found.push(...findUnknownKeys(childSchema, child, [...path, key]));
      else if (!catchall || catchall instanceof z.ZodNever)
        found.push({ path: [...path, key], key, known: Object.keys(shape) });
    }
    return found;
  }
  if (inner instanceof z.ZodArray) {
    if (!Array.isArray(value)) return [];
    const element = inner.element as z.ZodType;
    return value.flatMap((item, index) => findUnknownKeys(element, item, [...path, index]));
  }
  if (inner instanceof z.ZodRecord) {
    if (!isPlainObject(value)) return [];
    const valueType = inner.valueType as z.ZodType;
    return Object.entries(value).flatMap(([key, item]) => findUnknownKeys(valueType, item, [...path, key]));
  }
  if (inner instanceof z.ZodDiscriminatedUnion) {
    if (!isPlainObject(value)) return [];
    const def = inner._zod.def as unknown as { discriminator: string; options: z.ZodType[] };
    const option = def.options.find((candidate) => {
      const shape = (unwrap(candidate) as z.ZodObject).shape as Record<string, z.ZodType> | undefined;
      const literal = shape?.[def.discriminator];
      return literal instanceof z.ZodLiteral && literal.values.has(value[def.discriminator] as never);
    });
    // Without a matching option the union's own error ("grant must be one of …") says enough.
    return option ? findUnknownKeys(option, value, path) : [];
  }
  if (inner instanceof z.ZodUnion) {
    // A plain union: report only what every option rejects, so a key valid in some option is not flagged.
    const options = (inner._zod.def as unknown as { options: z.ZodType[] }).options;
    const perOption = options.map((option) => findUnknownKeys(option, value, path));
    const first = perOption[0] ?? [];
    return first.filter((unknown) =>
      perOption.every((list) => list.some((other) => other.path.join('.') === unknown.path.join('.'))),
    );
  }
  return [];
}
