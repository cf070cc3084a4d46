import { GatehouseError, type RecordStore } from '../core/index.js';
import { KeyedMutex } from './mutex.js';

/** The collection of usage counters: one counter per key version, `<name>:v<version>`. */
export const USAGE_COLLECTION = 'kms_usage';

/** Encryptions reserved per block unless configured (config `keyring.usageBlock`). */
export const DEFAULT_USAGE_BLOCK = 10_000;
/** Encryptions per version before rotation unless configured: 0.9 × 2^32 (NIST SP 800-38D §8.3, as Vault). */
export const DEFAULT_MAX_ENCRYPTIONS = 3_865_470_566;

/** At most this many versions keep a reservation in memory; evicting one only over-counts (its unused rest is lost). */
const MAX_TRACKED = 10_000;

interface Reservation {
  /** The next use number to hand out. */
  next: number;
  /** The last use number this process may hand out (inclusive). */
  last: number;
}

/**
 * Counts uses of each key version by reserving blocks durably before handing them out: `take` increments the
 * store's counter by a whole block first, then hands out that block's uses from memory. The durable count is
 * therefore never below the true count; a crash loses at most the rest of a block (an over-count, which only makes
 * rotation come sooner). Uses past `max` are never handed out: `take` returns false and the caller rotates.
 *
 * @example
 * const usage = new UsageReservations(store, { block: 10_000, max: 3_865_470_566 });
 * if (!(await usage.take('orders:v3'))) await rotate('orders');
 */
export class UsageReservations {
  private readonly reservations = new Map<string, Reservation>();
  private readonly locks = new KeyedMutex();

  constructor(
    private readonly store: RecordStore,
    private readonly limits: { block: number; max: number },
  ) {
    const { block, max } = limits;
    if (!Number.isSafeInteger(block) || block < 1 || !Number.isSafeInteger(max) || max < 1) {
      throw new GatehouseError('ERR_CONFIG_INVALID', {
        message: 'keyring: usageBlock and maxEncryptionsPerVersion must be positive integers',
      });
    }
  }

  /** Takes one use of `counter`; false when the version has reached its limit. */
  async take(counter: string): Promise<boolean> {
    const held = this.reservations.get(counter);
    if (held && held.next <= held.last) {
      held.next += 1;
      return true;
    }
    return this.locks.run(counter, async () => {
      const current = this.reservations.get(counter);
      if (current && current.next <= current.last) {
        current.next += 1;
        return true;
      }
      if (current && current.last >= this.limits.max) return false;
      if ((await this.store.counter(USAGE_COLLECTION, counter)) >= this.limits.max) return false;
      const reserved = await this.store.increment(USAGE_COLLECTION, counter, this.limits.block);
      const first = reserved - this.limits.block + 1;
      const last = Math.min(reserved, this.limits.max);
      this.remember(counter, { next: first + 1, last });
      return first <= last;
    });
  }

  /** The durable (reserved) count of `counter`: at least the true number of uses. */
  async reserved(counter: string): Promise<number> {
    return this.store.counter(USAGE_COLLECTION, counter);
  }

  /** Gives back the unused rest of every block this process holds (on orderly shutdown), so counts stay tight. */
  async release(): Promise<void> {
    const held = [...this.reservations];
    this.reservations.clear();
    for (const [counter, reservation] of held) {
      const unused = reservation.last - reservation.next + 1;
      if (unused > 0) await this.store.increment(USAGE_COLLECTION, counter, -unused);
    }
  }

  private remember(counter: string, reservation: Reservation): void {
    this.reservations.delete(counter);
    if (this.reservations.size >= MAX_TRACKED) {
      const oldest = this.reservations.keys().next().value;
      if (oldest !== undefined) this.reservations.delete(oldest);
    }
    this.reservations.set(counter, reservation);
  }
}
