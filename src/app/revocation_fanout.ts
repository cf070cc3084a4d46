import { RedisRevocationBus } from '../adapters/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../core/index.js';
import { openRedis } from './redis_connection.js';

/** The Redis revocation fan-out of one process, and the connection it owns. */
export interface RevocationFanout {
  bus: RedisRevocationBus;
  close(): Promise<void>;
}

/**
 * Opens the revocation fan-out when `redis.url` is set: revocations are published on `<redis.keyPrefix>revocations`
 * and every replica (and every verifier subscribed to the same channel) applies them at once. Without Redis, replicas
 * read each other's revocations from the store every `identity.revocation.refreshEvery`.
 *
 * @example
 * const fanout = openRevocationFanout(config, logger); // undefined without redis.url
 */
export function openRevocationFanout(config: Config, logger: Logger): RevocationFanout | undefined {
  const redis = openRedis(config, logger, 'revocations');
  if (redis === undefined) return undefined;
  const bus = new RedisRevocationBus({ redis, keyPrefix: config.redis.keyPrefix, logger });
  return { bus, close: async () => redis.disconnect() };
}
