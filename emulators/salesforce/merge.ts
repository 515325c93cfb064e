/**
 * Merging records as a seller does it in the UI (the SOAP `merge()` call has no REST equivalent): up to two
 * duplicates of a lead, account or contact fold into a master record. As in Salesforce, the duplicates' child
 * records are reparented to the master (which stamps them), the duplicates are deleted with `MasterRecordId`
 * pointing at the master (visible through queryAll), and `fieldsFromDuplicates` copies the values the seller
 * chose to keep.
 */

import {
  childrenOf,
  type DmlContext,
  deleteRecord,
  objectFromPath,
  recordFromPath,
  writeSystemFields,
} from './dml.ts';
import { dmlError } from './errors.ts';
import type { FieldValue } from './store.ts';

export const MERGEABLE_OBJECTS = ['Lead', 'Account', 'Contact'] as const;

export interface MergeOptions {
  /** Ids of the duplicates (at most two, as in Salesforce). */
  mergeIds?: unknown;
  /** Field name → duplicate id whose value the master keeps. */
  fieldsFromDuplicates?: unknown;
}

export interface MergeResult {
  id: string;
  mergedRecordIds: string[];
  updatedRelatedIds: string[];
}

export function mergeRecords(
  ctx: DmlContext,
  sobject: string,
  masterId: string,
  options: MergeOptions,
): MergeResult {
  const object = objectFromPath(ctx, sobject);
  if (!(MERGEABLE_OBJECTS as readonly string[]).includes(object.name))
    throw dmlError(
      'INVALID_TYPE',
      `Cannot merge ${object.name} records: only ${MERGEABLE_OBJECTS.join(', ')}`,
    );
  const master = recordFromPath(ctx, object, masterId);
  const ids = Array.isArray(options.mergeIds) ? options.mergeIds.map(String) : [];
  if (ids.length === 0 || ids.length > 2)
    throw dmlError('INVALID_FIELD', 'A merge takes one or two records to merge into the master');
  const duplicates = ids.map((id) => {
    if (id === master.id)
      throw dmlError('INVALID_ID_FIELD', 'The master record cannot also be merged into itself');
    return recordFromPath(ctx, object, id);
  });
  if ([master, ...duplicates].some((r) => r.values['IsConverted'] === true))
    throw dmlError('CANNOT_UPDATE_CONVERTED_LEAD', 'cannot reference converted lead');

  const kept: Record<string, FieldValue> = {};
  const chosen =
    options.fieldsFromDuplicates && typeof options.fieldsFromDuplicates === 'object'
      ? (options.fieldsFromDuplicates as Record<string, unknown>)
      : {};
  for (const [field, from] of Object.entries(chosen)) {
    const def = object.fields.get(field);
    const source = duplicates.find((d) => d.id === from);
    if (!def?.updateable || !source)
      throw dmlError('INVALID_FIELD', `Cannot keep ${field} from ${String(from)}`);
    kept[field] = source.values[field] ?? null;
  }

  const updatedRelatedIds: string[] = [];
  for (const duplicate of duplicates) {
    for (const rel of object.childRelationships) {
      for (const child of childrenOf(ctx, rel.childSObject, rel.field, duplicate.id)) {
        if (child.values[rel.field] !== duplicate.id) continue;
        writeSystemFields(ctx, child, { [rel.field]: master.id });
        updatedRelatedIds.push(child.id);
      }
    }
    deleteRecord(ctx, object, duplicate);
    ctx.store.touch(duplicate);
    duplicate.values['MasterRecordId'] = master.id;
  }
  writeSystemFields(ctx, master, kept);
  return { id: master.id, mergedRecordIds: duplicates.map((d) => d.id), updatedRelatedIds };
}
