import type { Dispatcher } from 'undici';
import { GatehouseError, type Clock, type Logger } from '../core/index.js';
import { verificationKeyFromJwk, type VerificationKey } from '../crypto/index.js';
import { fetchJson } from './http_client.js';

/** Tuning of the JWKS cache; defaults follow jose's createRemoteJWKSet where it has one. */
export interface JwksCacheOptions {
  /** Least time between two fetches caused by unknown `kid`s (default 30 s). */
  cooldownMs?: number;
  /** Freshness when the response has no Cache-Control max-age (default 10 min). */
  defaultMaxAgeMs?: number;
  /** Bounds applied to Cache-Control max-age (defaults 30 s and 24 h). */
  minMaxAgeMs?: number;
  maxMaxAgeMs?: number;
  /** Fetch timeout (default 5 s). */
  timeoutMs?: number;
  /** Largest JWKS body (default 256 KiB) and most keys kept (default 100). */
  maxBytes?: number;
  maxKeys?: number;
}

/** Where keys come from: a remote JWKS, or a fixed set given at construction. */
export type JwksSource = { url: string; dispatcher: Dispatcher } | { keys: readonly unknown[] };

/**
 * The issuer's verification keys by `kid`. Remote sets are refetched when stale (Cache-Control max-age, bounded) and
 * at most once per cooldown when a token names an unknown `kid`; concurrent refreshes share one fetch. A failed
 * refresh keeps the last good keys. Every key must carry `alg` (pinned per key); keys without it are skipped.
 *
 * @example
 * const jwks = new JwksCache({ url, dispatcher }, clock, logger);
 * const key = await jwks.resolve(decoded.header.kid);
 */
export class JwksCache {
  private keys = new Map<string, VerificationKey>();
  private expiresAt = 0;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;
  private readonly opts: Required<JwksCacheOptions>;
  /** Number of remote fetches started (for tests and metrics). */
  fetchCount = 0;

  constructor(
    private readonly source: JwksSource,
    private readonly clock: Clock,
    private readonly logger: Logger,
    options: JwksCacheOptions = {},
  ) {
    this.opts = {
      cooldownMs: options.cooldownMs ?? 30_000,
      defaultMaxAgeMs: options.defaultMaxAgeMs ?? 600_000,
      minMaxAgeMs: options.minMaxAgeMs ?? 30_000,
      maxMaxAgeMs: options.maxMaxAgeMs ?? 86_400_000,
      timeoutMs: options.timeoutMs ?? 5_000,
      maxBytes: options.maxBytes ?? 256 * 1024,
      maxKeys: options.maxKeys ?? 100,
    };
    if ('keys' in source) {
      this.install(source.keys);
      this.expiresAt = Number.POSITIVE_INFINITY;
    }
  }

  /** The key named `kid` if it is in the current set (no fetching): the cheap check of cached tokens. */
  peek(kid: string): VerificationKey | undefined {
    return this.keys.get(kid);
  }

  /**
   * The key named `kid` when the set is fresh (no refresh due) and holds it, without a promise: what `resolve` would
   * answer at once. Undefined otherwise; then call `resolve`.
   */
  current(kid: string): VerificationKey | undefined {
    return this.clock.now() < this.expiresAt ? this.keys.get(kid) : undefined;
  }

  /**
   * The key named `kid`, refreshing a stale set first and refetching once (cooldown permitting) for an unknown kid.
   * Resolves undefined when the issuer does not publish it. Throws ERR_VERIFIER_UNAVAILABLE only when no key set was
   * ever loaded.
   */
  async resolve(kid: string): Promise<VerificationKey | undefined> {
    const now = this.clock.now();
    if (now >= this.expiresAt && now - this.lastAttemptAt >= this.opts.cooldownMs / 10) await this.refresh();
    const key = this.keys.get(kid);
    if (key !== undefined) return key;
    if (this.inflight !== undefined) {
      await this.inflight;
      return this.keys.get(kid);
    }
    if (this.clock.now() - this.lastAttemptAt < this.opts.cooldownMs) return undefined;
    await this.refresh();
    return this.keys.get(kid);
  }

  /** Fetches the set now (sharing a fetch already running). Throws when nothing was ever loaded and this fails. */
  async refresh(): Promise<void> {
    if ('keys' in this.source) return;
    if (this.inflight === undefined) {
      this.inflight = this.fetch().finally(() => {
        this.inflight = undefined;
      });
    }
    await this.inflight;
  }

  private async fetch(): Promise<void> {
    const source = this.source as { url: string; dispatcher: Dispatcher };
    this.lastAttemptAt = this.clock.now();
    this.fetchCount += 1;
    try {
      const res = await fetchJson(source.dispatcher, source.url, {
        timeoutMs: this.opts.timeoutMs,
        maxBytes: this.opts.maxBytes,
      });
      const keys = (res.json as { keys?: unknown } | undefined)?.keys;
      if (res.status !== 200 || !Array.isArray(keys)) {
        throw new GatehouseError('ERR_VERIFIER_UNAVAILABLE', { detail: `JWKS answered ${res.status}` });
      }
      this.install(keys);
      this.expiresAt = this.clock.now() + this.maxAge(res.headers['cache-control']);
    } catch (err) {
      const detail = err instanceof GatehouseError ? err.detail : (err as Error).message;
      this.logger.warn({ event: 'jwks_fetch_failed', detail }, 'JWKS fetch failed; keeping the last good keys');
      if (this.expiresAt === 0)
        throw err instanceof GatehouseError ? err : new GatehouseError('ERR_VERIFIER_UNAVAILABLE');
    }
  }

  private maxAge(header: string | string[] | undefined): number {
    const text = Array.isArray(header) ? header.join(',') : (header ?? '');
    const match = /(?:^|[,\s])max-age=(\d{1,10})(?:$|[,\s])/i.exec(text);
    const ms = match ? Number(match[1]) * 1000 : this.opts.defaultMaxAgeMs;
    return Math.min(Math.max(ms, this.opts.minMaxAgeMs), this.opts.maxMaxAgeMs);
  }

  private install(jwks: readonly unknown[]): void {
    const next = new Map<string, VerificationKey>();
    const duplicates = new Set<string>();
    for (const jwk of jwks.slice(0, this.opts.maxKeys)) {
      try {
        const key = verificationKeyFromJwk(jwk);
        if (next.has(key.kid)) duplicates.add(key.kid);
        next.set(key.kid, key);
      } catch (err) {
        const kid = (jwk as { kid?: unknown } | null)?.kid;
        this.logger.warn(
          {
            event: 'jwks_key_skipped',
            kid: typeof kid === 'string' ? kid.slice(0, 64) : undefined,
            detail: (err as GatehouseError).detail,
          },
          'JWKS key refused',
        );
      }
    }
    for (const kid of duplicates) next.delete(kid);
    this.keys = next;
  }
}
