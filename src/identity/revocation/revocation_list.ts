import type { Clock, Logger, RecordStore } from '../../core/index.js';
import { isRevocationItem, type RevocationBus, type RevocationItem } from './revocation_bus.js';

/** Stored revocations, keyed by a zero-padded sequence number (the feed cursor). */
export const REVOCATIONS_COLLECTION = 'identity_revocations';
/** The counter collection holding the revocation sequence. */
export const REVOCATION_SEQ_COLLECTION = 'identity_revocation_seq';

const SEQ_DIGITS = 16;
/**
 * The largest clock skew a verifier accepts past `exp` (resource `clockSkewSeconds` is 0..120): a token stays usable
 * somewhere until `exp` plus this, so its revocation is taken, held and served until then too.
 */
const VERIFIER_SKEW_MS = 120_000;
/** Stored entries outlive that window by this much, so a slow feed reader still sees them. */
const KEEP_AFTER_EXP_MS = VERIFIER_SKEW_MS + 60_000;
const MAX_MEMORY_ENTRIES = 1_000_000;
const CURSOR = /^\d{1,16}$/;

interface StoredRevocation extends RevocationItem {
  revokedAt: number;
}

/** Options of {@link RevocationList}. */
export interface RevocationListOptions {
  store: RecordStore;
  clock: Clock;
  logger: Logger;
  bus?: RevocationBus;
  /** Most items one feed page carries. */
  pageSize: number;
  /**
   * A hole in the sequence younger than this is waited for (a concurrent revocation may still be committing); an older
   * hole is skipped (its writer crashed, or its entry expired). Adds at most this much to the staleness in that case.
   */
  settleMs?: number;
}

/**
 * The deny list of revoked access tokens and API keys: every revocation is stored (expiring with the token) under a
 * sequence number and kept in memory, so `isRevoked` never reads the store. Other replicas' revocations arrive through
 * `refresh` (reading the stored list after the own cursor) and, when a bus is wired, at once by push. `page` serves
 * the `GET /revocations?since=<cursor>` feed.
 *
 * @example
 * const list = new RevocationList({ store, clock, logger, pageSize: 1000 });
 * await list.revoke({ jti, exp });
 * list.isRevoked(jti, clock.now()); // true
 */
export class RevocationList {
  private readonly denied = new Map<string, number>();
  private readonly listeners: Array<(item: RevocationItem) => void> = [];
  private cursor: string | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;

  constructor(private readonly options: RevocationListOptions) {}

  /** Loads what is stored and subscribes to the bus. */
  async start(): Promise<void> {
    await this.refresh();
    if (this.options.bus) {
      this.unsubscribe = await this.options.bus.subscribe((item) => {
        if (isRevocationItem(item)) this.apply(item);
      });
    }
  }

  async close(): Promise<void> {
    await this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Called for every revocation this replica learns of (its own, the store's, the bus's). */
  onRevoked(listener: (item: RevocationItem) => void): void {
    this.listeners.push(listener);
  }

  /**
   * The verifier's `revocation.subscribe` port for a verifier in this process (the gateway of `gatehouse up`, say):
   * every revocation this replica learns of is handed over at once; resolves the unsubscribe function.
   */
  async subscribe(onItem: (item: RevocationItem) => void): Promise<() => Promise<void>> {
    this.listeners.push(onItem);
    return async () => {
      const at = this.listeners.indexOf(onItem);
      if (at >= 0) this.listeners.splice(at, 1);
    };
  }

  /** Stores a revocation, applies it here at once and publishes it (a bus failure is logged, not thrown). */
  async revoke(item: RevocationItem): Promise<void> {
    const now = this.options.clock.now();
    if (item.exp * 1000 + VERIFIER_SKEW_MS <= now) return;
    const seq = await this.options.store.increment(REVOCATION_SEQ_COLLECTION, 'seq', 1);
    const value: StoredRevocation = { ...item, revokedAt: now };
    await this.options.store.write([
      {
        op: 'insert',
        collection: REVOCATIONS_COLLECTION,
        key: String(seq).padStart(SEQ_DIGITS, '0'),
        value,
        expiresAt: item.exp * 1000 + KEEP_AFTER_EXP_MS,
      },
    ]);
    this.apply(item);
    await this.options.bus?.publish(item).catch((err: unknown) => {
      this.options.logger.warn({ event: 'revocation_publish_failed', err: (err as Error).message }, 'publish failed');
    });
  }

  /** True when the `jti` (or API key id) is revoked and within `exp` + the verifiers' largest skew. No I/O. */
  isRevoked(jti: string, now: number): boolean {
    const exp = this.denied.get(jti);
    return exp !== undefined && exp > now;
  }

  /** Reads revocations stored since the last refresh (other replicas'), page by page. */
  async refresh(): Promise<void> {
    for (let pages = 0; pages < 100; pages += 1) {
      const page = await this.page(this.cursor);
      for (const item of page.items) this.apply(item);
      const advanced = page.cursor !== this.cursor;
      this.cursor = page.cursor;
      if (page.items.length === 0 || !advanced) break;
    }
    this.prune();
  }

  /**
   * One page of the feed after `since` (a cursor from an earlier page; none: from the start). Items come in sequence
   * order; a young hole in the sequence ends the page (see `settleMs`). The returned cursor resumes after the page.
   */
  async page(since: string | undefined): Promise<{ items: RevocationItem[]; cursor: string }> {
    const now = this.options.clock.now();
    const settleMs = this.options.settleMs ?? 2000;
    const after = since === undefined ? undefined : since.padStart(SEQ_DIGITS, '0');
    const records = await this.options.store.list<StoredRevocation>(REVOCATIONS_COLLECTION, {
      ...(after === undefined ? {} : { after }),
      limit: this.options.pageSize,
    });
    const items: RevocationItem[] = [];
    let cursor = after ?? '0'.padStart(SEQ_DIGITS, '0');
    let expected = after === undefined ? undefined : Number(after) + 1;
    for (const record of records) {
      const seq = Number(record.key);
      if (expected !== undefined && seq !== expected && now - record.value.revokedAt < settleMs) break;
      const { jti, key_id: keyId, exp } = record.value;
      items.push(jti !== undefined ? { jti, exp } : { key_id: keyId as string, exp });
      cursor = record.key;
      expected = seq + 1;
    }
    return { items, cursor };
  }

  private apply(item: RevocationItem): void {
    const id = item.jti ?? item.key_id;
    if (id === undefined) return;
    const until = item.exp * 1000 + VERIFIER_SKEW_MS;
    if (until <= this.options.clock.now()) return;
    if (this.denied.size >= MAX_MEMORY_ENTRIES) this.prune();
    this.denied.set(id, Math.max(until, this.denied.get(id) ?? 0));
    for (const listener of this.listeners) listener(item);
  }

  private prune(): void {
    const now = this.options.clock.now();
    for (const [id, exp] of this.denied) if (exp <= now) this.denied.delete(id);
  }
}

/**
 * True when `cursor` is a feed cursor this list hands out (1-16 digits).
 *
 * @example
 * if (!isFeedCursor(since)) throw oauthError('invalid_request');
 */
export function isFeedCursor(cursor: string): boolean {
  return CURSOR.test(cursor);
}
