/** RFC 9111 §5.2 Cache-Control directives that matter to a shared cache (seconds; `true` for flags). */
export interface CacheDirectives {
  noStore: boolean;
  noCache: boolean;
  private: boolean;
  public: boolean;
  mustRevalidate: boolean;
  maxAge?: number;
  sMaxAge?: number;
  staleWhileRevalidate?: number;
  staleIfError?: number;
  onlyIfCached: boolean;
}

/**
 * Parses a Cache-Control field (case-insensitive names, quoted or bare values; invalid numbers ignored).
 *
 * @example
 * parseCacheControl('public, s-maxage=60, stale-while-revalidate=30').sMaxAge; // 60
 */
export function parseCacheControl(value: string | string[] | undefined): CacheDirectives {
  const d: CacheDirectives = {
    noStore: false,
    noCache: false,
    private: false,
    public: false,
    mustRevalidate: false,
    onlyIfCached: false,
  };
  if (value === undefined) return d;
  const text = Array.isArray(value) ? value.join(',') : value;
  for (const part of text.split(',')) {
    const [rawName, rawValue] = part.split('=', 2) as [string, string | undefined];
    const name = rawName.trim().toLowerCase();
    const n = rawValue === undefined ? undefined : Number(rawValue.trim().replace(/^"|"$/g, ''));
    const seconds = n !== undefined && Number.isInteger(n) && n >= 0 ? n : undefined;
    if (name === 'no-store') d.noStore = true;
    else if (name === 'no-cache') d.noCache = true;
    else if (name === 'private') d.private = true;
    else if (name === 'public') d.public = true;
    else if (name === 'must-revalidate' || name === 'proxy-revalidate') d.mustRevalidate = true;
    else if (name === 'only-if-cached') d.onlyIfCached = true;
    else if (name === 'max-age' && seconds !== undefined) d.maxAge = seconds;
    else if (name === 's-maxage' && seconds !== undefined) d.sMaxAge = seconds;
    else if (name === 'stale-while-revalidate' && seconds !== undefined) d.staleWhileRevalidate = seconds;
    else if (name === 'stale-if-error' && seconds !== undefined) d.staleIfError = seconds;
  }
  return d;
}

/** Status codes that are heuristically cacheable (RFC 9110 §15.1). */
const HEURISTIC = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501]);
/** Status codes this cache stores (no 206: it does not combine ranges). */
const UNDERSTOOD = new Set([200, 203, 204, 300, 301, 302, 307, 308, 404, 405, 410, 414, 501]);

/** What {@link storePolicy} needs. */
export interface StoreInput {
  method: string;
  status: number;
  requestDirectives: CacheDirectives;
  responseHeaders: Record<string, string | string[] | undefined>;
  /** The request carried credentials (Authorization, or a verified API key/JWT). */
  authenticated: boolean;
  /** Response time (ms). */
  now: number;
  heuristicMaxMs: number;
}

/**
 * Whether a shared cache may store a response (RFC 9111 §3) and for how long it is fresh (§4.2.1: s-maxage, then
 * max-age, then Expires − Date, then 10 % of the Last-Modified age for heuristically cacheable codes, capped).
 * Never stores no-store, private, Set-Cookie, `Vary: *`, or a response to an authenticated request unless `public`.
 *
 * @example
 * const p = storePolicy({ method: 'GET', status: 200, requestDirectives, responseHeaders, authenticated: false, now, heuristicMaxMs });
 * if (p) cache.store(key, entry, p.freshMs);
 */
export function storePolicy(i: StoreInput): { freshMs: number; directives: CacheDirectives } | undefined {
  const h = i.responseHeaders;
  const d = parseCacheControl(h['cache-control']);
  if (i.method !== 'GET' || !UNDERSTOOD.has(i.status)) return undefined;
  if (d.noStore || d.private || i.requestDirectives.noStore) return undefined;
  if (h['set-cookie'] !== undefined) return undefined;
  const vary = String(h['vary'] ?? '');
  if (vary.split(',').some((v) => v.trim() === '*')) return undefined;
  if (i.authenticated && !d.public) return undefined;
  let freshMs: number | undefined;
  if (d.sMaxAge !== undefined) freshMs = d.sMaxAge * 1000;
  else if (d.maxAge !== undefined) freshMs = d.maxAge * 1000;
  else if (typeof h['expires'] === 'string') {
    const expires = Date.parse(h['expires']);
    const date = typeof h['date'] === 'string' ? Date.parse(h['date']) : i.now;
    freshMs = Number.isNaN(expires) ? 0 : Math.max(0, expires - (Number.isNaN(date) ? i.now : date));
  } else if (HEURISTIC.has(i.status) && typeof h['last-modified'] === 'string') {
    const modified = Date.parse(h['last-modified']);
    if (!Number.isNaN(modified)) freshMs = Math.min(i.heuristicMaxMs, Math.max(0, (i.now - modified) / 10));
  }
  if (freshMs === undefined) return undefined;
  if (freshMs === 0 && d.staleWhileRevalidate === undefined && d.staleIfError === undefined && !h['etag']) {
    return undefined;
  }
  return { freshMs, directives: d };
}
