// Dotted paths into referral JSON, the one path syntax of src/core (problems, mapping, create-only fields):
//   'details.dealValue'                                    a property
//   'customerProfile.team.0.email'                         an array index
//   'details.requirements.additionalRequirements.attributes[type=PartnerRole].id'
//                                                          the element of an array whose `type` is 'PartnerRole'
// The selector form exists because Partner Center keeps typed values in arrays of {id, type}
// (reference §3 `additionalRequirements.attributes`), and a mapping must be able to name one of them.

type Segment = { kind: 'key'; key: string } | { kind: 'select'; key: string; match: string; value: string };

const SELECTOR = /^([^[\]]+)\[([^=\]]+)=([^\]]*)\]$/;

function parsePath(path: string): Segment[] {
  if (path === '') return [];
  return path.split('.').map((part) => {
    const m = SELECTOR.exec(part);
    return m ? { kind: 'select', key: m[1]!, match: m[2]!, value: m[3]! } : { kind: 'key', key: part };
  });
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

function child(container: unknown, key: string): unknown {
  if (Array.isArray(container)) return /^\d+$/.test(key) ? container[Number(key)] : undefined;
  return isRecord(container) ? container[key] : undefined;
}

/** The value at a dotted path, or undefined when any step is missing. '' is the whole value. */
export function readPath(root: unknown, path: string): unknown {
  let current: unknown = root;
  for (const segment of parsePath(path)) {
    current = child(current, segment.key);
    if (segment.kind === 'select') {
      current = Array.isArray(current)
        ? current.find((el) => isRecord(el) && el[segment.match] === segment.value)
        : undefined;
    }
    if (current === undefined) return undefined;
  }
  return current;
}

/**
 * A copy of `root` with `value` at `path`; missing objects (and selected array elements) are created.
 * Setting undefined removes the property, and removes a selected element left holding only its selector.
 * The input is never mutated.
 */
export function setPath<T>(root: T, path: string, value: unknown): T {
  const segments = parsePath(path);
  if (segments.length === 0) return value as T;
  return setIn(root, segments, value) as T;
}

function setIn(node: unknown, segments: Segment[], value: unknown): unknown {
  const [segment, ...rest] = segments as [Segment, ...Segment[]];
  const container: Record<string, unknown> | unknown[] = Array.isArray(node)
    ? [...node]
    : isRecord(node)
      ? { ...node }
      : {};
  const get = (key: string) => child(container, key);
  const put = (key: string, v: unknown) => {
    if (Array.isArray(container)) container[Number(key)] = v;
    else if (v === undefined) delete container[key];
    else container[key] = v;
  };
  if (segment.kind === 'key') {
    put(segment.key, rest.length === 0 ? value : setIn(get(segment.key), rest, value));
    return container;
  }
  const list = Array.isArray(get(segment.key)) ? [...(get(segment.key) as unknown[])] : [];
  const index = list.findIndex((el) => isRecord(el) && el[segment.match] === segment.value);
  const current = index >= 0 ? list[index] : { [segment.match]: segment.value };
  const updated = rest.length === 0 ? value : setIn(current, rest, value);
  const onlySelector =
    isRecord(updated) && Object.keys(updated).every((k) => k === segment.match || updated[k] === undefined);
  if (updated === undefined || onlySelector) {
    if (index >= 0) list.splice(index, 1);
  } else if (index >= 0) {
    list[index] = updated;
  } else {
    list.push(updated);
  }
  put(segment.key, list);
  return container;
}

/** '/details/dealValue' (RFC 6901 pointer, as JSON Patch uses) for 'details.dealValue'. */
export function toJsonPointer(path: string): string {
  return `/${path.split('.').join('/')}`;
}

/** 'details.dealValue' for '/details/dealValue'. */
export function fromJsonPointer(pointer: string): string {
  return pointer.replace(/^\//, '').split('/').join('.');
}
