import type { Clock } from '../../core/index.js';
import type { CacheDirectives } from './cache_control.js';
import { routeOfKey, targetOfKey } from './cache_key.js';

/** A stored response. */
export interface CachedResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  /** Clock reading (ms) when it was received or last revalidated. */
  storedAt: number;
  /** The upstream's Age at that moment (seconds, RFC 9111 §4.2.3 corrected initial age). */
  initialAge: number;
  freshMs: number;
  directives: CacheDirectives;
  /** Request header values of the fields named by Vary, in Vary order. */
  varyValues: string[];
  vary: string[];
}

/** How a lookup may be used (RFC 9111 §4, RFC 5861). */
export type Freshness = 'fresh' | 'stale-while-revalidate' | 'stale';

/** Options of {@link ResponseCache}. */
export interface ResponseCacheOptions {
  clock: Clock;
  maxBytes: number;
  maxEntries: number;
  maxObjectSize: number;
}

const OVERHEAD = 512;

function sizeOf(r: CachedResponse): number {
  let n = r.body.length + OVERHEAD;
  for (const [k, v] of Object.entries(r.headers)) n += k.length + String(v).length;
  return n;
}

/**
 * Secondary key values of a request for the fields a response varies on (lowercase names, whitespace collapsed).
 *
 * @example
 * varyValues(['accept-encoding'], req.headers); // ['gzip, br']
 */
export function varyValues(vary: string[], headers: Record<string, string | string[] | undefined>): string[] {
  return vary.map((name) => {
    const v = headers[name];
    return (Array.isArray(v) ? v.join(', ') : (v ?? '')).replace(/\s+/g, ' ').trim();
  });
}

/**
 * The in-memory shared response cache: primary key → variants (by the Vary'd request headers), LRU over a byte and
 * entry budget, objects above `maxObjectSize` never stored, and one in-flight fill per key (concurrent misses wait for
 * the first instead of all going upstream).
 *
 * @example
 * const cache = new ResponseCache({ clock, maxBytes: 64 << 20, maxEntries: 10_000, maxObjectSize: 1 << 20 });
 * const hit = cache.lookup(key, req.headers);
 */
export class ResponseCache {
  private readonly entries = new Map<string, CachedResponse[]>();
  private readonly inflight = new Map<string, Promise<unknown>>();
  private bytes = 0;
  private count = 0;
  private drops = 0;

  constructor(private readonly o: ResponseCacheOptions) {}

  /** Bytes and entries held. */
  get usage(): { bytes: number; entries: number } {
    return { bytes: this.bytes, entries: this.count };
  }

  /** Current age in seconds of a stored response (RFC 9111 §4.2.3). */
  age(r: CachedResponse): number {
    return r.initialAge + Math.max(0, Math.floor((this.o.clock.now() - r.storedAt) / 1000));
  }

  /** How a stored response may be used now. */
  freshness(r: CachedResponse): Freshness {
    if (r.directives.noCache) return 'stale'; // RFC 9111 §5.2.2.4: validated before every use
    const ageMs = this.age(r) * 1000;
    if (ageMs < r.freshMs) return 'fresh';
    const swr = r.directives.staleWhileRevalidate;
    if (swr !== undefined && !r.directives.mustRevalidate && ageMs < r.freshMs + swr * 1000) {
      return 'stale-while-revalidate';
    }
    return 'stale';
  }

  /**
   * Whether a stale response may still answer after an upstream error (RFC 5861 §4); never one whose response said
   * `must-revalidate`, `proxy-revalidate` or `no-cache` (RFC 9111 §4.2.4).
   */
  usableOnError(r: CachedResponse): boolean {
    const d = r.directives;
    const sie = d.staleIfError;
    return sie !== undefined && !d.mustRevalidate && !d.noCache && this.age(r) * 1000 < r.freshMs + sie * 1000;
  }

  /**
   * The variant matching the request's Vary'd headers, marked most recently used.
   *
   * @example
   * const r = cache.lookup('GET https example.com /a?b=1', req.headers);
   */
  lookup(key: string, headers: Record<string, string | string[] | undefined>): CachedResponse | undefined {
    const variants = this.entries.get(key);
    if (!variants) return undefined;
    const found = variants.find((v) => varyValues(v.vary, headers).join('\n') === v.varyValues.join('\n'));
    if (found) {
      this.entries.delete(key);
      this.entries.set(key, variants);
    }
    return found;
  }

  /** Changes at each {@link dropRoutes}: a fill takes it when it starts and hands it to {@link store}. */
  get generation(): number {
    return this.drops;
  }

  /**
   * Stores (or replaces) a variant; refuses objects above `maxObjectSize`; evicts least recently used keys. With the
   * {@link generation} its fill started at, refuses a response fetched before a reload dropped entries (it may come
   * from an upstream the route no longer uses).
   *
   * @example
   * cache.store(key, response, generationAtStart);
   */
  store(key: string, r: CachedResponse, generation?: number): boolean {
    if (r.body.length > this.o.maxObjectSize || sizeOf(r) > this.o.maxBytes || this.o.maxEntries === 0) return false;
    if (generation !== undefined && generation !== this.drops) return false;
    const variants = this.entries.get(key) ?? [];
    const same = variants.findIndex((v) => v.varyValues.join('\n') === r.varyValues.join('\n'));
    if (same !== -1) {
      this.bytes -= sizeOf(variants[same]!);
      this.count -= 1;
      variants.splice(same, 1);
    }
    variants.push(r);
    this.bytes += sizeOf(r);
    this.count += 1;
    this.entries.delete(key);
    this.entries.set(key, variants);
    while ((this.bytes > this.o.maxBytes || this.count > this.o.maxEntries) && this.entries.size > 0) {
      const [oldest, list] = this.entries.entries().next().value as [string, CachedResponse[]];
      this.entries.delete(oldest);
      for (const v of list) this.bytes -= sizeOf(v);
      this.count -= list.length;
    }
    return true;
  }

  /**
   * Drops every variant stored under a primary key (RFC 9111 §4.4: after an unsafe request to that URI succeeded).
   *
   * @example
   * cache.invalidate(cacheKey('GET', host, target));
   */
  invalidate(key: string): void {
    const list = this.entries.get(key);
    if (!list) return;
    this.entries.delete(key);
    for (const v of list) this.bytes -= sizeOf(v);
    this.count -= list.length;
  }

  /**
   * Drops every entry stored by the given routes (keys made by `routeCacheKey`), e.g. after a reload gave them another
   * upstream. Walks the whole cache: meant for reloads, not requests.
   *
   * @example
   * cache.dropRoutes(new Set(['orders']));
   */
  dropRoutes(routes: ReadonlySet<string>): void {
    if (routes.size === 0) return;
    this.drops += 1;
    for (const key of [...this.entries.keys()]) if (routes.has(routeOfKey(key))) this.invalidate(key);
  }

  /**
   * Drops the entries an operator names (the admin API's cache purge): every entry, those of one route, and/or those
   * whose request target starts with `pathPrefix` (query included). Fills already running are not stored (their
   * answer may predate the purge). Answers how many entries (variants included) went. Walks the whole cache.
   *
   * @example
   * cache.purge({ route: 'catalog', pathPrefix: '/products/' }); // 12
   */
  purge(filter: { route?: string; pathPrefix?: string }): number {
    this.drops += 1;
    const before = this.count;
    for (const key of [...this.entries.keys()]) {
      if (filter.route !== undefined && routeOfKey(key) !== filter.route) continue;
      if (filter.pathPrefix !== undefined && !targetOfKey(key).startsWith(filter.pathPrefix)) continue;
      this.invalidate(key);
    }
    return before - this.count;
  }

  /**
   * Runs `fill` once per key at a time: concurrent callers share the first call's promise (coalescing of misses).
   *
   * @example
   * const result = await cache.coalesce(key, () => fetchUpstream());
   */
  coalesce<T>(key: string, fill: () => Promise<T>): { promise: Promise<T>; leader: boolean } {
    const running = this.inflight.get(key) as Promise<T> | undefined;
    if (running) return { promise: running, leader: false };
    const promise = fill().finally(() => this.inflight.delete(key));
    this.inflight.set(key, promise);
    return { promise, leader: true };
  }
}
