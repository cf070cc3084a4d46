import { GatehouseError, type Clock } from '../../core/index.js';
import type { SingleKey } from './single.js';

/**
 * Bounds of the opt-in data-key cache (the AWS Encryption SDK's caching thresholds): a cached DEK is reused for
 * single-shot encryptions under the same key name and context until it is `maxAgeMs` old, has sealed `maxMessages`
 * messages (at most 2^32) or would pass `maxBytes` plaintext bytes. `maxEntries` (default 1,000) bounds the LRU.
 */
export interface DataKeyCacheLimits {
  maxAgeMs: number;
  maxMessages: number;
  maxBytes: number;
  maxEntries?: number;
}

interface Entry {
  key: SingleKey;
  createdAt: number;
  messages: number;
  bytes: number;
}

const MAX_MESSAGES = 2 ** 32;
const DEFAULT_ENTRIES = 1_000;
const MAX_ENTRIES = 100_000;

function checkLimits(limits: DataKeyCacheLimits): Required<DataKeyCacheLimits> {
  const entries = limits.maxEntries ?? DEFAULT_ENTRIES;
  const positive = (n: number, max: number) => Number.isSafeInteger(n) && n >= 1 && n <= max;
  if (
    !positive(limits.maxAgeMs, Number.MAX_SAFE_INTEGER) ||
    !positive(limits.maxMessages, MAX_MESSAGES) ||
    !positive(limits.maxBytes, Number.MAX_SAFE_INTEGER) ||
    !positive(entries, MAX_ENTRIES)
  ) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message: `data-key cache: maxAgeMs, maxMessages (≤ 2^32), maxBytes and maxEntries (≤ ${MAX_ENTRIES}) must be positive integers`,
    });
  }
  return { ...limits, maxEntries: entries };
}

/**
 * A bounded map (oldest entry evicted first) of single-shot data keys keyed by key name + canonical context. `take` counts the message against
 * the entry's limits and drops (and wipes) entries that reached one; a message larger than `maxBytes` is never
 * cached. Keys are never logged.
 *
 * @example
 * const cache = new DataKeyCache({ maxAgeMs: 60_000, maxMessages: 10_000, maxBytes: 1 << 30 }, clock);
 * const hit = cache.take(id, plaintext.length, await keys.currentVersion(name));
 * if (!hit && !cache.put(id, fresh, plaintext.length)) fresh.payloadKey.fill(0); // after sealing with fresh
 */
export class DataKeyCache {
  private readonly limits: Required<DataKeyCacheLimits>;
  private readonly entries = new Map<string, Entry>();

  constructor(
    limits: DataKeyCacheLimits,
    private readonly clock: Clock,
  ) {
    this.limits = checkLimits(limits);
  }

  /**
   * A cached key for one more message of `bytes` plaintext bytes (counted), or undefined. An entry wrapped under
   * another key version than `currentVersion` (the one the keyring would wrap a fresh key under now) is stale: it is
   * dropped, so a rotated, retired or trimmed version stops sealing at once.
   */
  take(id: string, bytes: number, currentVersion: number): SingleKey | undefined {
    const entry = this.entries.get(id);
    // A message larger than maxBytes alone bypasses the cache (the cached key stays for smaller ones).
    if (!entry || bytes > this.limits.maxBytes) return undefined;
    const { maxAgeMs, maxMessages, maxBytes } = this.limits;
    if (
      entry.key.keyVersion !== currentVersion ||
      this.clock.now() - entry.createdAt >= maxAgeMs ||
      entry.messages >= maxMessages
    ) {
      this.drop(id);
      return undefined;
    }
    if (entry.bytes + bytes > maxBytes) {
      // This message would pass the byte bound: retire the key (a fresh one takes its place).
      this.drop(id);
      return undefined;
    }
    entry.messages += 1;
    entry.bytes += bytes;
    return entry.key;
  }

  /**
   * Caches a fresh key that sealed its first message of `bytes` bytes, unless that alone is too big. Returns whether
   * it was cached: a declined key stays the caller's to wipe (the cache wipes the keys it holds when it drops them).
   */
  put(id: string, key: SingleKey, bytes: number): boolean {
    if (bytes > this.limits.maxBytes) return false;
    this.drop(id);
    while (this.entries.size >= this.limits.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.drop(oldest);
    }
    this.entries.set(id, { key, createdAt: this.clock.now(), messages: 1, bytes });
    return true;
  }

  /** Forgets and wipes the cached keys of the key named `keyName` (after it changed). */
  forgetKey(keyName: string): void {
    for (const [id, entry] of [...this.entries]) if (entry.key.keyName === keyName) this.drop(id);
  }

  /** Forgets and wipes every cached key. */
  clear(): void {
    for (const id of [...this.entries.keys()]) this.drop(id);
  }

  get size(): number {
    return this.entries.size;
  }

  private drop(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    entry.key.payloadKey.fill(0);
  }
}
