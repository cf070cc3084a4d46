import { GatehouseError, isGatehouseError, type RecordStore } from '../core/index.js';
import { checkKeyName, type KeyRecord } from './key_policy.js';

/** The collection of named keys (one record per key, its versions inside). */
export const KEYS_COLLECTION = 'kms_keys';

const MAX_ATTEMPTS = 5;

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
 * Applies the pure `change` to the stored key and writes it back guarded by the version it read, re-reading and
 * re-applying when another writer got there first. `change` returning its argument unchanged writes nothing.
 *
 * @example
 * const rec = await updateKey(store, 'orders', (current) => withRestored(current));
 */
export async function updateKey(
  store: RecordStore,
  name: string,
  change: (rec: KeyRecord) => KeyRecord,
): Promise<KeyRecord> {
  for (let attempt = 1; ; attempt++) {
    const stored = await loadStored(store, name);
    const next = change(stored.value);
    if (next === stored.value) return next;
    try {
      await store.write([
        { op: 'update', collection: KEYS_COLLECTION, key: name, value: next, expectVersion: stored.version },
      ]);
      return next;
    } catch (err) {
      if (!isGatehouseError(err, 'ERR_STORE_CONFLICT') || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}
