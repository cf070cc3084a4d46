import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Lease, Leases } from '../../core/index.js';
import { acquireFileLock, type FileLock } from './file_lock.js';

/**
 * Leases for the embedded deployment: one lock file per lease name under `dir` (created with mode 0700 when
 * missing), held with {@link acquireFileLock}, so a lease is freed when its holder releases it or its process dies.
 *
 * @example
 * const leases = new SqliteLeases({ dir: join(dataDir, 'leases') });
 * await runUnderLease(leases, 'cleanup', purge);
 */
export class SqliteLeases implements Leases {
  private readonly dir: string;
  private readonly held = new Map<string, FileLock>();

  constructor(options: { dir: string }) {
    this.dir = options.dir;
  }

  async tryAcquire(name: string): Promise<Lease | undefined> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const lock = acquireFileLock(join(this.dir, leaseFileName(name)));
    if (!lock) return undefined;
    this.held.set(lock.path, lock);
    return {
      name,
      release: async () => {
        lock.release();
        this.held.delete(lock.path);
      },
    };
  }

  async close(): Promise<void> {
    for (const lock of this.held.values()) lock.release();
    this.held.clear();
  }
}

/**
 * The lock file of a lease: the name with anything but letters, digits, `.`, `_` and `-` replaced, plus a short hash
 * of the exact name so that two names never share a file.
 *
 * @example
 * leaseFileName('signing-key-rotation'); // 'signing-key-rotation.3b1f0c2a.lock'
 */
export function leaseFileName(name: string): string {
  const safe = name
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^\.+/, '_')
    .slice(0, 100);
  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 8);
  return `${safe}.${hash}.lock`;
}
