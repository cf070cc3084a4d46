import { createHash } from 'node:crypto';
import { GatehouseError } from '../../core/index.js';

/**
 * A stable signed 64-bit advisory-lock key for `name` within `namespace` (first 8 bytes of SHA-256), as the decimal
 * string PostgreSQL takes as `$1::bigint`. The same inputs give the same key in every process and version.
 *
 * @example
 * await client.query('SELECT pg_try_advisory_lock($1::bigint)', [advisoryKey('gatehouse', 'lease:cleanup')]);
 */
export function advisoryKey(namespace: string, name: string): string {
  const digest = createHash('sha256').update(`gatehouse\u0000${namespace}\u0000${name}`, 'utf8').digest();
  return digest.readBigInt64BE(0).toString();
}

/**
 * Quotes a schema name for SQL after checking it is a plain lowercase identifier (ERR_CONFIG_INVALID otherwise).
 *
 * @example
 * quoteSchema('gatehouse'); // '"gatehouse"'
 */
export function quoteSchema(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message: `storage.postgres.schema: expected a lowercase SQL identifier, got ${JSON.stringify(schema)}`,
    });
  }
  return `"${schema}"`;
}
