import { Pool } from 'undici';
import { Http2Origin } from './http2_origin.js';
import type { Logger } from '../core/index.js';
import { mtlsConnector, originConnector, type ConnectorStats } from './connector.js';
import type { IdentitySource } from './identity_source.js';
import { expectSpiffeId, type PeerChecker } from './peer_check.js';
import { RetryPolicy, type RetrySettings } from './retry_policy.js';

/** A peer service reachable through its sidecar. */
export interface MeshUpstream {
  /** Service name: the Host header the local app sends (`http://backend/...`). */
  name: string;
  /** The peer sidecar's inbound mTLS address, `host:port`. */
  address: string;
  /** The SPIFFE ID the peer must present. */
  spiffeId: string;
  /** Time the peer has for its response headers, and between body chunks (default 15 s); then 504. */
  timeoutMs?: number;
  /** Retries of failed attempts (default {@link SIDECAR_RETRIES}). */
  retries?: RetrySettings;
  /**
   * How to speak to the peer's sidecar: `http1` (default; a keep-alive pool) or `h2` (HTTP/2 over the same mTLS, ALPN
   * `h2`: one multiplexed connection; what gRPC needs).
   */
  protocol?: 'http1' | 'h2';
}

/**
 * The sidecar's default retry policy: Istio's 2 more attempts, on connect failures, refused streams and resets. Not
 * on 503 (Istio retries it): a peer sidecar answers 503 itself when it holds no SVID, and then refuses the retry's
 * handshake too.
 */
export const SIDECAR_RETRIES: RetrySettings = {
  attempts: 2,
  on: ['connect-failure', 'refused-stream', 'reset'],
  budget: 0.2,
};

/** One peer service and the keep-alive mTLS pool to its sidecar. */
export interface UpstreamPool {
  upstream: MeshUpstream;
  /** A keep-alive mTLS pool (`http1`), or one multiplexed HTTP/2 connection at a time (`h2`). */
  pool: Pool | Http2Origin;
  /** Its retry policy (and retry budget). */
  retry: RetryPolicy;
  /** Requests to it under way (the retry budget's base). */
  inFlight: number;
}

/** Options of {@link UpstreamPools}. */
export interface UpstreamPoolsOptions {
  identity: IdentitySource;
  checker: PeerChecker;
  /** Counters of the mTLS connections, shared by every pool. */
  stats: ConnectorStats;
  logger: Logger;
  /** Keep-alive connections per upstream (default 32). */
  connections?: number;
  /** Requests per connection before it is replaced (default unlimited). */
  maxRequestsPerConnection?: number;
}

/**
 * The outbound side's connection pools, one per peer service by name: keep-alive mTLS to the peer's sidecar with our
 * server-identity check (the SPIFFE ID the upstream names). Replacing the upstreams keeps the pool of one whose name,
 * address and SPIFFE ID are unchanged; the pool of a removed or changed one gets no new requests and closes once the
 * requests in flight on it have finished.
 *
 * @example
 * const pools = new UpstreamPools({ identity, checker, stats, logger });
 * pools.replace(upstreams);
 * const held = pools.get('backend'); // { upstream, pool } or undefined
 */
export class UpstreamPools {
  private pools = new Map<string, UpstreamPool>();
  /** Pools of removed or changed upstreams, finishing their requests in flight, and their close. */
  private readonly draining = new Map<Pool | Http2Origin, Promise<void>>();

  private readonly unsubscribe: () => void;

  constructor(private readonly options: UpstreamPoolsOptions) {
    // After a renewal no request leaves on a connection made with the old certificate: a kept-alive HTTP/1.1
    // connection busy all the time would never drain, and once the old certificate expires the peer refuses its next
    // request (403 `peer expired`). An HTTP/1.1 upstream gets a new pool (the old one finishes its requests in flight
    // and closes); an HTTP/2 upstream's connection is retired (its streams finish there) and the next request opens
    // a new one.
    this.unsubscribe = options.identity.onChange(() => {
      for (const [name, held] of this.pools) {
        if (held.pool instanceof Http2Origin) {
          held.pool.retire();
          continue;
        }
        const old = held.pool;
        held.pool = this.newPool(held.upstream);
        this.retire(name, old);
      }
    });
  }

  /** The pool of the upstream named `name`, if there is one. */
  get(name: string): UpstreamPool | undefined {
    return this.pools.get(name);
  }

  /**
   * Replaces the peer services (hot reload). An upstream whose address, SPIFFE ID, timeout and protocol are unchanged
   * keeps its pool (open connections, cached TLS sessions) and its retry budget. Returns the names of the upstreams
   * whose pool was retired.
   */
  replace(upstreams: readonly MeshUpstream[]): string[] {
    const next = new Map<string, UpstreamPool>();
    for (const upstream of upstreams) {
      const held = this.pools.get(upstream.name);
      const same =
        held !== undefined &&
        held.upstream.address === upstream.address &&
        held.upstream.spiffeId === upstream.spiffeId &&
        held.upstream.timeoutMs === upstream.timeoutMs && // the connector's handshake timeout comes from it
        (held.upstream.protocol ?? 'http1') === (upstream.protocol ?? 'http1');
      if (same) {
        // The same entry: its requests in flight (the retry budget's base) and, unless its retry settings changed, its
        // retries under way stay counted across the reload (a new policy would hand out a whole budget again).
        if (!sameRetries(held.upstream, upstream)) held.retry = retryPolicy(upstream);
        held.upstream = { ...upstream };
        next.set(upstream.name, held);
        continue;
      }
      next.set(upstream.name, {
        upstream: { ...upstream },
        pool: this.newPool(upstream),
        retry: retryPolicy(upstream),
        inFlight: 0,
      });
    }
    const retired = [...this.pools].filter(([name, held]) => next.get(name)?.pool !== held.pool);
    this.pools = next;
    for (const [name, { pool }] of retired) this.retire(name, pool);
    return retired.map(([name]) => name);
  }

  /** Lets a pool no request goes to any more finish the requests in flight on it, then close. */
  private retire(name: string, pool: Pool | Http2Origin): void {
    const closing = pool
      .close()
      .catch((err: unknown) =>
        this.options.logger.warn({ err: (err as Error).message, upstream: name }, 'pool close failed'),
      )
      .finally(() => this.draining.delete(pool));
    this.draining.set(pool, closing);
  }

  /**
   * Destroys every pool, the retired ones still draining too (a request still waiting on a peer has no caller left;
   * an HTTP/2 connection's streams are reset rather than awaited).
   */
  async destroy(): Promise<void> {
    this.unsubscribe();
    const pools = [...[...this.pools.values()].map(({ pool }) => pool), ...this.draining.keys()];
    await Promise.all(pools.map((pool) => pool.destroy()));
    await Promise.all([...this.draining.values()]);
  }

  private newPool(upstream: MeshUpstream): Pool | Http2Origin {
    const { options } = this;
    const h2 = upstream.protocol === 'h2';
    const timeoutMs = Math.min(upstream.timeoutMs ?? 10_000, 10_000);
    const connect = mtlsConnector({
      identity: options.identity,
      checker: options.checker,
      expected: expectSpiffeId(upstream.spiffeId),
      stats: options.stats,
      // The TCP and TLS handshake within the upstream's timeout (at most 10 s): retries multiply it.
      timeoutMs,
      alpn: h2 ? ['h2'] : ['http/1.1'],
    });
    if (h2) {
      const origin = `https://${upstream.address}`;
      return new Http2Origin(origin, {
        connectTimeout: timeoutMs,
        idleTimeout: 30_000,
        authorityFromHost: true,
        connect: originConnector(connect, origin),
      });
    }
    return new Pool(`https://${upstream.address}`, {
      connect,
      connections: options.connections ?? 32,
      keepAliveTimeout: 30_000,
      ...(options.maxRequestsPerConnection ? { maxRequestsPerClient: options.maxRequestsPerConnection } : {}),
    });
  }
}

function retryPolicy(upstream: MeshUpstream): RetryPolicy {
  return new RetryPolicy(upstream.retries ?? SIDECAR_RETRIES, upstream.protocol === 'h2');
}

function sameRetries(a: MeshUpstream, b: MeshUpstream): boolean {
  return JSON.stringify(a.retries ?? SIDECAR_RETRIES) === JSON.stringify(b.retries ?? SIDECAR_RETRIES);
}
