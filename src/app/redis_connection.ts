import { Redis } from 'ioredis';
import { connectionTls, type Config } from '../config/index.js';
import type { Logger } from '../core/index.js';

/**
 * Where `redis.url` points, for log lines: `host:port` (never the user name or password), or a socket path as given.
 *
 * @example
 * redisAddress('rediss://:secret@cache.internal:6380/0'); // 'cache.internal:6380'
 */
export function redisAddress(url: string): string {
  if (url.startsWith('/')) return url;
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '6379'}`;
  } catch {
    return '(not a URL)';
  }
}

/**
 * The one way gatehouse opens a Redis connection from `redis.url`: TLS 1.3 unless the host is loopback (or as
 * `redis.tls` says), a loud warning when TLS is disabled towards a remote host, commands that fail fast while
 * disconnected (no offline queue) and reconnection in the background. `purpose` names the connection in logs.
 *
 * @example
 * const redis = openRedis(config, logger, 'gateway'); // undefined without redis.url
 */
export function openRedis(config: Config, logger: Logger, purpose: string): Redis | undefined {
  const url = config.redis.url;
  if (url === undefined) return undefined;
  const tls = connectionTls(url, config.redis.tls);
  if (tls.insecure) {
    logger.warn(
      { event: 'redis_insecure', purpose, redis: redisAddress(url) },
      'INSECURE: Redis without TLS on a non-loopback host; set redis.tls to auto or require',
    );
  }
  const redis = new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    ...(tls.tls ? { tls: { minVersion: 'TLSv1.3' as const } } : {}),
  });
  redis.on('error', (err: Error) =>
    logger.debug({ event: 'redis_error', purpose, redis: redisAddress(url), reason: err.message }, 'redis error'),
  );
  return redis;
}
