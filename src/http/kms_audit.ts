import type { Logger } from '../core/index.js';

/** One audited KMS call. Never holds plaintext, ciphertext, context values or key material. */
export interface KmsAuditEntry {
  /** Who called (`admin` for the admin token). */
  principal: string;
  /** The OAuth client a workload certificate acted as (principal `spiffe:<id>`). */
  client?: string | undefined;
  /** `transit.encrypt`, `transit.keys.rotate`, `stream.decrypt`, ... */
  operation: string;
  key?: string | undefined;
  /** Key versions used (distinct, in order of first use). */
  versions?: number[] | undefined;
  /** `ok`, `partial`, or the error code. */
  result: string;
  /** Items in a batch call (1 for a single call). */
  batchSize?: number | undefined;
  /** Failed items of a batch call. */
  failed?: number | undefined;
  /** Names of the encryption-context keys (their values are left out). */
  contextKeys?: string[] | undefined;
}

/** Writes one structured audit line per KMS call. */
export type KmsAudit = (entry: KmsAuditEntry) => void;

/**
 * An audit writer on `logger` (a child with `audit: true, component: 'kms'`). Lines are handed to the logger (pino
 * writes asynchronously), so auditing adds no synchronous I/O to a request.
 *
 * @example
 * const audit = kmsAudit(logger);
 * audit({ principal: 'admin-token', operation: 'transit.encrypt', key: 'orders', versions: [1], result: 'ok', batchSize: 1 });
 */
export function kmsAudit(logger: Logger): KmsAudit {
  const log = logger.child({ audit: true, component: 'kms' });
  return (entry) => {
    const line: Record<string, unknown> = { principal: entry.principal, operation: entry.operation };
    if (entry.client !== undefined) line.client = entry.client;
    // `key_name`, not `key`: the process logger redacts every top-level `key` field (it may hold a secret elsewhere).
    if (entry.key !== undefined) line.key_name = entry.key;
    if (entry.versions !== undefined) line.versions = entry.versions;
    line.result = entry.result;
    if (entry.batchSize !== undefined) line.batch_size = entry.batchSize;
    if (entry.failed !== undefined && entry.failed > 0) line.failed = entry.failed;
    if (entry.contextKeys !== undefined && entry.contextKeys.length > 0) line.context_keys = entry.contextKeys;
    if (entry.result === 'ok' || entry.result === 'partial') log.info(line, 'kms call');
    else log.warn(line, 'kms call failed');
  };
}
