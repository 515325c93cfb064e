// Callers whose webhooks keep failing the signature check (R2). Each refusal may have cost a certificate
// download; a caller over the limit is still heard, but only with certificates already trusted, so a flood of
// forged events with fresh certificate URLs costs nothing while Partner Center's real events keep arriving.
// Bounded: fixed windows per caller, the least recently seen callers forgotten first.

export interface RefusalLimiterOptions {
  /** Refusals a caller may earn per window before it is limited. */
  maxRefusals?: number;
  windowMs?: number;
  /** Callers remembered at most. */
  maxCallers?: number;
  now?: () => number;
}

export class RefusalLimiter {
  private readonly callers = new Map<string, { windowStart: number; refusals: number }>();
  private readonly maxRefusals: number;
  private readonly windowMs: number;
  private readonly maxCallers: number;
  private readonly now: () => number;

  constructor(options: RefusalLimiterOptions = {}) {
    this.maxRefusals = options.maxRefusals ?? 20;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxCallers = options.maxCallers ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** True while the caller has used up its refusals in the current window. */
  isLimited(caller: string): boolean {
    const entry = this.current(caller);
    return entry !== undefined && entry.refusals >= this.maxRefusals;
  }

  /** Seconds until the caller's window ends (for Retry-After). */
  retryAfterSeconds(caller: string): number {
    const entry = this.current(caller);
    if (!entry) return 0;
    return Math.max(1, Math.ceil((entry.windowStart + this.windowMs - this.now()) / 1000));
  }

  recordRefusal(caller: string): void {
    const entry = this.current(caller) ?? { windowStart: this.now(), refusals: 0 };
    entry.refusals++;
    this.callers.delete(caller);
    this.callers.set(caller, entry);
    while (this.callers.size > this.maxCallers)
      this.callers.delete(this.callers.keys().next().value as string);
  }

  get size(): number {
    return this.callers.size;
  }

  private current(caller: string) {
    const entry = this.callers.get(caller);
    if (entry && this.now() - entry.windowStart >= this.windowMs) {
      this.callers.delete(caller);
      return undefined;
    }
    return entry;
  }
}
