import { readFileSync } from 'node:fs';
import { connectionTls, resolveInDataDir, type Config } from '../config/index.js';
import {
  GatehouseError,
  isGatehouseError,
  type Clock,
  type Leases,
  type Logger,
  type RecordStore,
} from '../core/index.js';
import { PostgresLeases } from './postgres/leases.js';
import type { PostgresSsl } from './postgres/pool.js';
import { PostgresRecordStore } from './postgres/record_store.js';
import { SqliteLeases } from './sqlite/leases.js';
import { SqliteRecordStore } from './sqlite/record_store.js';

/** The storage a running gatehouse uses: records, leases, and one way to close both. */
export interface Storage {
  records: RecordStore;
  leases: Leases;
  close(): Promise<void>;
}

/**
 * Opens the storage that `config.storage.kind` names: SQLite in the data directory (the directory must exist; leases
 * under `<dataDir>/leases/`), or PostgreSQL (TLS per `storage.postgres.tls`, with a warning when it is disabled
 * towards a non-loopback host).
 *
 * @example
 * const storage = await openStorage(config, { clock: systemClock, logger });
 * await storage.records.get('kms_keys', 'orders');
 */
export async function openStorage(config: Config, deps: { clock: Clock; logger: Logger }): Promise<Storage> {
  const { clock } = deps;
  const logger = deps.logger.child({ component: 'storage' });
  if (config.storage.kind === 'sqlite') {
    const file = resolveInDataDir(config, config.storage.sqlite.file);
    const records = SqliteRecordStore.open({ file, clock, busyTimeoutMs: config.storage.sqlite.busyTimeout, logger });
    const leases = new SqliteLeases({ dir: resolveInDataDir(config, 'leases') });
    return { records, leases, close: () => closeBoth(records, leases) };
  }
  const { url, schema, poolSize, tls: mode, caFile } = config.storage.postgres;
  if (!url) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message: 'config: storage.postgres.url: required when storage.kind is postgres',
    });
  }
  const tls = connectionTls(url, mode);
  if (tls.insecure) {
    logger.warn(
      { setting: 'storage.postgres.tls' },
      'TLS to PostgreSQL is disabled towards a non-loopback host: credentials and data travel in clear; set storage.postgres.tls to auto or require',
    );
  }
  const ssl: PostgresSsl = tls.tls ? (caFile ? { ca: readFileSync(resolveInDataDir(config, caFile)) } : {}) : false;
  let records: PostgresRecordStore;
  try {
    records = await PostgresRecordStore.open({ url, schema, poolSize, ssl, clock, logger });
  } catch (err) {
    throw unusablePostgres(err, url, schema);
  }
  const leases = new PostgresLeases({ url, ssl, schema, logger });
  return { records, leases, close: () => closeBoth(records, leases) };
}

async function closeBoth(records: RecordStore, leases: Leases): Promise<void> {
  try {
    await leases.close();
  } finally {
    await records.close();
  }
}

/**
 * A start that cannot use PostgreSQL says where and why, naming the key to check: `storage.postgres.url: cannot use
 * PostgreSQL at db.internal:5432/gatehouse (schema gatehouse): connect ECONNREFUSED 10.0.0.5:5432` (the driver's own
 * words: the server, database, role or schema, never the password, which the URL shown leaves out).
 */
function unusablePostgres(err: unknown, url: string, schema: string): unknown {
  if (!isGatehouseError(err, 'ERR_STORE_UNAVAILABLE')) return err;
  const cause = err.cause instanceof Error ? err.cause.message.split('\n')[0] : undefined;
  return new GatehouseError('ERR_STORE_UNAVAILABLE', {
    message: `storage.postgres.url: cannot use PostgreSQL at ${serverOf(url)} (schema ${schema}): ${cause || err.message}`,
    ...(err.detail === undefined ? {} : { detail: err.detail }),
    cause: err,
  });
}

/** `host:port/database` of a connection URL (a Unix socket path as written, up to its first space). */
function serverOf(url: string): string {
  if (url.startsWith('/')) return url.split(' ')[0] ?? url;
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}
