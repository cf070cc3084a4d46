import { Redis } from 'ioredis';
import { RedisRevocationBus } from '../adapters/index.js';
import { connectionTls, type Config } from '../config/index.js';
import type { Logger } from '../core/index.js';

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
  const url = config.redis.url;
  if (url === undefined) return undefined;
  const tls = connectionTls(url, config.redis.tls);
  const redis = new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    ...(tls.tls ? { tls: { minVersion: 'TLSv1.3' as const } } : {}),
  });
  redis.on('error', (err: Error) =>
    logger.debug({ event: 'revocation_redis_error', reason: err.message }, 'redis error'),
  );
  const bus = new RedisRevocationBus({ redis, keyPrefix: config.redis.keyPrefix, logger });
  return { bus, close: async () => redis.disconnect() };
}
