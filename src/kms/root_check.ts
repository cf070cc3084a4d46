import { GatehouseError, isGatehouseError, type RecordStore, type StoredRecord } from '../core/index.js';
import { sealedFingerprint, type Sealer } from './sealer.js';

/** The keyring's own bookkeeping collection. */
export const META_COLLECTION = 'kms_meta';
/** The key of the root-check record in {@link META_COLLECTION}. */
export const ROOT_CHECK_KEY = 'root_check';

const LABEL = 'kms_meta:root_check';
const KNOWN_VALUE = 'gatehouse root check v1';

/** The root-check record: a known value sealed under the root key, proving which root key the data belongs to. */
export interface RootCheckRecord {
  sealed: string;
  createdAt: number;
  rotatedAt: number | null;
}

/**
 * The root-check record for `sealer`'s root key (a fresh seal of the known value).
 *
 * @example
 * const value = rootCheckFor(newSealer, { createdAt: old.createdAt, rotatedAt: clock.now() });
 */
export function rootCheckFor(sealer: Sealer, times: { createdAt: number; rotatedAt: number | null }): RootCheckRecord {
  return { sealed: sealer.seal(Buffer.from(KNOWN_VALUE), LABEL), ...times };
}

/**
 * Throws ERR_ROOT_KEY_WRONG unless the root-check record opens under `sealer` to the known value.
 *
 * @example
 * verifyRootCheck(sealer, stored.value);
 */
export function verifyRootCheck(sealer: Sealer, record: RootCheckRecord): void {
  const wrong = (): GatehouseError => new GatehouseError('ERR_ROOT_KEY_WRONG');
  if (typeof record?.sealed !== 'string' || sealedFingerprint(record.sealed) !== sealer.fingerprint) throw wrong();
  let value: Buffer;
  try {
    value = sealer.open(record.sealed, LABEL);
  } catch {
    throw wrong();
  }
  if (value.toString('utf8') !== KNOWN_VALUE) throw wrong();
}

/**
 * Verifies the root-check record, or writes it on first use. Returns the stored record and whether it was created.
 *
 * @example
 * const { created, record } = await ensureRootCheck(store, sealer, clock.now());
 */
export async function ensureRootCheck(
  store: RecordStore,
  sealer: Sealer,
  now: number,
): Promise<{ created: boolean; record: StoredRecord<RootCheckRecord> }> {
  const existing = await store.get<RootCheckRecord>(META_COLLECTION, ROOT_CHECK_KEY);
  if (existing) {
    verifyRootCheck(sealer, existing.value);
    return { created: false, record: existing };
  }
  const value = rootCheckFor(sealer, { createdAt: now, rotatedAt: null });
  try {
    const [record] = await store.write([{ op: 'insert', collection: META_COLLECTION, key: ROOT_CHECK_KEY, value }]);
    return { created: true, record: record as StoredRecord<RootCheckRecord> };
  } catch (err) {
    if (!isGatehouseError(err, 'ERR_STORE_CONFLICT')) throw err;
    // Another process initialized the keyring at the same moment: its record must open under our key too.
    const raced = await store.get<RootCheckRecord>(META_COLLECTION, ROOT_CHECK_KEY);
    if (!raced) throw err;
    verifyRootCheck(sealer, raced.value);
    return { created: false, record: raced };
  }
}
