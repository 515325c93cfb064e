// R33: what "remove personal data" means for stored values, as pure functions every store implementation
// shares. Snapshots lose the personal fields entirely (the next sync of those fields then behaves like a
// first sync: equal sides stay unchanged, different sides are settled by the field's owner); run diffs keep
// the fact that a field changed but not the values.
import type { Values } from '../core/mapping.ts';
import type { RunFieldChange } from './store.ts';

/** The values without `fields`, or null when there was nothing to remove. */
export function withoutPersonalValues(values: Values, fields: readonly string[]): Values | null {
  if (!fields.some((field) => Object.hasOwn(values, field))) return null;
  const kept: Record<string, Values[string]> = {};
  for (const [field, value] of Object.entries(values)) if (!fields.includes(field)) kept[field] = value;
  return kept;
}

/** The diff with the values of `fields` dropped and marked purged, or null when there was nothing to remove. */
export function withoutPersonalChanges(
  diff: readonly RunFieldChange[],
  fields: readonly string[],
): RunFieldChange[] | null {
  let changed = false;
  const purged = diff.map((entry): RunFieldChange => {
    if (!fields.includes(entry.field) || entry.purged) return entry;
    changed = true;
    const { before: _before, after: _after, ...rest } = entry;
    return { ...rest, purged: true };
  });
  return changed ? purged : null;
}

const EMAIL = /[^\s@<>()[\]'",;:]+@[^\s@<>()[\]'",;:]+\.[^\s@<>()[\]'",;:]+/g;

/** Error messages may quote a contact's e-mail address ("contact jane@contoso.com has no last name"). */
export function withoutEmailAddresses(text: string): string {
  return text.replace(EMAIL, '[removed]');
}
