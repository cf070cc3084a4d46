import { MemoryRecordStore } from '../../src/adapters/index.js';
import { ManualClock, MemoryLogger, type RecordStore } from '../../src/core/index.js';
import { Keyring, RootKey, type KeyringOptions } from '../../src/kms/index.js';
export { codeOf } from '../support/error_code.js';

/** A fresh in-memory store, clock, logger and root key for one test. */
export function fixture(): { store: MemoryRecordStore; clock: ManualClock; logger: MemoryLogger; root: RootKey } {
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  return { store: new MemoryRecordStore({ clock }), clock, logger: new MemoryLogger(), root: RootKey.generate() };
}

/** Opens a keyring with small usage numbers unless told otherwise. */
export function openKeyring(
  parts: { store: RecordStore; clock: ManualClock; logger?: MemoryLogger; root: RootKey },
  options: Partial<KeyringOptions> = {},
): Promise<Keyring> {
  return Keyring.open({ usageBlock: 10, maxEncryptionsPerVersion: 1_000, ...parts, ...options });
}

/** The raw JSON text of every record in the keyring's collections. */
export async function rawRecords(store: RecordStore): Promise<string[]> {
  const texts: string[] = [];
  for (const collection of ['kms_keys', 'kms_secrets', 'kms_meta']) {
    for (const record of await store.list(collection)) texts.push(JSON.stringify(record));
  }
  return texts;
}
