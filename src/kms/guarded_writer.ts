import { GatehouseError, isGatehouseError, type RecordStore, type StoredRecord, type WriteOp } from '../core/index.js';
import { KeyedMutex } from './mutex.js';
import { META_COLLECTION, ROOT_CHECK_KEY, type RootCheckRecord } from './root_check.js';
import { sealedFingerprint } from './sealer.js';

const MAX_ATTEMPTS = 5;

/** A planned write: its operations (none to write nothing) and what the caller gets back. */
export interface WritePlan<T> {
  ops: WriteOp[];
  result: T;
}

/**
 * Every write of the keyring goes through here. Writes are serialized in this process, and each one also rewrites
 * the root-check record guarded by the version last seen, so that a write can only land while the root key this
 * process seals with is still the root key of the store: if another process rotated the root meanwhile, the write
 * fails as a whole and ERR_ROOT_KEY_WRONG says to restart with the new root key. Other conflicts re-plan and retry.
 *
 * @example
 * const writer = new GuardedWriter(store, rootCheck, () => sealers.current.fingerprint);
 * await writer.write(async () => ({ ops: [{ op: 'upsert', collection, key, value }], result: undefined }));
 */
export class GuardedWriter {
  private readonly lock = new KeyedMutex();

  constructor(
    private readonly store: RecordStore,
    private check: StoredRecord<RootCheckRecord>,
    private readonly fingerprint: () => string,
  ) {}

  /** Plans (again after each conflict) and writes the plan together with the root assertion. */
  write<T>(plan: () => Promise<WritePlan<T>>): Promise<T> {
    return this.lock.run('', async () => {
      for (let attempt = 1; ; attempt++) {
        const { ops, result } = await plan();
        if (ops.length === 0) return result;
        try {
          const written = await this.store.write([...ops, this.assertion()]);
          this.check = written[written.length - 1] as StoredRecord<RootCheckRecord>;
          return result;
        } catch (err) {
          if (!isGatehouseError(err, 'ERR_STORE_CONFLICT') || attempt >= MAX_ATTEMPTS) throw err;
          await this.refresh();
        }
      }
    });
  }

  /**
   * Runs a root rotation under the write lock; `section` returns the root-check record it wrote, which becomes the
   * one later writes assert.
   */
  exclusive<T>(section: () => Promise<{ check: StoredRecord<RootCheckRecord>; result: T }>): Promise<T> {
    return this.lock.run('', async () => {
      const { check, result } = await section();
      this.check = check;
      return result;
    });
  }

  private assertion(): WriteOp {
    const { value, version } = this.check;
    return { op: 'update', collection: META_COLLECTION, key: ROOT_CHECK_KEY, value, expectVersion: version };
  }

  private async refresh(): Promise<void> {
    const current = await this.store.get<RootCheckRecord>(META_COLLECTION, ROOT_CHECK_KEY);
    if (!current || sealedFingerprint(current.value.sealed) !== this.fingerprint()) {
      throw new GatehouseError('ERR_ROOT_KEY_WRONG', {
        detail: 'the root key was rotated by another process: restart with the new root key',
      });
    }
    this.check = current;
  }
}
