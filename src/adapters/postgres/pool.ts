import pg from 'pg';
import type { Logger } from '../../core/index.js';

/** TLS towards PostgreSQL: `false` for none, or verified TLS 1.3 with an optional CA bundle (PEM). */
export type PostgresSsl = false | { ca?: string | Buffer };

/**
 * The `pg` client settings for `url`: TLS verified against `ssl.ca` (or the system roots), TLS 1.3 only, and a
 * bounded connect timeout so that an unreachable server fails fast with ERR_STORE_UNAVAILABLE.
 *
 * @example
 * const client = new pg.Client(postgresClientConfig(url, false));
 */
export function postgresClientConfig(url: string, ssl: PostgresSsl, connectTimeoutMs = 10_000): pg.ClientConfig {
  return {
    connectionString: url,
    ssl: ssl === false ? false : { rejectUnauthorized: true, minVersion: 'TLSv1.3', ...(ssl.ca ? { ca: ssl.ca } : {}) },
    connectionTimeoutMillis: connectTimeoutMs,
    application_name: 'gatehouse',
  };
}

/**
 * A connection pool of at most `poolSize` clients; errors of idle clients are logged instead of crashing the process.
 *
 * @example
 * const pool = createPostgresPool({ url, ssl: false, poolSize: 10, logger });
 */
export function createPostgresPool(options: {
  url: string;
  ssl: PostgresSsl;
  poolSize: number;
  logger: Logger;
  connectTimeoutMs?: number;
}): pg.Pool {
  const pool = new pg.Pool({
    ...postgresClientConfig(options.url, options.ssl, options.connectTimeoutMs),
    max: options.poolSize,
  });
  pool.on('error', (err) => {
    options.logger.warn({ code: (err as { code?: string }).code, err: err.message }, 'idle postgres connection failed');
  });
  return pool;
}
