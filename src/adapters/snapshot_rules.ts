import { GatehouseError, type SnapshotEntry } from '../core/index.js';
import { checkName } from './write_rules.js';

/** Rows read per page by adapters that page through a snapshot. */
export const SNAPSHOT_PAGE = 1000;

/**
 * Checks one snapshot entry before an adapter restores it, returning the text to store (the JSON of a record's value,
 * or the counter's decimal value). A malformed entry is ERR_BACKUP_INVALID: it comes from an archive, not our code.
 *
 * @example
 * const text = checkSnapshotEntry({ kind: 'counter', collection: 'c', key: 'k', value: 3 }); // '3'
 */
export function checkSnapshotEntry(entry: SnapshotEntry): string {
  const bad = (what: string) =>
    new GatehouseError('ERR_BACKUP_INVALID', { message: `The backup archive is invalid: ${what}` });
  try {
    checkName(entry.collection, entry.key);
  } catch {
    throw bad('a record name is malformed');
  }
  if (entry.kind === 'counter') {
    if (!Number.isSafeInteger(entry.value)) throw bad('a counter is not an integer');
    return String(entry.value);
  }
  if (entry.kind !== 'record') throw bad('unknown entry kind');
  if (!Number.isSafeInteger(entry.version) || entry.version < 1) throw bad('a record version is malformed');
  if (entry.expiresAt !== null && !Number.isSafeInteger(entry.expiresAt)) throw bad('a record expiry is malformed');
  const text = JSON.stringify(entry.value);
  if (text === undefined) throw bad('a record value is not JSON');
  return text;
}

/**
 * The refusal of a restore into a store that already holds data.
 *
 * @example
 * if (!empty) throw restoreTargetInUse();
 */
export function restoreTargetInUse(): GatehouseError {
  return new GatehouseError('ERR_RESTORE_TARGET_IN_USE', {
    message: 'The record store is not empty: restore only into a new, empty data directory or database schema',
  });
}
