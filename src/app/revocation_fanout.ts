import { RedisRevocationBus } from '../adapters/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../core/index.js';
import type { RevocationSubscribe } from '../resource/index.js';
import { openRedis, redisAddress } from './redis_connection.js';

/** The Redis revocation fan-out of one process, and the connection it owns. */
export interface RevocationFanout {
  bus: RedisRevocationBus;
  close(): Promise<void>;
}

/**
 * Opens the revocation fan-out when `redis.url` is set: revocations are published on `<redis.keyPrefix>revocations`
 * and every replica (and every verifier subscribed to the same channel) applies them at once. Without Redis, replicas
 * read each other's revocations from the store every `identity.revocation.refreshEvery`. `redisDown`: this start
 * already waited for Redis in vain (the identity limiter did), so the subscription does not wait for it again.
 *
 * @example
 * const fanout = openRevocationFanout(config, logger, { redisDown: limiter.redisDown }); // undefined without redis.url
 */
export function openRevocationFanout(
  config: Config,
  logger: Logger,
  options: { redisDown?: boolean } = {},
): RevocationFanout | undefined {
  const redis = openRedis(config, logger, 'revocations');
  if (redis === undefined) return undefined;
  const bus = new RedisRevocationBus({
    redis,
    keyPrefix: config.redis.keyPrefix,
    logger: logger.child({ redis: redisAddress(config.redis.url ?? '') }),
    ...(options.redisDown ? { subscribeWaitMs: 0 } : {}),
  });
  return { bus, close: async () => redis.disconnect() };
}

/**
 * The gateway's side of the fan-out, for its JWT verifier's `revocation.subscribe`: when `redis.url` is set, each
 * subscription opens its own Redis connection, listens on `<redis.keyPrefix>revocations` (what the identity replicas
 * publish on) and closes it when the verifier unsubscribes; undefined without Redis. Revocations then reach the
 * gateway's deny list at once; the feed it polls stays the source of truth (a message lost while Redis is away is read
 * there at the next poll).
 *
 * @example
 * const subscribe = revocationPush(config, logger); // undefined without redis.url
 * createVerifier({ ..., revocation: { mode: 'poll', ..., ...(subscribe ? { subscribe } : {}) } });
 */
export function revocationPush(config: Config, logger: Logger): RevocationSubscribe | undefined {
  if (config.redis.url === undefined) return undefined;
  return async (onItem) => {
    const fanout = openRevocationFanout(config, logger) as RevocationFanout;
    try {
      const unsubscribe = await fanout.bus.subscribe(onItem);
      logger.info(
        { event: 'revocation_push_subscribed', channel: fanout.bus.channel },
        'revocations pushed over Redis',
      );
      return async () => {
        await unsubscribe();
        await fanout.close();
      };
    } catch (err) {
      await fanout.close();
      throw err;
    }
  };
}
