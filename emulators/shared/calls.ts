/** API call counters by endpoint pattern, shared by the emulators, for tests and benchmarks that assert what a sync costs. */
export interface CallRecord {
  method: string;
  endpoint: string;
  path: string;
  status: number;
  countedAsApiCall: boolean;
}

const RECENT_LIMIT = 1000;

export class CallLog {
  private byEndpoint = new Map<string, number>();
  private recent: CallRecord[] = [];
  private apiCalls = 0;

  record(call: CallRecord): void {
    const key = `${call.method} ${call.endpoint}`;
    this.byEndpoint.set(key, (this.byEndpoint.get(key) ?? 0) + 1);
    if (call.countedAsApiCall) this.apiCalls += 1;
    this.recent.push(call);
    if (this.recent.length > RECENT_LIMIT) this.recent.shift();
  }

  summary() {
    return {
      apiCalls: this.apiCalls,
      byEndpoint: Object.fromEntries(this.byEndpoint),
      recent: this.recent.slice(),
    };
  }

  clear(): void {
    this.byEndpoint.clear();
    this.recent = [];
    this.apiCalls = 0;
  }
}
