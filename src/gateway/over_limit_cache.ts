/**
 * Keys known to be over their global limit, with the time (ms) until which they stay refused: a refused key is
 * answered locally until its retry time, so a flood from one key costs no Redis call. Bounded: past `maxKeys` the
 * oldest entry is dropped (that key simply asks Redis again).
 *
 * @example
 * const cache = new OverLimitCache(100_000);
 * cache.remember(key, now + decision.retryAfterMs);
 * cache.refusedUntil(key, now); // > now while refused
 */
export class OverLimitCache {
  private readonly until = new Map<string, number>();

  constructor(private readonly maxKeys: number) {}

  /** The time until which `key` is known refused, or 0. */
  refusedUntil(key: string, now: number): number {
    const t = this.until.get(key);
    if (t === undefined) return 0;
    if (t <= now) {
      this.until.delete(key);
      return 0;
    }
    return t;
  }

  remember(key: string, until: number): void {
    this.until.delete(key);
    this.until.set(key, until);
    if (this.until.size > this.maxKeys) {
      const oldest = this.until.keys().next();
      if (!oldest.done) this.until.delete(oldest.value);
    }
  }

  get size(): number {
    return this.until.size;
  }
}
