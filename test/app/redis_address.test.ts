import { describe, expect, it } from 'vitest';
import { openIdentityLimiter } from '../../src/app/identity_limiter.js';
import { redisAddress } from '../../src/app/redis_connection.js';
import { openRevocationFanout } from '../../src/app/revocation_fanout.js';
import { loadConfig } from '../../src/config/index.js';
import { MemoryLogger, systemClock } from '../../src/core/index.js';

describe('redisAddress', () => {
  it('names host and port, never the user or password', () => {
    expect(redisAddress('rediss://user:s3cret@cache.internal:6380/0')).toBe('cache.internal:6380');
    expect(redisAddress('redis://:s3cret@10.0.0.7')).toBe('10.0.0.7:6379');
    expect(redisAddress('redis://[::1]:6390')).toBe('[::1]:6390');
    expect(redisAddress('/var/run/redis/redis.sock')).toBe('/var/run/redis/redis.sock');
  });
});

describe('Redis that does not answer at start', () => {
  // port 1 on loopback: refused at once, so the start waits its whole connect budget and says so
  const config = loadConfig({
    overrides: { redis: { url: 'redis://:s3cret@127.0.0.1:1', keyPrefix: 'redis-address-test:' } },
  });

  it('the limiter and revocation warnings name the server (not its password)', async () => {
    const logger = new MemoryLogger();
    const limiter = await openIdentityLimiter(config, systemClock, logger);
    const fanout = openRevocationFanout(config, logger);
    try {
      await fanout?.bus.subscribe(() => undefined);
      const down = logger.lines.find((l) => l.event === 'limiter_shared_down');
      expect(down?.['redis']).toBe('127.0.0.1:1');
      const pending = logger.lines.find((l) => l.event === 'revocation_bus_pending');
      expect(pending?.['redis']).toBe('127.0.0.1:1');
      expect(JSON.stringify(logger.lines)).not.toContain('s3cret');
    } finally {
      await fanout?.close();
      await limiter.close();
    }
  }, 30_000);
});
