import { FailureStreak, type Clock, type Logger } from '../../core/index.js';
import { isApiKeyUsable, type ApiKey, type ApiKeyDigest } from './api_key.js';
import { apiKeyDigest, hasApiKeyShape } from './api_key_format.js';
import type { LastUsedRecorder } from './last_used.js';

interface Entry {
  key: ApiKey;
  digest: ApiKeyDigest;
}

/**
 * The in-memory index of API keys by digest: verification is a shape check, one SHA-256 and one Map lookup, with no
 * I/O (the checksum is not needed here: a malformed key's digest matches nothing). Keys created on other replicas
 * arrive through `refresh`, which the process calls every `refreshEveryMs` (a verification also starts one when the
 * index is older than that, in the background); this replica's changes apply at once, and revocations (own, feed or
 * push) mark keys revoked at once.
 *
 * @example
 * const key = index.verify(presented); // ApiKey, or undefined when unknown, malformed, expired or revoked
 */
export class ApiKeyIndex {
  private byDigest = new Map<string, Entry>();
  private readonly revoked = new Set<string>();
  private loadedAt = Number.NEGATIVE_INFINITY;
  private loading: Promise<void> | undefined;
  private readonly streak: FailureStreak;

  constructor(
    private readonly deps: {
      load: () => Promise<ApiKey[]>;
      clock: Clock;
      logger: Logger;
      lastUsed: LastUsedRecorder;
      refreshEveryMs: number;
    },
  ) {
    this.streak = new FailureStreak({ loop: 'API key reload', clock: deps.clock, logger: deps.logger });
  }

  /** Reloads every key from the store. */
  async reload(): Promise<void> {
    const keys = await this.deps.load();
    const next = new Map<string, Entry>();
    for (const key of keys) for (const digest of key.digests) next.set(digest.digest, { key, digest });
    this.byDigest = next;
    this.loadedAt = this.deps.clock.now();
  }

  /** Applies a change made on this replica at once. */
  put(key: ApiKey): void {
    for (const [digest, entry] of this.byDigest) if (entry.key.id === key.id) this.byDigest.delete(digest);
    for (const digest of key.digests) this.byDigest.set(digest.digest, { key, digest });
  }

  /** Marks a key revoked (from a revocation item naming its id). */
  markRevoked(id: string): void {
    if (this.revoked.size > 100_000) this.revoked.clear();
    this.revoked.add(id);
  }

  /** The key a presented string stands for, when it is well formed, known and usable now; records the use. */
  verify(presented: string): ApiKey | undefined {
    const now = this.deps.clock.now();
    this.refreshIfStale(now);
    if (!hasApiKeyShape(presented)) return undefined;
    const entry = this.byDigest.get(apiKeyDigest(presented));
    if (entry === undefined || this.revoked.has(entry.key.id) || !isApiKeyUsable(entry.key, entry.digest, now)) {
      return undefined;
    }
    this.deps.lastUsed.touch(entry.key.id, now);
    return entry.key;
  }

  /**
   * Reloads the index in the background (joining a reload already running); a failure is logged (once while the
   * storage stays away: {@link FailureStreak}) and the index kept.
   * The process calls it every `refreshEveryMs`, so a key created on another replica works here within that time
   * even when no request came meanwhile.
   *
   * @example
   * setInterval(() => void index.refresh(), refreshEveryMs);
   */
  refresh(): Promise<void> {
    this.loading ??= this.streak
      .run(() => this.reload())
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }

  private refreshIfStale(now: number): void {
    if (now - this.loadedAt >= this.deps.refreshEveryMs) void this.refresh();
  }
}
