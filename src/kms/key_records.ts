import { GatehouseError, type RecordStore, type WriteOp } from '../core/index.js';
import { checkKeyName, type KeyRecord } from './key_policy.js';

/** The collection of named keys (one record per key, its versions inside). */
export const KEYS_COLLECTION = 'kms_keys';

/**
 * The stored key named `name` (ERR_KMS_KEY_NAME_INVALID, ERR_KMS_KEY_NOT_FOUND).
 *
 * @example
 * const rec = await loadKey(store, 'orders');
 */
export async function loadKey(store: RecordStore, name: string): Promise<KeyRecord> {
  return (await loadStored(store, name)).value;
}

async function loadStored(store: RecordStore, name: string) {
  checkKeyName(name);
  const stored = await store.get<KeyRecord>(KEYS_COLLECTION, name);
  if (!stored) throw new GatehouseError('ERR_KMS_KEY_NOT_FOUND', { detail: `key ${name}` });
  return stored;
}

/**
 * Plans applying the pure `change` to the stored key: the update op, guarded by the version it read, and the new
 * record. `change` returning its argument unchanged plans nothing. Run it inside a retrying writer, which re-plans
 * when another writer got there first.
 *
 * @example
 * const rec = await writer.write(() => planKeyUpdate(store, 'orders', (current) => withRestored(current)));
 */
export async function planKeyUpdate(
  store: RecordStore,
  name: string,
  change: (rec: KeyRecord) => KeyRecord,
): Promise<{ ops: WriteOp[]; result: KeyRecord }> {
  const stored = await loadStored(store, name);
  const next = change(stored.value);
  if (next === stored.value) return { ops: [], result: next };
  return {
    ops: [{ op: 'update', collection: KEYS_COLLECTION, key: name, value: next, expectVersion: stored.version }],
    result: next,
  };
}
