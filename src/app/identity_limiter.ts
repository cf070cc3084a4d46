import type { Redis } from 'ioredis';
import { RedisLimiterStore } from '../adapters/index.js';
import type { Config } from '../config/index.js';
import type { Clock, Logger } from '../core/index.js';
import { FallbackLimiterStore, MemoryLimiterStore, type LimiterStore } from '../ratelimit/index.js';
import { openRedis, redisAddress } from './redis_connection.js';

/** The limiter store of the identity listener, and what closing it takes. */
export interface IdentityLimiter {
  store: LimiterStore;
  /** True when the counts live in Redis (shared by every replica). */
  shared: boolean;
  /**
   * True when this start waited for Redis in vain: whatever else waits for the same Redis at this start (the
   * revocation fan-out's subscription) need not wait again.
   */
  redisDown: boolean;
  close(): Promise<void>;
}

/** Longest wait for a Redis decision, and how long decisions stay in process after a Redis failure. */
const REDIS_TIMEOUT_MS = 1000;
const REDIS_RETRY_MS = 1000;
/** How long a start waits for the first Redis connection before it serves with local counts. */
const REDIS_CONNECT_WAIT_MS = 5000;

/** Resolves once `redis` is connected, or after `ms` (the fallback then covers the gap). */
async function connected(redis: Redis, ms: number): Promise<boolean> {
  if (redis.status === 'ready') return true;
  let timer: NodeJS.Timeout | undefined;
  let onReady: (() => void) | undefined;
  const ready = await Promise.race([
    new Promise<boolean>((resolve) => {
      onReady = () => resolve(true);
      redis.once('ready', onReady);
    }),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  if (onReady) redis.off('ready', onReady);
  return ready;
}

/**
 * The store behind the identity listener's throttles (failed client authentication per address and per client, the
 * per-address flood budgets of the token, introspection, revocation, feed and device endpoints, failed sign-ins and
 * user-code entries): in memory by default; on Redis when `redis.url` is set (keys under `<redis.keyPrefix>id:`, time
 * from the Redis server), so that replicas share the counts and spreading guesses over them gains nothing. While Redis
 * does not answer (within 1 s) the counts fall back to this process for a second at a time, so limits keep applying; a
 * start waits up to 5 s for the first connection. `shared: false` keeps them in memory (a process that only verifies).
 * The CA listener's limits (`pki.limits`, keys under `ca:`) count in the same store: `gatehouse up` hands it the
 * identity listener's, a CA started alone opens its own (`for: 'ca'`, same Redis keys, so every replica shares them).
 *
 * @example
 * const limiter = await openIdentityLimiter(config, clock, logger);
 * const identity = await openIdentity({ config, records, vault, limiter: limiter.store, clock, logger });
 */
export async function openIdentityLimiter(
  config: Config,
  clock: Clock,
  logger: Logger,
  options: { shared: boolean; for?: 'identity' | 'ca' } = { shared: true },
): Promise<IdentityLimiter> {
  const local = new MemoryLimiterStore({ clock, maxKeys: config.ratelimit.memory.maxKeys });
  const who = options.for ?? 'identity';
  const redis = options.shared ? openRedis(config, logger, `${who}-limits`) : undefined;
  if (redis === undefined) return { store: local, shared: false, redisDown: false, close: () => local.close() };
  // every line about the shared store names the server it could not reach (config.redis.url is set when redis is)
  const redisLogger = logger.child({ redis: redisAddress(config.redis.url ?? '') });
  const redisDown = !(await connected(redis, REDIS_CONNECT_WAIT_MS));
  if (redisDown) {
    redisLogger.warn(
      { event: 'limiter_shared_down', waitedMs: REDIS_CONNECT_WAIT_MS },
      `Redis not reachable yet: ${who} limits are counted in process`,
    );
  }
  const shared = new RedisLimiterStore({ redis, keyPrefix: `${config.redis.keyPrefix}id:` });
  const store = new FallbackLimiterStore({
    shared,
    local,
    clock,
    logger: redisLogger,
    timeoutMs: REDIS_TIMEOUT_MS,
    retryMs: REDIS_RETRY_MS,
  });
  return {
    store,
    shared: true,
    redisDown,
    close: async () => {
      await store.close();
      await shared.close();
      redis.disconnect();
    },
  };
}
