import { GatehouseError, isGatehouseError, type Clock } from '../core/index.js';
import { sha256Base64url } from '../crypto/index.js';
import type { GatewayPrincipal } from '../gateway/index.js';
import { isWellFormedApiKey } from '../identity/index.js';

/** Options of {@link ApiKeyIntrospection}. */
export interface ApiKeyIntrospectionOptions {
  /**
   * Asks the identity server about one key (RFC 7662, through the resource verifier, which keeps active answers for
   * the positive TTL and drops them on a revocation it reads from the feed). Resolves the principal; throws
   * ERR_TOKEN_INVALID for an inactive key, ERR_VERIFIER_UNAVAILABLE when the server cannot answer.
   */
  introspect: (key: string) => Promise<GatewayPrincipal>;
  /** How long a refused key is refused without asking again (ms). */
  negativeTtlMs: number;
  /** Most refused keys remembered (oldest forgotten first), and most introspections in flight at once. */
  maxEntries: number;
  clock: Clock;
}

/**
 * API keys of a standalone gateway, verified by introspection at the identity server: malformed keys (shape or
 * checksum) are refused without a call, a refused key is remembered for `negativeTtlMs` in a bounded map keyed by the
 * key's SHA-256 (never the key), and concurrent checks of the same key share one call. An unreachable server is 503
 * (ERR_VERIFIER_UNAVAILABLE, never cached): API-key routes fail closed.
 *
 * @example
 * const keys = new ApiKeyIntrospection({ introspect, negativeTtlMs: 5000, maxEntries: 10000, clock });
 * const principal = await keys.verify(presented); // undefined when unknown, expired or revoked
 */
export class ApiKeyIntrospection {
  private readonly refused = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<GatewayPrincipal | undefined>>();

  constructor(private readonly o: ApiKeyIntrospectionOptions) {}

  /** Refused keys remembered now (for tests and metrics). */
  get refusedSize(): number {
    return this.refused.size;
  }

  verify(key: string): Promise<GatewayPrincipal | undefined> {
    if (!isWellFormedApiKey(key)) return Promise.resolve(undefined);
    const digest = sha256Base64url(key);
    const now = this.o.clock.now();
    const until = this.refused.get(digest);
    if (until !== undefined) {
      if (until > now) return Promise.resolve(undefined);
      this.refused.delete(digest);
    }
    const running = this.inFlight.get(digest);
    if (running !== undefined) return running;
    if (this.inFlight.size >= this.o.maxEntries) {
      return Promise.reject(
        new GatehouseError('ERR_VERIFIER_UNAVAILABLE', { detail: 'too many API-key introspections in flight' }),
      );
    }
    const call = this.o
      .introspect(key)
      .then(
        (principal): GatewayPrincipal | undefined => principal,
        (err: unknown) => {
          if (!isGatehouseError(err) || err.code !== 'ERR_TOKEN_INVALID') throw err;
          this.remember(digest);
          return undefined;
        },
      )
      .finally(() => this.inFlight.delete(digest));
    this.inFlight.set(digest, call);
    return call;
  }

  /** Entries share one TTL and are appended, so the map's order is expiry order: trimming from the front is O(1). */
  private remember(digest: string): void {
    const now = this.o.clock.now();
    for (const [d, until] of this.refused) {
      if (until > now && this.refused.size < this.o.maxEntries) break;
      this.refused.delete(d);
    }
    this.refused.set(digest, now + this.o.negativeTtlMs);
  }
}
