// A small read-through cache for facts that change rarely (CRM users by e-mail): each key's answer, null
// included, is kept for `ttlMs`; concurrent misses of one key share one load.

export class TtlCache<V> {
  private readonly entries = new Map<string, { value: Promise<V>; at: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Keys compare without case (e-mail addresses). A failed load is not kept. */
  get(key: string, load: () => Promise<V>): Promise<V> {
    const k = key.trim().toLowerCase();
    const hit = this.entries.get(k);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.value;
    const value = load();
    this.entries.set(k, { value, at: this.now() });
    value.catch(() => this.entries.delete(k));
    return value;
  }
}
