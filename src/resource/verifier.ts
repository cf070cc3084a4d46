import { GatehouseError, isGatehouseError } from '../core/index.js';
import { decodeJwt, sha256Base64url, verifyJwtSignature, type DecodedJwt } from '../crypto/index.js';
import { checkAccessTokenClaims, isAccessTokenType } from './access_token_claims.js';
import { isApiKey, isWellFormedApiKey } from './api_key.js';
import { checkCertificateBinding, type RequestBinding } from './certificate_binding.js';
import { extractCredential, plainBearer, type HeaderBag } from './credentials.js';
import { DenyList } from './deny_list.js';
import { introspect } from './introspection.js';
import { JwksCache } from './jwks.js';
import { principalFromClaims, type Principal } from './principal.js';
import { RefusedApiKeys } from './refused_api_keys.js';
import { RevocationFeed } from './revocation_feed.js';
import { TokenCache } from './token_cache.js';
import { resolveVerifierOptions, type ResolvedVerifierOptions, type VerifierOptions } from './verifier_options.js';

/** The token / API-key verifier a service embeds. */
export interface Verifier {
  /**
   * Finds the request's credential (Bearer JWT, Bearer `ghk_…` or the API-key header) and verifies it. `binding`
   * carries the connection's client certificate: a certificate-bound token (RFC 8705 `cnf.x5t#S256`) is accepted only
   * with that certificate.
   */
  verifyRequest(headers: HeaderBag, binding?: RequestBinding): Promise<Principal>;
  /** Verifies one credential: a JWT access token, or an API key when API keys are configured. */
  verifyToken(token: string, binding?: RequestBinding): Promise<Principal>;
  /**
   * The synchronous fast path of {@link verifyRequest}: the principal when the request's credential was verified
   * before and is still remembered (every per-request check applied: revocation, key presence, feed staleness,
   * certificate binding), undefined when it must go through `verifyRequest`. Throws what `verifyRequest` would reject
   * with. Optional for other implementations of this interface.
   */
  cachedPrincipal?(headers: HeaderBag, binding?: RequestBinding): Principal | undefined;
  /**
   * Loads the JWKS and, in poll mode, the revocation feed; then keeps polling. Call before serving. A JWKS that cannot
   * be loaded rejects; a first feed read that fails is logged and retried (requests fail closed once the feed is older
   * than `maxStalenessMs`), unless `requireFeed` is set: then it rejects too (a reload that must prove its credential).
   * After a rejection `start()` may be called again (a retry loop while the issuer comes up); once it has resolved,
   * further calls do nothing.
   */
  start(options?: { requireFeed?: boolean }): Promise<void>;
  /** Stops background polling. */
  close(): Promise<void>;
  /** The realm of this verifier's WWW-Authenticate challenges. */
  readonly realm: string;
  /** The header API keys may come in, when API keys are enabled. */
  readonly apiKeyHeader: string | undefined;
}

/**
 * The verified-token cache key of a credential. A JWT is its own key: it lives minutes, and a map lookup costs a
 * fraction of the SHA-256 that hashing it would (about 0.8 of a gateway request's ~70 µs; Envoy's JWT cache is keyed
 * the same way). An API key is long-lived, so only its SHA-256 is kept (`k:` cannot start a JWT). Keying by a part of
 * the token (its signature's end) would hash faster, but the hit would then need an early-exit string compare of the
 * remembered token against what the caller sent: a timing oracle on a secret, for about 1 µs. Not done.
 */
function cacheKey(token: string): string {
  return isApiKey(token) ? `k:${sha256Base64url(token)}` : token;
}

function invalid(detail: string): GatehouseError {
  return new GatehouseError('ERR_TOKEN_INVALID', { oauthError: 'invalid_token', detail });
}

/** Re-labels JWS/JWK failures as invalid_token; lets unavailability and our own token errors through. */
function asTokenError(err: unknown): GatehouseError {
  if (isGatehouseError(err) && (err.code === 'ERR_TOKEN_INVALID' || err.code === 'ERR_VERIFIER_UNAVAILABLE'))
    return err;
  return invalid(isGatehouseError(err) ? `${err.code}: ${err.detail ?? ''}` : 'unexpected failure');
}

class TokenVerifier implements Verifier {
  private readonly jwks: JwksCache;
  private readonly deny: DenyList;
  private readonly cache: TokenCache;
  private readonly refusedKeys: RefusedApiKeys;
  private readonly feed: RevocationFeed | undefined;
  private starting: Promise<void> | undefined;
  private feedStarted = false;
  private unsubscribe: (() => Promise<void>) | undefined;

  constructor(private readonly o: ResolvedVerifierOptions) {
    this.jwks = new JwksCache(o.jwksSource, o.clock, o.logger, o.jwksCache);
    this.deny = new DenyList(o.denyMaxEntries, o.logger, o.clockSkewSeconds * 1000);
    this.cache = new TokenCache(o.cacheMaxEntries);
    this.refusedKeys = new RefusedApiKeys(o.apiKeys?.negativeCacheTtlMs ?? 0, o.cacheMaxEntries);
    if (o.mode === 'poll' && o.dispatcher !== undefined && o.credentials !== undefined) {
      this.feed = new RevocationFeed(
        {
          url: o.feedUrl,
          dispatcher: o.dispatcher,
          credentials: o.credentials,
          intervalMs: o.intervalMs,
          timeoutMs: o.fetchTimeoutMs,
          maxBytes: 4 * 1024 * 1024,
        },
        this.deny,
        o.clock,
        o.logger,
      );
    }
    if (o.mode === 'off') {
      o.logger.warn(
        { event: 'revocation_off', insecure: true },
        'INSECURE: token revocation is off, so revoked tokens stay valid until they expire; set revocation.mode to poll or introspect',
      );
    }
  }

  get realm(): string {
    return this.o.realm;
  }

  get apiKeyHeader(): string | undefined {
    return this.o.apiKeys?.header;
  }

  start(options: { requireFeed?: boolean } = {}): Promise<void> {
    // One start at a time; a start that failed (issuer down, feed refused) is forgotten, so the caller's retry loop
    // really starts again instead of resolving at once on a verifier that never loaded its feed (503 forever).
    this.starting ??= this.startOnce(options).catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  private async startOnce(options: { requireFeed?: boolean }): Promise<void> {
    await this.jwks.refresh();
    if (this.feed !== undefined && !this.feedStarted) {
      await this.feed.start(options);
      this.feedStarted = true;
    }
    if (this.o.subscribe !== undefined && this.unsubscribe === undefined) {
      this.unsubscribe = await this.o.subscribe((item) => {
        const now = this.o.clock.now();
        if (typeof item?.exp !== 'number') return;
        if (typeof item.jti === 'string') this.deny.add('jti', item.jti, item.exp * 1000, now);
        else if (typeof item.key_id === 'string') this.deny.add('key_id', item.key_id, item.exp * 1000, now);
      });
    }
  }

  async close(): Promise<void> {
    await this.feed?.close();
    await this.unsubscribe?.();
  }

  verifyRequest(headers: HeaderBag, binding?: RequestBinding): Promise<Principal> {
    try {
      return this.verifyToken(this.credentialOf(headers), binding);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The request's credential; the API-key header carries API keys only (a JWT there is not a Bearer token). */
  private credentialOf(headers: HeaderBag): string {
    const credential = extractCredential(headers, this.o.apiKeys?.header);
    if (credential.kind === 'api_key' && !isApiKey(credential.value))
      throw invalid('not an API key in the API-key header');
    return credential.value;
  }

  cachedPrincipal(headers: HeaderBag, binding?: RequestBinding): Principal | undefined {
    const now = this.o.clock.now();
    this.checkFeedFresh(now);
    if (this.o.cacheMaxEntries === 0) return undefined;
    // The usual shape is looked up as sent (a remembered token passed every syntax check when it was verified);
    // anything else is parsed and checked first, as verifyRequest does.
    const token = plainBearer(headers, this.o.apiKeys?.header) ?? this.credentialOf(headers);
    if (token.length > this.o.maxTokenBytes) throw invalid('token too large');
    const principal = this.remembered(cacheKey(token), now);
    if (principal !== undefined) checkCertificateBinding(principal.claims, binding?.certificateThumbprint);
    return principal;
  }

  async verifyToken(token: string, binding?: RequestBinding): Promise<Principal> {
    const principal = await this.verifyCredential(token);
    // RFC 8705 §3, on cache hits too: the cache knows the token, not the connection it came on.
    checkCertificateBinding(principal.claims, binding?.certificateThumbprint);
    return principal;
  }

  private checkFeedFresh(now: number): void {
    if (this.feed !== undefined && now - this.feed.lastSuccessAt > this.o.maxStalenessMs) {
      throw new GatehouseError('ERR_VERIFIER_UNAVAILABLE', { detail: 'revocation feed is stale' });
    }
  }

  /** A remembered principal, re-checked against the deny list and the JWKS; throws when it was revoked or withdrawn. */
  private remembered(key: string, now: number): Principal | undefined {
    const hit = this.cache.get(key, now);
    if (hit === undefined) return undefined;
    const kid = hit.principal.keyId;
    if (!this.deny.isDenied(hit.jti, kid, now) && (kid === undefined || this.jwks.peek(kid) !== undefined)) {
      return hit.principal;
    }
    this.cache.delete(key);
    throw invalid('revoked or key withdrawn');
  }

  private async verifyCredential(token: string): Promise<Principal> {
    const now = this.o.clock.now();
    this.checkFeedFresh(now);
    if (typeof token !== 'string' || token.length > this.o.maxTokenBytes) throw invalid('token too large');
    // The cache key; a verifier without a cache (cache.maxEntries 0) skips it on every request.
    const entryKey = this.o.cacheMaxEntries > 0 ? cacheKey(token) : '';
    const hit = entryKey === '' ? undefined : this.remembered(entryKey, now);
    if (hit !== undefined) return hit;
    if (isApiKey(token)) return this.verifyApiKey(token, entryKey, now);
    return this.verifyJwt(token, entryKey, now);
  }

  private async verifyJwt(token: string, entryKey: string, now: number): Promise<Principal> {
    let decoded: DecodedJwt;
    try {
      decoded = decodeJwt(token, { maxLength: this.o.maxTokenBytes });
      if (!isAccessTokenType(decoded.header.typ)) throw invalid('typ is not at+jwt');
      const kid = decoded.header.kid;
      if (typeof kid !== 'string') throw invalid('no kid');
      const key = this.jwks.current(kid) ?? (await this.jwks.resolve(kid)); // no await while the set is fresh
      if (key === undefined) throw invalid('unknown kid');
      verifyJwtSignature(decoded, key);
      checkAccessTokenClaims(decoded, this.o, Math.floor(now / 1000));
    } catch (err) {
      throw asTokenError(err);
    }
    const claims = decoded.payload;
    const kid = decoded.header.kid as string;
    const jti = claims['jti'] as string;
    if (this.deny.isDenied(jti, kid, now)) throw invalid('revoked');
    let expiresAt = (claims['exp'] as number) * 1000;
    if (this.o.mode === 'introspect' && this.o.introspection !== undefined && this.o.dispatcher !== undefined) {
      const answer = await introspect(
        this.o.dispatcher,
        this.o.introspection,
        token,
        'access_token',
        this.o.fetchTimeoutMs,
      );
      if (answer === undefined) throw invalid('inactive at introspection');
      expiresAt = Math.min(expiresAt, now + this.o.introspectionTtlMs);
    }
    const principal = principalFromClaims('jwt', claims, kid);
    this.cache.set(entryKey, { principal, expiresAt, jti });
    return principal;
  }

  private async verifyApiKey(token: string, entryKey: string, now: number): Promise<Principal> {
    const config = this.o.apiKeys;
    if (config === undefined || this.o.dispatcher === undefined) throw invalid('API keys are not accepted here');
    // Garbage and recently refused keys never reach the issuer (its introspection budget is shared by every request).
    if (!isWellFormedApiKey(token)) throw invalid('malformed API key (shape or checksum)');
    const digest = entryKey === '' ? cacheKey(token) : entryKey;
    if (this.refusedKeys.has(digest, now)) throw invalid('API key refused recently');
    const answer = await introspect(this.o.dispatcher, config.introspect, token, 'api_key', this.o.fetchTimeoutMs);
    const refuse = (detail: string): GatehouseError => {
      this.refusedKeys.add(digest, this.o.clock.now());
      return invalid(detail);
    };
    if (answer === undefined) throw refuse('inactive API key');
    if (answer['iss'] !== undefined && answer['iss'] !== this.o.issuer) throw refuse('API key iss mismatch');
    const aud = answer['aud'];
    if (aud !== undefined && aud !== this.o.audience && !(Array.isArray(aud) && aud.includes(this.o.audience))) {
      throw refuse('API key aud mismatch');
    }
    const exp = typeof answer['exp'] === 'number' ? answer['exp'] * 1000 : Number.POSITIVE_INFINITY;
    if (exp <= now) throw refuse('API key expired');
    const jti = typeof answer['jti'] === 'string' ? answer['jti'] : undefined;
    if (this.deny.isDenied(jti, undefined, now)) throw invalid('revoked');
    const principal = principalFromClaims('api_key', answer);
    this.cache.set(entryKey, { principal, expiresAt: Math.min(exp, now + config.cacheTtlMs), jti });
    return principal;
  }
}

/**
 * Creates the verifier a resource server embeds: RFC 9068 JWT access tokens checked against the issuer's JWKS
 * (algorithms pinned per key), API keys through introspection, revocation by feed polling or introspection, and a
 * verified-token cache that never outlives `exp` and re-checks revocation on every hit. Certificate-bound tokens
 * (RFC 8705) need the request's client certificate thumbprint (the framework plugins pass the TLS peer's).
 *
 * @example
 * const verifier = createVerifier({
 *   issuer: 'https://id.example.com',
 *   audience: 'orders',
 *   jwks: { url: 'https://id.example.com/.well-known/jwks.json' },
 *   revocation: { mode: 'poll', credentials: async () => feedToken },
 * });
 * await verifier.start();
 * const principal = await verifier.verifyRequest(req.headers);
 */
export function createVerifier(options: VerifierOptions): Verifier {
  return new TokenVerifier(resolveVerifierOptions(options));
}
