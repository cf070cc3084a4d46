import { existsSync, readFileSync } from 'node:fs';
import { FailureStreak, silentLogger, type Clock, type Logger } from '../core/index.js';
import { RootKey, type Keyring } from '../kms/index.js';
import type { DataDirPaths } from './data_dir.js';
import { resolveRootKey, type ResolvedRootKey, type RootKeyInputs } from './root_key_source.js';
import { nextFileOf } from './root_rotation.js';

/** How often a component started alone, or a `gatehouse up` replica, looks whether the root key was rotated under it. */
export const ROOT_KEY_CHECK_MS = 5000;

/** What a check found: nothing changed, the new root key adopted, or a rotation whose key this process lacks. */
export type RootKeyCheck = 'current' | 'adopted' | 'unavailable';

/**
 * Lets a process follow a root rotation made by another (`gatehouse kms root rotate` through a `gatehouse up`): a
 * component started alone, or another `gatehouse up` replica on the same PostgreSQL. A check reads which root key the store is sealed under; when
 * it is not the one this process seals with, it re-reads the process's root key source (`--root-key-file`,
 * `GATEHOUSE_ROOT_KEY` or `DIR/root.key`, and the `<file>.next` a rotation writes first) and adopts the key whose
 * fingerprint the store names, once the keyring has verified that it opens the store. Until then data re-sealed
 * under the new key cannot be opened here and writes fail (ERR_ROOT_KEY_WRONG): that is logged once per rotation
 * (`root_key_stale`) and the next checks keep trying. Checks run one at a time, every {@link ROOT_KEY_CHECK_MS} once
 * started, and on demand (SIGHUP).
 *
 * @example
 * const follower = new RootKeyFollower({ keyring: core.keyring, inputs, paths, rootKey, clock, logger });
 * follower.start(ROOT_KEY_CHECK_MS);
 * await follower.check(); // 'current' | 'adopted' | 'unavailable'
 */
export class RootKeyFollower {
  private running: Promise<RootKeyCheck> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reported: string | undefined;

  constructor(
    private readonly o: {
      keyring: Keyring;
      inputs: RootKeyInputs;
      paths: DataDirPaths;
      /** The key this process opened with; updated when a new one is adopted. */
      rootKey: ResolvedRootKey;
      clock: Clock;
      logger: Logger;
      /** Called with each key adopted (`gatehouse up` records it in its data directory's manifest). */
      onAdopted?: (key: RootKey) => void;
    },
  ) {}

  /** Checks now (or joins the check in progress). */
  check(): Promise<RootKeyCheck> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * Checks every `everyMs` until {@link stop}; a failed check is logged (once while the storage stays away:
   * {@link FailureStreak}) and the next one tries again.
   */
  start(everyMs: number): void {
    const streak = new FailureStreak({ loop: 'root key check', clock: this.o.clock, logger: this.o.logger });
    this.timer = setInterval(() => void streak.run(() => this.check()), everyMs);
    this.timer.unref();
  }

  /** Stops the checks and waits for one in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  private async run(): Promise<RootKeyCheck> {
    const { keyring, logger } = this.o;
    const stored = await keyring.storedRootFingerprint();
    const current = keyring.rootFingerprint();
    if (stored === undefined || stored === current) return 'current';
    // Read twice at most: a rotation finishing now renames `.next` over the key file between two reads.
    let found = this.candidates();
    let next = found.candidates.find((key) => key.fingerprint() === stored);
    if (!next) {
      found = this.candidates();
      next = found.candidates.find((key) => key.fingerprint() === stored);
    }
    const { reason } = found;
    if (next) {
      await keyring.adoptRoot(next);
      this.o.rootKey.key = next;
      this.reported = undefined;
      this.o.onAdopted?.(next);
      logger.warn(
        { event: 'root_key_adopted', from: current, to: stored },
        'the root key was rotated by another process: sealing with the new one',
      );
      return 'adopted';
    }
    if (this.reported !== stored) {
      this.reported = stored;
      logger.error(
        { event: 'root_key_stale', stored, current, source: this.o.rootKey.source, ...(reason ? { reason } : {}) },
        this.o.rootKey.source === 'env'
          ? 'the root key was rotated by another process and GATEHOUSE_ROOT_KEY holds the previous one: restart this process with the new key; until then data sealed under the new key cannot be opened here and writes fail'
          : 'the root key was rotated by another process and the root key file holds another key: put the new key there (it is re-read every 5 s and on SIGHUP) or restart with it; until then data sealed under the new key cannot be opened here and writes fail',
      );
    }
    return 'unavailable';
  }

  /** The keys the root key source holds now: the key itself and, beside a key file, a rotation's `.next`. */
  private candidates(): { candidates: RootKey[]; reason?: string } {
    try {
      const resolved = resolveRootKey(this.o.inputs, this.o.paths, silentLogger);
      if (!resolved) return { candidates: [], reason: 'no root key source' };
      const candidates = [resolved.key];
      const next = resolved.file ? nextFileOf(resolved.file) : undefined;
      if (next && existsSync(next)) {
        try {
          candidates.push(RootKey.parse(readFileSync(next, 'utf8')));
        } catch {
          // Renamed over the key file meanwhile (the rotation finished): the next check reads it there.
        }
      }
      return { candidates };
    } catch (err) {
      return { candidates: [], reason: (err as Error).message };
    }
  }
}
