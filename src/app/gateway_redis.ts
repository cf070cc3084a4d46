import { RedisLimiterStore } from '../adapters/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../core/index.js';
import { openRedis } from './redis_connection.js';

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
  const redis = openRedis(config, logger, 'gateway');
  if (redis === undefined) return undefined;
  const store = new RedisLimiterStore({ redis, keyPrefix: `${config.redis.keyPrefix}gw:` });
  return {
    store,
    close: async () => {
      await store.close();
      redis.disconnect();
    },
  };
}
