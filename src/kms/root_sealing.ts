import { GatehouseError, type Clock, type Logger, type RecordStore, type StoredRecord } from '../core/index.js';
import type { GuardedWriter } from './guarded_writer.js';
import { META_COLLECTION, ROOT_CHECK_KEY, verifyRootCheck, type RootCheckRecord } from './root_check.js';
import type { RootKey } from './root_key.js';
import { planRootRotation, type RootRotationCounts } from './root_rotation.js';
import { Sealer, sealedFingerprint, type SealerRing } from './sealer.js';

/**
 * The keyring's root key changes: a rotation made here (every key version, every secret and the root-check record
 * re-sealed under the new key in one atomic write) and the adoption of a rotation another process made. Both run
 * exclusively with every other keyring write, then seal new data with the new key (the previous one stays in the
 * ring to open what was read before) and call `switched` so that cached records are dropped.
 *
 * @example
 * const root = new RootSealing({ store, clock, logger, sealers, writer, switched: () => records.clear() });
 * await root.rotate(RootKey.generate());
 */
export class RootSealing {
  constructor(
    private readonly o: {
      store: RecordStore;
      clock: Clock;
      logger: Logger;
      sealers: SealerRing;
      writer: GuardedWriter;
      switched: () => void;
    },
  ) {}

  /**
   * Re-seals everything under `newRoot` in one atomic write (each record guarded by the version it was read at), then
   * seals new data with it. A failure leaves everything as it was.
   */
  rotate(newRoot: RootKey): Promise<RootRotationCounts> {
    const { store, clock, sealers, writer } = this.o;
    return writer.exclusive(async () => {
      const next = new Sealer(newRoot);
      const open = (blob: string, label: string): Buffer => sealers.open(blob, label);
      const { ops, counts } = await planRootRotation(store, open, next, clock.now());
      const written = await store.write(ops);
      this.switchTo(next, { event: 'kms.root.rotated', ...counts }, 'root key rotated');
      // The root-check record is the last operation of the plan.
      return { check: written[written.length - 1] as StoredRecord<RootCheckRecord>, result: counts };
    });
  }

  /** The fingerprint of the root key the store is sealed under now (another process may have rotated it). */
  async storedFingerprint(): Promise<string | undefined> {
    const stored = await this.o.store.get<RootCheckRecord>(META_COLLECTION, ROOT_CHECK_KEY);
    return stored ? sealedFingerprint(stored.value.sealed) : undefined;
  }

  /**
   * Follows a rotation made by another process when the store's root-check record opens under `root` (nothing is
   * re-sealed: that process did it). False when `root` was already current; ERR_ROOT_KEY_WRONG, changing nothing,
   * when the record does not open under it.
   */
  adopt(root: RootKey): Promise<boolean> {
    const { store, sealers, writer } = this.o;
    const next = new Sealer(root);
    return writer.exclusive(async () => {
      const check = await store.get<RootCheckRecord>(META_COLLECTION, ROOT_CHECK_KEY);
      if (!check) throw new GatehouseError('ERR_INTERNAL', { detail: 'the keyring has no root-check record' });
      verifyRootCheck(next, check.value);
      if (sealers.current.fingerprint === next.fingerprint) return { check, result: false };
      this.switchTo(next, { event: 'kms.root.adopted' }, 'root key rotated by another process: adopted');
      return { check, result: true };
    });
  }

  private switchTo(next: Sealer, fields: { event: string }, message: string): void {
    const { sealers, logger } = this.o;
    const from = sealers.current.fingerprint;
    sealers.rotateTo(next);
    this.o.switched();
    logger.info({ ...fields, from, to: next.fingerprint }, message);
  }
}
