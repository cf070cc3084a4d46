import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { StoredRecord } from '../../core/index.js';
import { quoteSchema } from './advisory_key.js';

/** A row of the records table as pg returns it (BIGINT columns as strings). */
export interface Row {
  key: string;
  value: string;
  version: string;
  expires_at: string | null;
}

/** The columns every records query selects, in {@link Row}'s order. */
export const COLUMNS = 'key, value, version, expires_at';

/**
 * The fixed statements of one schema, named so that each connection prepares them once (the name carries a hash of
 * the schema: two stores on one pool never share a prepared statement).
 *
 * @example
 * const sql = statements('gatehouse');
 * await pool.query({ ...sql.get, values: [collection, key, now] });
 */
export function statements(schema: string) {
  const s = quoteSchema(schema);
  const tag = createHash('sha256').update(schema).digest('hex').slice(0, 12);
  const named = (name: string, text: string): pg.QueryConfig => ({ name: `gh_${tag}_${name}`, text });
  const live = '(expires_at IS NULL OR expires_at > $3)';
  const liveOld = `(${s}.records.expires_at IS NULL OR ${s}.records.expires_at > $5)`;
  return {
    get: named('get', `SELECT ${COLUMNS} FROM ${s}.records WHERE collection = $1 AND key = $2 AND ${live}`),
    list: `SELECT ${COLUMNS} FROM ${s}.records WHERE collection = $1 AND (expires_at IS NULL OR expires_at > $2)`,
    lock: named('lock', `SELECT ${COLUMNS} FROM ${s}.records WHERE collection = $1 AND key = $2 FOR UPDATE`),
    insert: named(
      'insert',
      `INSERT INTO ${s}.records (collection, key, value, version, expires_at) VALUES ($1, $2, $3, 1, $4)
       ON CONFLICT (collection, key) DO UPDATE SET value = excluded.value, version = 1, expires_at = excluded.expires_at
       WHERE NOT ${liveOld} RETURNING ${COLUMNS}`,
    ),
    upsert: named(
      'upsert',
      `INSERT INTO ${s}.records (collection, key, value, version, expires_at) VALUES ($1, $2, $3, 1, $4)
       ON CONFLICT (collection, key) DO UPDATE SET value = excluded.value,
         version = CASE WHEN ${liveOld} THEN ${s}.records.version + 1 ELSE 1 END,
         expires_at = CASE WHEN $6::boolean THEN excluded.expires_at
                           WHEN ${liveOld} THEN ${s}.records.expires_at ELSE NULL END
       RETURNING ${COLUMNS}`,
    ),
    update: named(
      'update',
      `UPDATE ${s}.records SET value = $3, version = $4, expires_at = $5 WHERE collection = $1 AND key = $2`,
    ),
    delete: named('delete', `DELETE FROM ${s}.records WHERE collection = $1 AND key = $2`),
    increment: named(
      'increment',
      `INSERT INTO ${s}.counters (collection, key, value) VALUES ($1, $2, $3)
       ON CONFLICT (collection, key) DO UPDATE SET value = ${s}.counters.value + excluded.value RETURNING value`,
    ),
    counter: named('counter', `SELECT value FROM ${s}.counters WHERE collection = $1 AND key = $2`),
    purge: named('purge', `DELETE FROM ${s}.records WHERE expires_at IS NOT NULL AND expires_at <= $1`),
  };
}

/**
 * A BIGINT milliseconds column as a number (null stays null).
 *
 * @example
 * toMs(row.expires_at); // 1767225600000 or null
 */
export function toMs(value: string | null): number | null {
  return value === null ? null : Number(value);
}

/**
 * A records row as a StoredRecord (the JSON text parsed).
 *
 * @example
 * const record = toRecord<Client>('clients', rows[0]);
 */
export function toRecord<T>(collection: string, row: Row): StoredRecord<T> {
  return {
    collection,
    key: row.key,
    value: JSON.parse(row.value) as T,
    version: Number(row.version),
    expiresAt: toMs(row.expires_at),
  };
}
