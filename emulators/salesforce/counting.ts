/** What one REST call counts as in the emulator's counters: read or write, which object, how many records. */
import type { CallKind } from '../shared/calls.ts';

export interface CallFacts {
  kind?: CallKind;
  object?: string;
  records?: number;
  /** A composite or graph request carrying at least one write. */
  writing?: boolean;
}

/** The top-level object of a SOQL query (subqueries in parentheses are dropped first). */
function queriedObject(soql: string | null): string | undefined {
  if (!soql) return undefined;
  let flat = soql;
  for (let before = ''; before !== flat; ) {
    before = flat;
    flat = flat.replace(/\([^()]*\)/g, '');
  }
  return /\bfrom\s+(\w+)/i.exec(flat)?.[1];
}

function collectionFacts(method: string, query: URLSearchParams, body: unknown): CallFacts {
  if (method === 'DELETE' || method === 'GET') {
    return { records: (query.get('ids') ?? '').split(',').filter(Boolean).length };
  }
  const records = (body as { records?: unknown } | undefined)?.records;
  if (!Array.isArray(records)) return {};
  const type = (records[0] as { attributes?: { type?: unknown } } | undefined)?.attributes?.type;
  return { records: records.length, ...(typeof type === 'string' ? { object: type } : {}) };
}

export function callFacts(
  method: string,
  endpoint: string,
  query: URLSearchParams,
  body: unknown,
): CallFacts {
  if (endpoint === '/composite') return { kind: 'batch', writing: writes(compositeNodes(body)) };
  if (endpoint === '/composite/graph') {
    const graphs = isObject(body) && Array.isArray(body['graphs']) ? body['graphs'] : [];
    return { kind: 'batch', writing: graphs.some((g) => writes(compositeNodes(g))) };
  }
  if (/^\/query(All)?$/i.test(endpoint)) {
    const object = queriedObject(query.get('q'));
    return { kind: 'read', ...(object ? { object } : {}) };
  }
  if (endpoint.startsWith('/composite/sobjects')) {
    const facts = collectionFacts(method, query, body);
    // `/composite/sobjects/Opportunity/Key__c` names its object in the endpoint already.
    if (endpoint !== '/composite/sobjects') delete facts.object;
    return facts;
  }
  return {};
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The subrequests of a composite request or of one graph. */
function compositeNodes(body: unknown): unknown[] {
  return isObject(body) && Array.isArray(body['compositeRequest']) ? body['compositeRequest'] : [];
}

const writes = (nodes: unknown[]) =>
  nodes.some((n) => isObject(n) && String(n['method'] ?? 'GET').toUpperCase() !== 'GET');
