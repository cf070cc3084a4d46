import type { Logger, RecordStore } from '../../core/index.js';

/** Last-used times of API keys, one record per key id (kept apart from the key so the two never conflict). */
export const API_KEY_LAST_USED_COLLECTION = 'identity_api_key_last_used';

const MAX_TRACKED = 100_000;

/**
 * Records when API keys were last used without slowing verification down: at most one write per key per `everyMs`,
 * issued asynchronously (never awaited by the caller; a failed write is logged and retried on a later use).
 *
 * @example
 * const lastUsed = new LastUsedRecorder(store, 60_000, logger);
 * lastUsed.touch(key.id, clock.now());
 */
export class LastUsedRecorder {
  private readonly written = new Map<string, number>();
  private pending = 0;

  constructor(
    private readonly store: RecordStore,
    private readonly everyMs: number,
    private readonly logger: Logger,
  ) {}

  /** Notes a use at `now`; schedules a write when the last one is older than the period. */
  touch(id: string, now: number): void {
    const last = this.written.get(id);
    if (last !== undefined && now - last < this.everyMs) return;
    if (this.written.size >= MAX_TRACKED) this.written.clear();
    this.written.set(id, now);
    this.pending += 1;
    this.store
      .write([{ op: 'upsert', collection: API_KEY_LAST_USED_COLLECTION, key: id, value: { at: now } }])
      .catch((err: unknown) => {
        this.written.delete(id);
        this.logger.warn({ event: 'api_key_last_used_failed', keyId: id, err: (err as Error).message }, 'write failed');
      })
      .finally(() => {
        this.pending -= 1;
      });
  }

  /** Writes in flight (tests wait for zero). */
  get inFlight(): number {
    return this.pending;
  }

  /** The stored last-used time of a key (null: never used). */
  async get(id: string): Promise<number | null> {
    const record = await this.store.get<{ at: number }>(API_KEY_LAST_USED_COLLECTION, id);
    return record?.value.at ?? null;
  }
}
