import { Pool } from 'undici';
import type { Clock, Logger } from '../core/index.js';
import { Http2Origin, originConnector, type Http2OriginOptions } from '../mesh/index.js';
import type { UpstreamConfig } from './gateway_config.js';
import type { GatewayMetrics } from './gateway_metrics.js';
import { HealthChecker } from './health_check.js';
import { checkClients } from './health_check_dispatch.js';
import { upstreamConnector, type UpstreamMesh } from './upstream_mtls.js';

/** How an upstream's hosts are spoken to: a client per host and their active health checks. */
export interface UpstreamHosts {
  /** One per host: an undici keep-alive `Pool` (http/1.1) or an {@link Http2Origin} (`protocol: h2c` or `h2`). */
  pools: (Pool | Http2Origin)[];
  /** Active health checks of the hosts (`healthCheck`), started. */
  health: HealthChecker | undefined;
  /** Stops retiring HTTP/2 mesh connections on SVID renewal (set for `mtls` + `h2` only). */
  unsubscribe: (() => void) | undefined;
}

/**
 * Builds the clients of an upstream's hosts: the mesh's mTLS connector (`mtls`), the `caFile`'s trust anchors, or
 * undici's and node's defaults; HTTP/1.1 pools or HTTP/2 origins; the health checks over the same connections, whose
 * verdicts go to `onHealth`. Into the mesh, no request leaves on a connection made with an older SVID once the
 * gateway's is renewed (a kept-alive connection busy all the time would carry the old certificate until the peer
 * refuses it as expired): an HTTP/1.1 host gets a new pool (the old one finishes its requests in flight and closes),
 * an HTTP/2 connection is retired (its streams finish there), and the next request opens one presenting the new
 * certificate, as the sidecar's do; the health checks' too. `pools` is replaced in place.
 *
 * @example
 * const hosts = upstreamHosts(config, deps, (host, healthy) => outliers.setDown(host, !healthy));
 */
export function upstreamHosts(
  config: UpstreamConfig,
  deps: { clock: Clock; logger: Logger; metrics: GatewayMetrics; mesh?: UpstreamMesh; ca?: string },
  onHealth: (host: number, healthy: boolean) => void,
): UpstreamHosts {
  const connect = upstreamConnector(config, deps.mesh, deps.clock); // mTLS with the gateway's SVID, or plain
  // How every connection to a host is made: the mesh connector, the caFile's trust anchors, or undici's default.
  const connectOption = connect ? { connect } : deps.ca === undefined ? {} : { connect: { ca: deps.ca } };
  // The same for an HTTP/2 host: the mesh connector offering ALPN h2, or node's TLS with the caFile's anchors.
  const http2Connect = (origin: string): Partial<Http2OriginOptions> =>
    connect ? { connect: originConnector(connect, origin) } : deps.ca === undefined ? {} : { ca: deps.ca };
  const http1Pool = (origin: string) =>
    new Pool(origin, {
      connections: config.connections,
      headersTimeout: config.timeout,
      bodyTimeout: config.timeout,
      keepAliveTimeout: 4_000,
      ...connectOption,
    });
  const pools = config.hosts.map((origin) =>
    config.protocol !== 'http/1.1'
      ? new Http2Origin(origin, {
          connectTimeout: Math.min(config.timeout, 10_000),
          idleTimeout: 60_000,
          ...http2Connect(origin),
        })
      : http1Pool(origin),
  );
  const check = config.healthCheck;
  const health =
    check === undefined
      ? undefined
      : new HealthChecker(
          config.name,
          checkClients(config.hosts, check.timeout, connectOption, {
            http2: config.protocol !== 'http/1.1',
            http2Connect,
          }),
          check,
          {
            logger: deps.logger,
            metrics: deps.metrics,
            onChange: onHealth,
          },
        );
  health?.start();
  const unsubscribe =
    connect !== undefined && deps.mesh !== undefined
      ? deps.mesh.identity.onChange(() => {
          pools.forEach((pool, i) => {
            if (pool instanceof Http2Origin) return pool.retire();
            pools[i] = http1Pool(config.hosts[i] as string);
            void pool.close().catch(() => {}); // its requests in flight finish first
          });
          health?.retire();
        })
      : undefined;
  return { pools, health, unsubscribe };
}
