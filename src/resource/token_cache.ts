import type { Principal } from './principal.js';

/** One verified credential: who it is, until when (ms) it may be served, and what revocation checks on each hit. */
export interface CachedToken {
  principal: Principal;
  expiresAt: number;
  jti: string | undefined;
}

/** Characters of a long key the map is indexed by: a JWT's last 32, inside its signature. */
const INDEX_CHARS = 32;

interface Entry extends CachedToken {
  /** The whole key, compared on every hit. */
  key: string;
}

/**
 * The map index of a key: a long key (a JWT) by its last {@link INDEX_CHARS} characters, which lie in its signature
 * (tokens of one issuer share their header and often most of their payload, so never their start); a short one (the
 * `k:` SHA-256 of an API key) whole. Hashing a fresh 350-character header value on every lookup cost about 0.5 µs
 * per request, measured in process; a slice of it and one string comparison on a hit cost a third of that.
 */
function indexOf(key: string): string {
  return key.length > 2 * INDEX_CHARS ? key.slice(key.length - INDEX_CHARS) : key;
}

/**
 * The verified-token cache: a Map of the verifier's cache keys of credentials (the JWT itself, or the SHA-256 of an
 * API key), indexed by {@link indexOf} and always compared whole, so two keys sharing an index never answer for each
 * other (the later one replaces the earlier: only a verified credential is ever set). Bounded to `maxEntries` (oldest
 * inserted evicted first). `get` never returns an entry at or past its `expiresAt`; callers re-check revocation on
 * each hit.
 *
 * @example
 * const hit = cache.get(key, clock.now());
 */
export class TokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string, nowMs: number): CachedToken | undefined {
    const index = indexOf(key);
    const entry = this.entries.get(index);
    if (entry === undefined || entry.key !== key) return undefined;
    if (nowMs >= entry.expiresAt) {
      this.entries.delete(index);
      return undefined;
    }
    return entry;
  }

  set(key: string, entry: CachedToken): void {
    if (this.maxEntries <= 0) return;
    const index = indexOf(key);
    if (this.entries.size >= this.maxEntries && !this.entries.has(index)) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(index, { ...entry, key });
  }

  /** Forgets `key` (and nothing that merely shares its index). */
  delete(key: string): void {
    const index = indexOf(key);
    if (this.entries.get(index)?.key === key) this.entries.delete(index);
  }
}
