// The fault queue every emulator shares: "the next `count` requests matching method and path fail and/or are
// delayed". Matching and consumption live here; each emulator renders the failure in its own API's error shape.

export interface FaultMatch {
  /** Upper-cased HTTP method; absent matches any. */
  method?: string;
  /** A piece of the request path (`/sobjects/Opportunity`, `/v1.0/engagements/referrals`); absent matches
   *  whatever the emulator's default scope is (its API, not its token endpoint). */
  path?: string;
  /** Requests still to be affected. */
  count: number;
  delayMs?: number;
}

export class FaultQueue<F extends FaultMatch> {
  private faults: (F & { id: number })[] = [];
  private nextId = 1;

  add(fault: F): F & { id: number } {
    const path = fault.path?.replace(/^https?:\/\/[^/]+/i, '');
    const stored = {
      ...fault,
      ...(fault.method ? { method: fault.method.toUpperCase() } : {}),
      ...(path ? { path } : {}),
      id: this.nextId++,
    };
    this.faults.push(stored);
    return { ...stored };
  }

  list(): (F & { id: number })[] {
    return this.faults.map((fault) => ({ ...fault }));
  }

  clear(): void {
    this.faults = [];
  }

  /** Takes one use of the first fault matching this request. `inDefaultScope` decides for faults without a
   *  path (e.g. only API routes, never the token endpoint). */
  take(method: string, path: string, inDefaultScope: (path: string) => boolean = () => true): F | undefined {
    const upper = method.toUpperCase();
    const index = this.faults.findIndex(
      (fault) =>
        (!fault.method || fault.method === upper) &&
        (fault.path ? path.includes(fault.path) : inDefaultScope(path)),
    );
    const fault = this.faults[index];
    if (!fault) return undefined;
    fault.count -= 1;
    if (fault.count <= 0) this.faults.splice(index, 1);
    return { ...fault };
  }
}

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
