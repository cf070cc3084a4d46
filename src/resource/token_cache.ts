import type { Principal } from './principal.js';

/** One verified credential: who it is, until when (ms) it may be served, and what revocation checks on each hit. */
export interface CachedToken {
  principal: Principal;
  expiresAt: number;
  jti: string | undefined;
}

/**
 * The verified-token cache: a Map keyed by the verifier's cache key of the credential (the JWT itself, or the
 * SHA-256 of an API key), bounded to `maxEntries` (oldest inserted evicted first). `get` never returns an entry at or
 * past its `expiresAt`; callers re-check revocation on each hit.
 *
 * @example
 * const hit = cache.get(key, clock.now());
 */
export class TokenCache {
  private readonly entries = new Map<string, CachedToken>();

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string, nowMs: number): CachedToken | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (nowMs >= entry.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: string, entry: CachedToken): void {
    if (this.maxEntries <= 0) return;
    if (this.entries.size >= this.maxEntries && !this.entries.has(key)) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, entry);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
