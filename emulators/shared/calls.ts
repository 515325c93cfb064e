/**
 * API call counters by endpoint pattern, shared by the three emulators, for tests and benchmarks that assert what
 * a sync costs. `GET {control}/counters` answers the same shape on every emulator (see `Counters`); `GET
 * {control}/calls` keeps each emulator's older view with the recent log.
 */
export type CallKind = 'read' | 'write' | 'token' | 'batch';

export interface CallRecord {
  method: string;
  endpoint: string;
  path: string;
  status: number;
  countedAsApiCall: boolean;
  /** Defaults from the method: GET and HEAD read, anything else writes. */
  kind?: CallKind;
  /** A subrequest of a Salesforce composite or a Dataverse `$batch`: an operation, not an HTTP request. */
  batched?: boolean;
  /** Records one operation touched (an sObject collection writes up to 200); 1 unless said. */
  records?: number;
  /** The object or entity set, when the endpoint does not name it (a SOQL query's FROM). */
  object?: string;
  /** A composite or `$batch` request that carries at least one write (not only look-ups). */
  writing?: boolean;
}

export interface EndpointCount {
  kind: CallKind;
  /** Operations sent as their own HTTP request. */
  direct: number;
  /** Operations sent inside a composite or `$batch` request. */
  batched: number;
  /** Records those operations touched (a collection call counts each record). */
  records: number;
  /** Composite and `$batch` requests only: how many carried at least one write (the rest only read). */
  writing?: number;
}

/** The one counter shape of `GET {control}/counters`, identical on all three emulators. */
export interface Counters {
  api: 'partner-center' | 'salesforce' | 'dataverse';
  /** When counting began (start, or the last `DELETE {control}/counters`). */
  since: string;
  /** HTTP requests to the API, as its limits count them: a composite or `$batch` is one; token calls are apart. */
  requests: number;
  /** Read operations, composite and `$batch` subrequests each counted by their own method and object. */
  reads: number;
  /** Write operations, counted the same way. */
  writes: number;
  /** Token endpoint calls (never counted against the API). */
  tokens: number;
  /** `"<METHOD> <endpoint>[ <object>]"` → its counts. */
  endpoints: Record<string, EndpointCount>;
}

const RECENT_LIMIT = 1000;

export class CallLog {
  private byEndpoint = new Map<string, number>();
  private recent: CallRecord[] = [];
  private apiCalls = 0;
  private counts = new Map<string, EndpointCount>();
  private since = new Date();

  constructor(private readonly api: Counters['api'] = 'partner-center') {}

  record(call: CallRecord): void {
    const key = `${call.method} ${call.endpoint}`;
    if (!call.batched) {
      this.byEndpoint.set(key, (this.byEndpoint.get(key) ?? 0) + 1);
      if (call.countedAsApiCall) this.apiCalls += 1;
      this.recent.push(call);
      if (this.recent.length > RECENT_LIMIT) this.recent.shift();
    }
    const kind = call.kind ?? (call.method === 'GET' || call.method === 'HEAD' ? 'read' : 'write');
    // A call the API refused before counting it (no session, limit reached) costs nothing.
    if (!call.countedAsApiCall && kind !== 'token') return;
    const counterKey = call.object ? `${key} ${call.object}` : key;
    const count = this.counts.get(counterKey) ?? { kind, direct: 0, batched: 0, records: 0 };
    if (call.batched) count.batched += 1;
    else count.direct += 1;
    if (kind === 'read' || kind === 'write') count.records += call.records ?? 1;
    if (kind === 'batch') count.writing = (count.writing ?? 0) + (call.writing ? 1 : 0);
    this.counts.set(counterKey, count);
  }

  summary() {
    return {
      apiCalls: this.apiCalls,
      byEndpoint: Object.fromEntries(this.byEndpoint),
      recent: this.recent.slice(),
    };
  }

  counters(): Counters {
    const out: Counters = {
      api: this.api,
      since: this.since.toISOString(),
      requests: 0,
      reads: 0,
      writes: 0,
      tokens: 0,
      endpoints: {},
    };
    for (const [key, count] of [...this.counts].sort(([a], [b]) => a.localeCompare(b))) {
      out.endpoints[key] = { ...count };
      const operations = count.direct + count.batched;
      if (count.kind === 'token') {
        out.tokens += count.direct;
        continue;
      }
      out.requests += count.direct;
      if (count.kind === 'read') out.reads += operations;
      if (count.kind === 'write') out.writes += operations;
    }
    return out;
  }

  clear(): void {
    this.byEndpoint.clear();
    this.recent = [];
    this.apiCalls = 0;
    this.counts.clear();
    this.since = new Date();
  }
}
