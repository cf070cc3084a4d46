import type { OutgoingHttpHeaders } from 'node:http';
import { Counter } from 'prom-client';
import { GatehouseError, type Clock, type Logger } from '../../core/index.js';
import type { GatewayMetrics } from '../gateway_metrics.js';
import { upstreamOf } from '../request_routing.js';
import type { RequestContext, StageRun } from '../pipeline.js';
import { byteRange, WHOLE_RANGE } from './byte_range.js';
import { parseCacheControl, storePolicy } from './cache_control.js';
import { fetchForCache, type FetchedResponse } from './cache_fill.js';
import { UNKEYED_HEADERS, cacheKey, keyedHost, routeCacheKey } from './cache_key.js';
import type { ResponseCache } from './response_cache.js';
import { sendProblem } from '../problem_response.js';
import { addHsts } from '../strict_transport_security.js';
import { dropCorsFields } from '../cors_policy.js';
import { addGatewayHeaders } from '../ratelimit_headers.js';
import { varyValues, type CachedResponse } from './response_cache.js';

/** Options of {@link createCacheStage}. */
export interface CacheStageOptions {
  cache: ResponseCache;
  clock: Clock;
  logger: Logger;
  metrics: GatewayMetrics;
  heuristicMaxMs: number;
  maxObjectSize: number;
  /**
   * The headers a request is forwarded with (the gateway's: forwarding headers, verified identity, API key removed),
   * so a cache fill sends exactly what the proxy stage would.
   */
  forwardHeaders: (ctx: RequestContext) => Record<string, string>;
}

/**
 * Fields the gateway sets from what the primary key already holds (the scheme, the keyed host): a `Vary` on them
 * cannot tell two callers of one key apart, so the caller's own copy (removed before forwarding) does not matter.
 */
const HOST_DERIVED = new Set(['x-forwarded-proto', 'x-forwarded-host']);

/**
 * Representation metadata a 304 does not carry (RFC 9110 §15.4.5: only Cache-Control, Content-Location, Date, ETag,
 * Expires, Vary, and metadata that guides cache updates such as Last-Modified): the client keeps its stored copy's.
 */
const NOT_IN_304 = ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-range'];

type Outcome = 'hit' | 'miss' | 'stale' | 'revalidated' | 'stale_if_error' | 'coalesced' | 'uncacheable';

function etagMatches(ifNoneMatch: string | string[] | undefined, etag: string | string[] | undefined): boolean {
  if (ifNoneMatch === undefined || typeof etag !== 'string') return false;
  const weak = (t: string) => t.trim().replace(/^W\//, '');
  const list = (Array.isArray(ifNoneMatch) ? ifNoneMatch.join(',') : ifNoneMatch).split(',');
  return list.some((t) => t.trim() === '*' || weak(t) === weak(etag));
}

/**
 * The `cache` slot: for routes with `cache.enabled`, GET and HEAD are answered from the shared {@link ResponseCache}
 * (fresh hit, stale-while-revalidate with one background refresh, stale-if-error), misses are coalesced (one upstream
 * request per key; the others wait and read the stored result), stale entries are revalidated with If-None-Match, a
 * matching client If-None-Match gets 304 (for a stored 2xx), a GET's byte Range is cut from a stored 200 (206 or 416,
 * src/gateway/cache/byte_range.ts), `Cache-Control: only-if-cached` gets a usable stored response or 504, and `Age` is
 * sent. A successful unsafe request (POST,
 * PUT, DELETE, ...) drops the entries of its target (RFC 9111 §4.4). Results are counted in
 * `gatehouse_gateway_cache_requests_total{route, result}`.
 *
 * @example
 * const stage = createCacheStage({ cache, clock, logger, metrics, heuristicMaxMs: 3_600_000, maxObjectSize: 1 << 20 });
 */
export function createCacheStage(o: CacheStageOptions): StageRun {
  const results = new Counter({
    name: 'gatehouse_gateway_cache_requests_total',
    help: 'Cacheable requests by route and result (hit, miss, stale, revalidated, stale_if_error, coalesced, uncacheable, only_if_cached).',
    labelNames: ['route', 'result'] as const,
    registers: [o.metrics.registry],
  });

  const answer = (ctx: RequestContext, r: CachedResponse | FetchedResponse, outcome: Outcome, age?: number) => {
    ctx.answered = true;
    results.labels(ctx.route!.config.name, outcome).inc();
    const headers: OutgoingHttpHeaders = { ...r.headers, 'x-request-id': ctx.requestId };
    if (outcome !== 'miss' && outcome !== 'uncacheable') {
      // Another request's answer (stored, or a coalesced fill): its RateLimit fields told that request's client its
      // quota, not this one's.
      delete headers['ratelimit'];
      delete headers['ratelimit-policy'];
    }
    if (ctx.route!.cors !== undefined) dropCorsFields(headers); // the stored upstream's; the gateway's come next
    ctx.route!.headers?.onResponse(headers);
    if (ctx.responseHeaders !== undefined) addGatewayHeaders(headers, ctx.responseHeaders);
    if (age !== undefined) headers['age'] = String(age);
    addHsts(headers, ctx.hsts); // the stored entry keeps only the upstream's own
    headers['x-cache'] = outcome === 'hit' || outcome === 'stale' || outcome === 'stale_if_error' ? 'HIT' : 'MISS';
    // A whole 200 can be cut into ranges here (below): say so, unless the upstream said otherwise (nginx does the same).
    if (r.status === 200 && headers['accept-ranges'] === undefined) headers['accept-ranges'] = 'bytes';
    // RFC 9110 §13.2.1: a precondition is evaluated only when the response would otherwise be a 2xx.
    if (r.status >= 200 && r.status < 300 && etagMatches(ctx.req.headers['if-none-match'], r.headers['etag'])) {
      for (const name of NOT_IN_304) delete headers[name];
      ctx.res.writeHead(304, headers);
      ctx.res.end();
      return;
    }
    // RFC 9110 §14.2: a GET's Range, served from the whole stored 200 (the fill never forwards Range).
    const range =
      ctx.req.method === 'GET' && r.status === 200 ? byteRange(ctx.req.headers, r.headers, r.body.length) : WHOLE_RANGE;
    if (range.kind === 'unsatisfiable') {
      sendProblem(ctx, new GatehouseError('ERR_GATEWAY_RANGE_NOT_SATISFIABLE'), {
        headers: { ...ctx.responseHeaders, 'content-range': `bytes */${r.body.length}` },
      });
      return;
    }
    if (range.kind === 'partial') {
      headers['content-range'] = `bytes ${range.start}-${range.end}/${r.body.length}`;
      headers['content-length'] = String(range.end - range.start + 1);
      ctx.res.writeHead(206, headers);
      ctx.res.end(r.body.subarray(range.start, range.end + 1));
      return;
    }
    headers['content-length'] = String(r.body.length);
    ctx.res.writeHead(r.status, headers);
    ctx.res.end(ctx.req.method === 'HEAD' ? undefined : r.body);
  };

  const upstreamHeaders = (ctx: RequestContext, stored: CachedResponse | undefined) => {
    const headers = o.forwardHeaders(ctx);
    for (const name of UNKEYED_HEADERS) delete headers[name];
    headers['x-forwarded-proto'] = 'https';
    // The host exactly as keyed: an origin that builds links from it cannot be made to store another host's variant.
    if (ctx.req.headers.host !== undefined) headers['x-forwarded-host'] = keyedHost(ctx.req.headers.host);
    const etag = stored?.headers['etag'];
    if (typeof etag === 'string') headers['if-none-match'] = etag;
    return headers;
  };

  /** Fetches, stores when allowed, returns what to answer the leader with. */
  const fill = async (ctx: RequestContext, key: string, stored: CachedResponse | undefined) => {
    const url = ctx.upstreamTarget;
    const generation = o.cache.generation; // a reload meanwhile may give the route another upstream
    const requestedAt = o.clock.now();
    ctx.upstreamStartedAt = requestedAt; // the access line's upstream_ms
    const sent = upstreamHeaders(ctx, stored);
    let fetched: FetchedResponse;
    try {
      fetched = await fetchForCache(upstreamOf(ctx, o.metrics), url, sent, ctx.requestId, o.maxObjectSize);
    } catch (err) {
      if (stored && o.cache.usableOnError(stored)) return { response: stored, outcome: 'stale_if_error' as const };
      throw err;
    }
    const now = o.clock.now();
    if (fetched.status === 304 && stored) {
      const merged = { ...stored.headers, ...fetched.headers };
      const policy = storePolicy({ ...policyInput(ctx, merged, 200, now) });
      const refreshed: CachedResponse = { ...stored, headers: merged, storedAt: now, initialAge: 0 };
      if (policy) Object.assign(refreshed, { freshMs: policy.freshMs, directives: policy.directives });
      o.cache.store(key, refreshed, generation);
      return { response: refreshed, outcome: 'revalidated' as const };
    }
    if (fetched.status >= 500 && stored && o.cache.usableOnError(stored)) {
      return { response: stored, outcome: 'stale_if_error' as const };
    }
    if (fetched.tooLarge) return { response: undefined, outcome: 'uncacheable' as const };
    const policy = storePolicy(policyInput(ctx, fetched.headers, fetched.status, now));
    if (!policy) return { response: fetched, outcome: 'uncacheable' as const };
    const ageHeader = Number(fetched.headers['age'] ?? 0);
    const vary = String(fetched.headers['vary'] ?? '')
      .split(',')
      .map((v) => v.trim().toLowerCase())
      .filter((v) => v !== '');
    // The variant is looked up by the caller's header values, so it may only be filed when the upstream answered for
    // those same values. A field the caller hid with Connection (`Accept-Language: fr` + `Connection:
    // Accept-Language`), or one the gateway sets itself (an identity header, X-Forwarded-For), would file the answer
    // meant for other values under the caller's, for every later caller sending them.
    const keyed = varyValues(vary, ctx.req.headers);
    const asSent = varyValues(vary, sent);
    if (vary.some((name, i) => !HOST_DERIVED.has(name) && keyed[i] !== asSent[i])) {
      return { response: fetched, outcome: 'uncacheable' as const };
    }
    const entry: CachedResponse = {
      status: fetched.status,
      headers: fetched.headers,
      body: fetched.body,
      storedAt: now,
      initialAge: (Number.isFinite(ageHeader) ? ageHeader : 0) + Math.floor((now - requestedAt) / 1000),
      freshMs: policy.freshMs,
      directives: policy.directives,
      vary,
      varyValues: keyed,
    };
    o.cache.store(key, entry, generation);
    return { response: entry, outcome: 'miss' as const };
  };

  const policyInput = (
    ctx: RequestContext,
    headers: Record<string, string | string[]>,
    status: number,
    now: number,
  ) => ({
    method: 'GET',
    status,
    requestDirectives: parseCacheControl(ctx.req.headers['cache-control']),
    responseHeaders: headers,
    authenticated: ctx.principal !== undefined || ctx.req.headers.authorization !== undefined,
    now,
    heuristicMaxMs: o.heuristicMaxMs,
  });

  return (ctx) => {
    const { req } = ctx;
    if (!ctx.route!.config.cache.enabled) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      invalidateOnSuccess(ctx, o.cache);
      return;
    }
    const key = storeKey(ctx, req.method, o.metrics);
    const asked = parseCacheControl(req.headers['cache-control']);
    const noCache = asked.noCache || req.headers.pragma === 'no-cache';
    const stored = o.cache.lookup(key, req.headers);
    if (stored && !noCache) {
      const state = o.cache.freshness(stored);
      if (state === 'fresh') return answer(ctx, stored, 'hit', o.cache.age(stored));
      if (state === 'stale-while-revalidate') {
        answer(ctx, stored, 'stale', o.cache.age(stored));
        const background = { ...ctx, res: ctx.res, answered: true };
        o.cache
          .coalesce(key, () => fill(background, key, stored))
          .promise.catch((err: unknown) => {
            o.logger.debug(
              { event: 'gateway_cache_refresh_failed', key, err: String(err) },
              'background refresh failed',
            );
          });
        return;
      }
    }
    if (asked.onlyIfCached) {
      // RFC 9111 §5.2.1.7: a stored response that may be used now, or 504; the upstream is not asked.
      results.labels(ctx.route!.config.name, 'only_if_cached').inc();
      throw new GatehouseError('ERR_GATEWAY_NOT_CACHED');
    }
    return (async () => {
      const { promise, leader } = o.cache.coalesce(key, () => fill(ctx, key, stored));
      if (leader) {
        const result = await promise;
        if (result.response === undefined) return; // too large to keep: the proxy stage streams it
        answer(
          ctx,
          result.response,
          result.outcome,
          'storedAt' in result.response ? o.cache.age(result.response) : undefined,
        );
        return;
      }
      await promise.catch(() => undefined);
      const shared = o.cache.lookup(key, req.headers);
      if (shared && o.cache.freshness(shared) !== 'stale') answer(ctx, shared, 'coalesced', o.cache.age(shared));
      // otherwise the proxy stage forwards this request itself
    })();
  };
}

/**
 * RFC 9111 §4.4: once an unsafe request's response is a non-error (status < 400), the stored responses of its target
 * are dropped, whatever their variants. OPTIONS and TRACE are safe and change nothing.
 */
function invalidateOnSuccess(ctx: RequestContext, cache: ResponseCache): void {
  const method = ctx.req.method;
  if (method === 'OPTIONS' || method === 'TRACE') return;
  const route = ctx.route!;
  const base = cacheKey('GET', ctx.req.headers.host, ctx.target);
  // A canary route's target is stored once per side: both go.
  const keys =
    route.canary === undefined
      ? [routeCacheKey(route.config.name, base)]
      : [route.upstream, route.canary.upstream].map((u) => routeCacheKey(route.config.name, `${u.name} ${base}`));
  ctx.res.once('finish', () => {
    if (ctx.res.statusCode < 400) for (const key of keys) cache.invalidate(key);
  });
}

/**
 * The key a request's answer is stored under: the route's and the request's ({@link cacheKey}); on a route with a
 * canary also the upstream drawn for it (drawn here, before the lookup), so that each side is served its own answers:
 * a request the canary header sends to the new version never fills what the others get, and a caller kept on one
 * side by `hashOn` is never answered from the other.
 */
function storeKey(ctx: RequestContext, method: string, metrics: GatewayMetrics): string {
  const route = ctx.route!;
  const base = cacheKey(method, ctx.req.headers.host, ctx.target);
  if (route.canary === undefined) return routeCacheKey(route.config.name, base);
  return routeCacheKey(route.config.name, `${upstreamOf(ctx, metrics).name} ${base}`);
}

/**
 * Two stage runs in one slot (the body half of the WAF, then the cache), synchronous when both are.
 *
 * @example
 * const cacheSlot = chainStages(waf.body, createCacheStage(options));
 */
export function chainStages(first: StageRun, second: StageRun): StageRun {
  return (ctx) => {
    const r = first(ctx);
    if (r instanceof Promise) return r.then(() => (ctx.answered ? undefined : second(ctx)));
    if (!ctx.answered) return second(ctx);
  };
}
