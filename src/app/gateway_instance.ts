import { readFileSync } from 'node:fs';
import { resolveInDataDir, type Config } from '../config/index.js';
import type { Clock, Logger } from '../core/index.js';
import { Gateway, type Authenticator, type GatewayConfig, type UpstreamMesh } from '../gateway/index.js';
import { openGatewayRedis } from './gateway_redis.js';

/**
 * Builds the gateway with the platform's shared settings (`ratelimit.memory.maxKeys`, `http.bodyLimit`, the API key
 * header) and, when `redis.url` is set, the global limiter tier on Redis, whose close is pushed onto `cleanups`.
 * Used by `gatehouse up` and by `gatehouse gateway`.
 *
 * @example
 * const gateway = openGateway({ config, routes: config.gateway, authenticator, clock, logger, cleanups });
 */
export function openGateway(o: {
  config: Config;
  /** The gateway section to run (routes, limits, upstreams). */
  routes: GatewayConfig;
  authenticator: Authenticator;
  /** The gateway's SVID for upstreams with `mtls`. */
  mesh?: UpstreamMesh;
  clock: Clock;
  logger: Logger;
  cleanups: Array<() => Promise<void> | void>;
}): Gateway {
  const { config } = o;
  const redis = openGatewayRedis(config, o.logger);
  if (redis) o.cleanups.push(() => redis.close());
  const gateway = new Gateway({
    config: o.routes,
    clock: o.clock,
    logger: o.logger,
    authenticator: o.authenticator,
    maxKeys: config.ratelimit.memory.maxKeys,
    bodyLimit: config.http.bodyLimit,
    apiKeyHeader: config.identity.apiKeys.header,
    ...(redis ? { globalStore: redis.store } : {}),
    ...(o.mesh ? { mesh: o.mesh } : {}),
    readFile: (file) => readFileSync(resolveInDataDir(config, file), 'utf8'),
  });
  // Closed by its listener on a normal stop; this one covers a start that fails before the listener exists (health
  // checks and upstream pools would otherwise run on). Gateway.close is idempotent.
  o.cleanups.push(() => gateway.close());
  return gateway;
}
