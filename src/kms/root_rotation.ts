import { GatehouseError, type RecordStore, type StoredRecord, type WriteOp } from '../core/index.js';
import { listAll } from './paging.js';
import { versionLabel, type KeyRecord } from './key_policy.js';
import { KEYS_COLLECTION } from './key_records.js';
import { META_COLLECTION, ROOT_CHECK_KEY, rootCheckFor, type RootCheckRecord } from './root_check.js';
import type { Sealer } from './sealer.js';
import { secretLabel, SECRETS_COLLECTION, type SecretRecord } from './secrets.js';

/** What a root rotation re-sealed. */
export interface RootRotationCounts {
  keys: number;
  versions: number;
  secrets: number;
}

/**
 * Plans a root rotation: one update per key, secret and the root-check record, each re-sealed from `open` to `next`
 * and guarded by the version it was read at, so that the caller can apply them in one atomic write.
 *
 * @example
 * const { ops, counts } = await planRootRotation(store, (blob, label) => sealer.open(blob, label), next, clock.now());
 * await store.write(ops);
 */
export async function planRootRotation(
  store: RecordStore,
  open: (blob: string, label: string) => Buffer,
  next: Sealer,
  now: number,
): Promise<{ ops: WriteOp[]; counts: RootRotationCounts }> {
  const reseal = (blob: string, label: string): string => {
    const plaintext = open(blob, label);
    try {
      return next.seal(plaintext, label);
    } finally {
      plaintext.fill(0);
    }
  };
  const ops: WriteOp[] = [];
  const counts: RootRotationCounts = { keys: 0, versions: 0, secrets: 0 };
  for (const stored of await listAll<KeyRecord>(store, KEYS_COLLECTION)) {
    const rec = stored.value;
    const versions = Object.fromEntries(
      Object.entries(rec.versions).map(([version, v]) => {
        counts.versions += 1;
        return [version, { ...v, sealed: reseal(v.sealed, versionLabel(rec.name, Number(version))) }];
      }),
    );
    counts.keys += 1;
    ops.push(update(KEYS_COLLECTION, stored, { ...rec, versions }));
  }
  for (const stored of await listAll<SecretRecord>(store, SECRETS_COLLECTION)) {
    counts.secrets += 1;
    ops.push(
      update(SECRETS_COLLECTION, stored, {
        ...stored.value,
        sealed: reseal(stored.value.sealed, secretLabel(stored.key)),
      }),
    );
  }
  const check = await store.get<RootCheckRecord>(META_COLLECTION, ROOT_CHECK_KEY);
  if (!check) throw new GatehouseError('ERR_INTERNAL', { detail: 'the keyring has no root-check record' });
  // Last on purpose: the caller takes the new root-check record from the end of the write's result.
  ops.push(update(META_COLLECTION, check, rootCheckFor(next, { createdAt: check.value.createdAt, rotatedAt: now })));
  return { ops, counts };
}

function update(collection: string, stored: StoredRecord, value: unknown): WriteOp {
  return { op: 'update', collection, key: stored.key, value, expectVersion: stored.version };
}
