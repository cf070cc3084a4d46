import type { Dispatcher } from 'undici';
import { GatehouseError, silentLogger, systemClock, type Clock, type Logger } from '../core/index.js';
import { MAX_JWT_LENGTH } from '../crypto/index.js';
import { assertIssuerUrl, dispatcherFor } from './http_client.js';
import type { IntrospectionEndpoint } from './introspection.js';
import type { JwksCacheOptions, JwksSource } from './jwks.js';

/** A revocation item as the feed and push fan-out carry it (`exp` in epoch seconds). */
export interface RevocationItem {
  jti?: string;
  key_id?: string;
  exp: number;
}

/** The port a push channel (Redis pub/sub, ...) implements for the verifier. */
export type RevocationSubscribe = (onItem: (item: RevocationItem) => void) => Promise<() => Promise<void>>;

/** Options of `createVerifier`. */
export interface VerifierOptions {
  /** The exact `iss` of accepted tokens (no trailing-slash normalisation). */
  issuer: string;
  /** This service's audience: `aud` must equal it or contain it. */
  audience: string;
  /** A remote JWKS (https; `ca` PEM or an undici `dispatcher` also serve the feed and introspection) or fixed keys. */
  jwks: ({ url: string; ca?: string | Buffer; dispatcher?: Dispatcher } | { keys: unknown[] }) & {
    cache?: JwksCacheOptions;
  };
  /** TLS trust for the feed and introspection when `jwks` is given as fixed keys (else `jwks.ca`/`dispatcher`). */
  tls?: { ca?: string | Buffer; dispatcher?: Dispatcher };
  /** Allowed clock difference for exp/nbf/iat (default 30, at most 120). */
  clockSkewSeconds?: number;
  /** Accepted `typ` (only `at+jwt`, which also admits `application/at+jwt`). */
  typ?: 'at+jwt';
  revocation: {
    mode: 'poll' | 'introspect' | 'off';
    /** Poll period of the feed (default 5000 ms). */
    intervalMs?: number;
    /** The feed URL (default `<issuer>/revocations`). */
    feedUrl?: string;
    /** Bearer credential for the feed (poll mode). */
    credentials?: () => Promise<string>;
    /** RFC 7662 endpoint (introspect mode). */
    introspection?: IntrospectionEndpoint;
    /** How long an introspected JWT stays cached (default 10 s, never past exp). */
    cacheTtlMs?: number;
    /** Poll mode fails closed (503) when the feed has not answered for this long (default max(60 s, 10 intervals)). */
    maxStalenessMs?: number;
    /** Bound of the deny list (default 100 000). */
    maxEntries?: number;
    /**
     * Push fan-out (e.g. Redis pub/sub, wired by the app): called at start with a callback for each revocation item;
     * resolves a function that unsubscribes. Works beside any mode; the feed or introspection stays the source of truth.
     */
    subscribe?: RevocationSubscribe;
  };
  apiKeys?: {
    /** Header carrying API keys besides `Authorization: Bearer ghk_…` (default `x-api-key`). */
    header?: string;
    introspect: IntrospectionEndpoint;
    /** How long an introspected API key stays cached (default 30 s). */
    cacheTtlMs?: number;
    /** How long a key the issuer refused is refused without asking again (default 5 s; 0 asks every time). */
    negativeCacheTtlMs?: number;
  };
  cache?: { maxEntries?: number };
  /** The `realm` of WWW-Authenticate challenges (default the audience). */
  realm?: string;
  /** Timeout of every call to the issuer (default 5000 ms). */
  fetchTimeoutMs?: number;
  maxTokenBytes?: number;
  clock?: Clock;
  logger?: Logger;
}

/** Options after validation, with every default filled in. */
export interface ResolvedVerifierOptions {
  issuer: string;
  audience: string;
  realm: string;
  clockSkewSeconds: number;
  jwksSource: JwksSource;
  jwksCache: JwksCacheOptions;
  dispatcher: Dispatcher | undefined;
  mode: 'poll' | 'introspect' | 'off';
  intervalMs: number;
  feedUrl: string;
  credentials: (() => Promise<string>) | undefined;
  subscribe: RevocationSubscribe | undefined;
  introspection: IntrospectionEndpoint | undefined;
  introspectionTtlMs: number;
  maxStalenessMs: number;
  denyMaxEntries: number;
  apiKeys:
    { header: string; introspect: IntrospectionEndpoint; cacheTtlMs: number; negativeCacheTtlMs: number } | undefined;
  cacheMaxEntries: number;
  fetchTimeoutMs: number;
  maxTokenBytes: number;
  clock: Clock;
  logger: Logger;
}

function bad(message: string): GatehouseError {
  return new GatehouseError('ERR_CONFIG_INVALID', { message: `verifier: ${message}` });
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v <= 0) throw bad(`${name} must be a positive integer`);
  return v;
}

/**
 * Validates verifier options and fills the defaults. Throws ERR_CONFIG_INVALID naming the bad option.
 *
 * @example
 * const resolved = resolveVerifierOptions({ issuer, audience: 'orders', jwks: { url }, revocation: { mode: 'off' } });
 */
export function resolveVerifierOptions(o: VerifierOptions): ResolvedVerifierOptions {
  if (typeof o.issuer !== 'string' || o.issuer.length === 0) throw bad('issuer is required');
  if (typeof o.audience !== 'string' || o.audience.length === 0) throw bad('audience is required');
  const skew = o.clockSkewSeconds ?? 30;
  if (!Number.isInteger(skew) || skew < 0 || skew > 120) throw bad('clockSkewSeconds must be 0..120');
  if (o.typ !== undefined && o.typ !== 'at+jwt') throw bad('typ must be at+jwt');
  let dispatcher: Dispatcher | undefined;
  let jwksSource: JwksSource;
  if ('url' in o.jwks) {
    assertIssuerUrl(o.jwks.url, 'jwks.url');
    dispatcher = dispatcherFor(o.jwks);
    jwksSource = { url: o.jwks.url, dispatcher };
  } else {
    if (!Array.isArray(o.jwks.keys)) throw bad('jwks needs url or keys');
    jwksSource = { keys: o.jwks.keys };
  }
  const needsHttp = o.revocation.mode !== 'off' || o.apiKeys !== undefined;
  if (needsHttp && dispatcher === undefined) dispatcher = dispatcherFor(o.tls ?? {});
  const mode = o.revocation.mode;
  if (mode !== 'poll' && mode !== 'introspect' && mode !== 'off')
    throw bad('revocation.mode must be poll|introspect|off');
  const intervalMs = positive(o.revocation.intervalMs, 5_000, 'revocation.intervalMs');
  const feedUrl = o.revocation.feedUrl ?? `${o.issuer.replace(/\/+$/, '')}/revocations`;
  if (mode === 'poll') {
    assertIssuerUrl(feedUrl, 'revocation.feedUrl');
    if (typeof o.revocation.credentials !== 'function') throw bad('revocation.credentials is required in poll mode');
  }
  if (mode === 'introspect') {
    if (o.revocation.introspection === undefined) throw bad('revocation.introspection is required in introspect mode');
    assertIssuerUrl(o.revocation.introspection.url, 'revocation.introspection.url');
  }
  let apiKeys: ResolvedVerifierOptions['apiKeys'];
  if (o.apiKeys !== undefined) {
    assertIssuerUrl(o.apiKeys.introspect.url, 'apiKeys.introspect.url');
    const header = (o.apiKeys.header ?? 'x-api-key').toLowerCase();
    if (header === 'authorization' || !/^[a-z0-9-]+$/.test(header)) throw bad('apiKeys.header is not a header name');
    apiKeys = {
      header,
      introspect: o.apiKeys.introspect,
      cacheTtlMs: positive(o.apiKeys.cacheTtlMs, 30_000, 'apiKeys.cacheTtlMs'),
      negativeCacheTtlMs: o.apiKeys.negativeCacheTtlMs ?? 5_000,
    };
    if (!Number.isInteger(apiKeys.negativeCacheTtlMs) || apiKeys.negativeCacheTtlMs < 0) {
      throw bad('apiKeys.negativeCacheTtlMs must be a non-negative integer');
    }
  }
  return {
    issuer: o.issuer,
    audience: o.audience,
    realm: o.realm ?? o.audience,
    clockSkewSeconds: skew,
    jwksSource,
    jwksCache: o.jwks.cache ?? {},
    dispatcher,
    mode,
    intervalMs,
    feedUrl,
    credentials: o.revocation.credentials,
    subscribe: o.revocation.subscribe,
    introspection: o.revocation.introspection,
    introspectionTtlMs: positive(o.revocation.cacheTtlMs, 10_000, 'revocation.cacheTtlMs'),
    maxStalenessMs: positive(
      o.revocation.maxStalenessMs,
      Math.max(60_000, 10 * intervalMs),
      'revocation.maxStalenessMs',
    ),
    denyMaxEntries: positive(o.revocation.maxEntries, 100_000, 'revocation.maxEntries'),
    apiKeys,
    cacheMaxEntries: o.cache?.maxEntries ?? 10_000,
    fetchTimeoutMs: positive(o.fetchTimeoutMs, 5_000, 'fetchTimeoutMs'),
    maxTokenBytes: positive(o.maxTokenBytes, MAX_JWT_LENGTH, 'maxTokenBytes'),
    clock: o.clock ?? systemClock,
    logger: o.logger ?? silentLogger,
  };
}
