import { Redis } from 'ioredis';
import { RedisLimiterStore } from '../adapters/index.js';
import { connectionTls, type Config } from '../config/index.js';
import type { Logger } from '../core/index.js';

/** The gateway's global limiter tier and its Redis connection. */
export interface GatewayRedis {
  store: RedisLimiterStore;
  close(): Promise<void>;
}

/**
 * Opens the global rate-limit tier when `redis.url` is set (keys under `<redis.keyPrefix>gw:`). Commands fail fast
 * while disconnected (no offline queue), so the gateway's fail-open/closed policy applies at once; ioredis keeps
 * reconnecting in the background and the gateway notices the recovery by itself.
 *
 * @example
 * const redis = openGatewayRedis(config, logger); // undefined without redis.url
 */
export function openGatewayRedis(config: Config, logger: Logger): GatewayRedis | undefined {
  const url = config.redis.url;
  if (url === undefined) return undefined;
  const tls = connectionTls(url, config.redis.tls);
  if (tls.insecure)
    logger.warn(
      { event: 'redis_insecure' },
      'INSECURE: Redis without TLS on a non-loopback host; set redis.tls to auto or require',
    );
  const redis = new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    ...(tls.tls ? { tls: { minVersion: 'TLSv1.3' as const } } : {}),
  });
  redis.on('error', (err: Error) => logger.debug({ event: 'gateway_redis_error', reason: err.message }, 'redis error'));
  const store = new RedisLimiterStore({ redis, keyPrefix: `${config.redis.keyPrefix}gw:` });
  return {
    store,
    close: async () => {
      await store.close();
      redis.disconnect();
    },
  };
}
