// Applies an already-checked JSON Patch (RFC 6902 `add` / `replace`) to a referral copy.
// Lenient where Partner Center is: `replace` on a missing member creates it (a referral created without a
// closing date can still get one), and `/-` on a missing list starts the list.
import { isRecord, PartnerCenterError } from './http.ts';

export interface PatchOp {
  op: 'add' | 'replace';
  path: string;
  value: unknown;
}

const unescapeSegment = (segment: string) => segment.replace(/~1/g, '/').replace(/~0/g, '~');

export function applyPatch(
  target: Record<string, unknown>,
  ops: readonly PatchOp[],
): Record<string, unknown> {
  const root = structuredClone(target);
  for (const op of ops) applyOne(root, op);
  return root;
}

function applyOne(root: Record<string, unknown>, op: PatchOp): void {
  const segments = op.path.split('/').slice(1).map(unescapeSegment);
  const last = segments.pop();
  if (last === undefined)
    throw new PartnerCenterError(400, 'invalidRequest', 'A patch path cannot be empty.', 'path');
  let parent: unknown = root;
  segments.forEach((segment, index) => {
    const next = segments[index + 1] ?? last;
    const container = parent as Record<string, unknown> | unknown[];
    let child: unknown = Array.isArray(container) ? container[Number(segment)] : container[segment];
    if (child === undefined || child === null) {
      if (Array.isArray(container)) {
        throw new PartnerCenterError(
          400,
          'invalidRequest',
          `Path '${op.path}' points past the end of a list.`,
          op.path,
        );
      }
      child = next === '-' || /^\d+$/.test(next) ? [] : {};
      container[segment] = child;
    }
    if (!isRecord(child) && !Array.isArray(child)) {
      throw new PartnerCenterError(
        400,
        'invalidRequest',
        `Path '${op.path}' runs through a value that is not an object.`,
        op.path,
      );
    }
    parent = child;
  });
  const value = structuredClone(op.value);
  if (Array.isArray(parent)) {
    if (last === '-') {
      parent.push(value);
      return;
    }
    const index = Number(last);
    if (!/^\d+$/.test(last) || index > parent.length || (op.op === 'replace' && index >= parent.length)) {
      throw new PartnerCenterError(
        400,
        'invalidRequest',
        `Path '${op.path}' names no element of the list.`,
        op.path,
      );
    }
    if (op.op === 'add') parent.splice(index, 0, value);
    else parent[index] = value;
    return;
  }
  if (last === '-') {
    throw new PartnerCenterError(
      400,
      'invalidRequest',
      `Path '${op.path}' appends to something that is not a list.`,
      op.path,
    );
  }
  (parent as Record<string, unknown>)[last] = value;
}
