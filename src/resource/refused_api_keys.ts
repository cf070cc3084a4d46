/**
 * API keys the issuer refused recently (inactive, another audience, expired), by the verifier's cache key of the key
 * (its SHA-256, never the key), each for `ttlMs`: a client stuck on a revoked key, or a caller replaying a made-up
 * one, costs one introspection per `ttlMs` instead of one per request. Bounded to `maxEntries`; every entry has the
 * same TTL, so insertion order is expiry order and trimming from the front is enough.
 *
 * @example
 * const refused = new RefusedApiKeys(5000, 10000);
 * if (refused.has(digest, clock.now())) throw invalid('API key refused recently');
 */
export class RefusedApiKeys {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  get size(): number {
    return this.until.size;
  }

  has(key: string, nowMs: number): boolean {
    const until = this.until.get(key);
    if (until === undefined) return false;
    if (until > nowMs) return true;
    this.until.delete(key);
    return false;
  }

  add(key: string, nowMs: number): void {
    if (this.maxEntries <= 0 || this.ttlMs <= 0) return;
    for (const [k, until] of this.until) {
      if (until > nowMs && this.until.size < this.maxEntries) break;
      this.until.delete(k);
    }
    this.until.delete(key);
    this.until.set(key, nowMs + this.ttlMs);
  }
}
