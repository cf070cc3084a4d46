import type { Principal } from './principal.js';

/** One verified credential: who it is, until when (ms) it may be served, and what revocation checks on each hit. */
export interface CachedToken {
  principal: Principal;
  expiresAt: number;
  jti: string | undefined;
}

/**
 * The verified-token cache: a Map keyed by the SHA-256 of the credential, bounded to `maxEntries` (oldest inserted
 * evicted first). `get` never returns an entry at or past its `expiresAt`; callers re-check revocation on each hit.
 *
 * @example
 * const hit = cache.get(digest, clock.now());
 */
export class TokenCache {
  private readonly entries = new Map<string, CachedToken>();

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(digest: string, nowMs: number): CachedToken | undefined {
    const entry = this.entries.get(digest);
    if (entry === undefined) return undefined;
    if (nowMs >= entry.expiresAt) {
      this.entries.delete(digest);
      return undefined;
    }
    return entry;
  }

  set(digest: string, entry: CachedToken): void {
    if (this.maxEntries <= 0) return;
    if (this.entries.size >= this.maxEntries && !this.entries.has(digest)) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(digest, entry);
  }

  delete(digest: string): void {
    this.entries.delete(digest);
  }
}
