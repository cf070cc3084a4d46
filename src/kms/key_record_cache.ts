import type { Clock } from '../core/index.js';
import type { KeyRecord } from './key_policy.js';

/** Told the name of a key after every change this keyring makes to it (see {@link Keyring.onKeyChange}). */
export type KeyChangeListener = (name: string) => void;

const MAX_ENTRIES = 1024;

/**
 * The key records the encrypt/decrypt hot path reads, each re-read at most every `ttlMs` (bounded map), and the
 * changes this process makes to them: {@link changing} drops the key's entry before and after the change and tells
 * the listeners; a read that overlapped a change is used once but not remembered (it may predate the change, and
 * remembering it would bring the old version back for the whole lifetime).
 *
 * @example
 * const rec = await records.read(name, () => loadKey(store, name));
 * await records.changing(name, () => writer.write(...));
 */
export class KeyRecordCache {
  /** Bumped when a change starts and when it ends: a read that spans one is not cached. */
  private changes = 0;
  private readonly entries = new Map<string, { rec: KeyRecord; until: number }>();
  private readonly listeners = new Set<KeyChangeListener>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {}

  /** The remembered record of `name`, or `load()`'s, remembered for `ttlMs` unless a change overlapped the load. */
  async read(name: string, load: () => Promise<KeyRecord>): Promise<KeyRecord> {
    const now = this.clock.now();
    const hit = this.entries.get(name);
    if (hit && hit.until > now) return hit.rec;
    const changes = this.changes;
    const rec = await load();
    if (changes !== this.changes) return rec;
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(name, { rec, until: now + this.ttlMs });
    return rec;
  }

  /**
   * Runs a change to key `name`; then drops its entry and tells the listeners, even when the change failed (a write
   * whose outcome is unknown may have happened, and a listener only drops cached state).
   */
  async changing<T>(name: string, change: () => Promise<T>): Promise<T> {
    this.changes += 1;
    this.entries.delete(name);
    try {
      return await change();
    } finally {
      this.changes += 1;
      this.entries.delete(name);
      for (const listener of this.listeners) listener(name);
    }
  }

  /** Adds a change listener; returns the unsubscribe function. */
  onChange(listener: KeyChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Forgets every remembered record (root rotation, close). */
  clear(): void {
    this.entries.clear();
  }
}
