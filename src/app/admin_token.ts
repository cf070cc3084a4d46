import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import {
  FailureStreak,
  GatehouseError,
  isGatehouseError,
  writeFileAtomic,
  type Clock,
  type Logger,
  type RecordStore,
} from '../core/index.js';

/** How often a running process re-reads the admin token digest, so a rotation made on another replica applies here. */
export const ADMIN_TOKEN_REFRESH_MS = 5000;

const COLLECTION = 'admin';
const KEY = 'token';

interface StoredToken {
  digest: string;
  rotatedAt: number;
}

function digestOf(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * The admin token: 256 random bits, written to DIR/admin.token (0600) and stored server-side only as its SHA-256
 * digest. Checks compare digests in constant time.
 */
export class AdminToken {
  private digest: Buffer;
  /** Counts rotations completed here, so a refresh that read the store before one ended does not undo it. */
  private rotations = 0;

  private constructor(digest: Buffer) {
    this.digest = digest;
  }

  /** Creates a new token, stores its digest (replacing any) and writes the token file. */
  static async create(
    store: RecordStore,
    file: string,
    now: number,
    op: 'upsert' | 'insert' = 'upsert',
  ): Promise<AdminToken> {
    const token = `gha_${randomBytes(32).toString('base64url')}`;
    const digest = digestOf(token);
    // The file is written before the digest: if we crash between the two, the old token stays valid and a retry
    // produces a new one; the reverse order could lock the operator out.
    writeFileAtomic(file, token + '\n', 0o600);
    await store.write([
      { op, collection: COLLECTION, key: KEY, value: { digest: digest.toString('hex'), rotatedAt: now } },
    ]);
    return new AdminToken(digest);
  }

  /**
   * The first start's token: created (file, then digest) unless the store holds one already, e.g. made by another
   * replica starting at the same moment; then the file just written is removed and the stored token stays. True when
   * this call made the token.
   */
  static async createFirst(store: RecordStore, file: string, now: number): Promise<boolean> {
    if (await AdminToken.exists(store)) return false;
    try {
      await AdminToken.create(store, file, now, 'insert');
      return true;
    } catch (err) {
      if (!isGatehouseError(err) || err.code !== 'ERR_STORE_CONFLICT') throw err;
      rmSync(file, { force: true });
      return false;
    }
  }

  /**
   * True once a first start stored the admin token digest: its last write to storage, so a store that holds it is
   * fully initialized (keyring, CA and signing keys exist).
   */
  static async exists(store: RecordStore): Promise<boolean> {
    return (await store.get(COLLECTION, KEY)) !== undefined;
  }

  /**
   * Whether `file` holds the token whose digest is stored: a replica joining storage that another `gatehouse up`
   * initialized keeps that shared token instead of replacing it (which would lock out every other replica).
   */
  static async fileMatches(store: RecordStore, file: string): Promise<boolean> {
    let token: string;
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch {
      return false;
    }
    return (await AdminToken.load(store)).check(token);
  }

  /** When the stored token was made or last rotated (ms), undefined when none is stored. */
  static async rotatedAt(store: RecordStore): Promise<number | undefined> {
    return (await store.get<StoredToken>(COLLECTION, KEY))?.value.rotatedAt;
  }

  /** Loads the stored digest. */
  static async load(store: RecordStore): Promise<AdminToken> {
    const record = await store.get<StoredToken>(COLLECTION, KEY);
    if (!record) {
      throw new GatehouseError('ERR_DATADIR_INVALID', { message: 'the admin token digest is missing from storage' });
    }
    return new AdminToken(Buffer.from(record.value.digest, 'hex'));
  }

  /** Replaces the token: the old one stops working at once. */
  async rotate(store: RecordStore, file: string, now: number): Promise<void> {
    const next = await AdminToken.create(store, file, now);
    this.digest = next.digest;
    // Counted once done: a refresh whose read overlapped any part of this rotation is then discarded.
    this.rotations += 1;
  }

  /** Re-reads the digest, so a rotation made by another replica takes effect here too. */
  async refresh(store: RecordStore): Promise<void> {
    const rotations = this.rotations;
    const stored = (await AdminToken.load(store)).digest;
    if (rotations === this.rotations) this.digest = stored;
  }

  /**
   * Re-reads the digest every `everyMs` (a failed read is logged, once while the storage stays away, and the current digest kept); returns the stop
   * function. Every process that checks the admin token runs this, so `admin rotate-token` on one replica ends the
   * old token everywhere within `everyMs`.
   *
   * @example
   * cleanups.push(adminToken.follow(core.records, core.clock, logger));
   */
  follow(store: RecordStore, clock: Clock, logger: Logger, everyMs = ADMIN_TOKEN_REFRESH_MS): () => void {
    const streak = new FailureStreak({ loop: 'admin token refresh', clock, logger });
    const timer = setInterval(() => void streak.run(() => this.refresh(store)), everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  check(presented: string): boolean {
    return timingSafeEqual(digestOf(presented), this.digest);
  }
}
