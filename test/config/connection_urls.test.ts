import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { isGatehouseError } from '../../src/core/index.js';

/**
 * `redis.url` and `storage.postgres.url` are refused at load unless they are URLs of their server's scheme (or a Unix
 * socket path). A Redis address without a scheme (`cache.internal:6379`) used to be accepted: ioredis connects to that
 * host, while the TLS decision parsed no host from it and took it for loopback, so `redis.tls: auto` talked to a
 * remote Redis in clear without the insecure warning. A password in a refused URL is never quoted.
 */
function refusal(env: Record<string, string>): Error {
  try {
    loadConfig({ env: { PATH: '/bin', ...env } });
  } catch (err) {
    expect(isGatehouseError(err, 'ERR_CONFIG_INVALID')).toBe(true);
    return err as Error;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('connection URLs of PostgreSQL and Redis', () => {
  it('a Redis address without a scheme is refused, naming the key and the variable', () => {
    for (const url of ['cache.internal:6379', 'localhost:6379', 'notaurl', 'http://cache.internal:6379']) {
      const err = refusal({ GATEHOUSE_REDIS__URL: url });
      expect(err.message, url).toContain('redis.url: expected a redis:// or rediss:// URL');
      expect(err.message, url).toContain('(from GATEHOUSE_REDIS__URL)');
    }
  });

  it('a PostgreSQL URL of another scheme, or no URL at all, is refused naming the key', () => {
    for (const url of ['db.internal:5432/gatehouse', 'mysql://u@db.internal/x', 'notaurl']) {
      const err = refusal({ GATEHOUSE_STORAGE__KIND: 'postgres', GATEHOUSE_STORAGE__POSTGRES__URL: url });
      expect(err.message, url).toContain('storage.postgres.url: expected a postgres:// or postgresql:// URL');
    }
  });

  it('the password of a refused URL is not in the message', () => {
    const redis = refusal({ GATEHOUSE_REDIS__URL: 'user:s3cret-pw@cache.internal:6379' });
    expect(redis.message).not.toContain('s3cret-pw');
    expect(redis.message).toContain('got "user:***@cache.internal:6379"');
    const pg = refusal({ GATEHOUSE_STORAGE__POSTGRES__URL: 'mysql://gh:s3cret-pw@db.internal/x' });
    expect(pg.message).not.toContain('s3cret-pw');
    expect(pg.message).toContain('mysql://gh:***@db.internal/x');
  });

  it('URLs of the right scheme and Unix socket paths load', () => {
    const ok = loadConfig({
      env: {
        PATH: '/bin',
        GATEHOUSE_STORAGE__KIND: 'postgres',
        GATEHOUSE_STORAGE__POSTGRES__URL: 'postgresql://gh:pw@db.internal:5432/gatehouse?application_name=x',
        GATEHOUSE_REDIS__URL: 'rediss://:pw@cache.internal:6380/2',
      },
    });
    expect(ok.storage.postgres.url).toBe('postgresql://gh:pw@db.internal:5432/gatehouse?application_name=x');
    expect(ok.redis.url).toBe('rediss://:pw@cache.internal:6380/2');
    const sockets = loadConfig({
      overrides: { storage: { postgres: { url: '/var/run/postgresql gatehouse' } }, redis: { url: '/run/redis.sock' } },
    });
    expect(sockets.redis.url).toBe('/run/redis.sock');
  });
});
