import { closeSync, constants, openSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { GatehouseError } from '../../core/index.js';
import { sqliteError } from './errors.js';

/** An exclusive OS lock on a file, held until released or until the process dies. */
export interface FileLock {
  readonly path: string;
  /** Drops the lock (idempotent). */
  release(): void;
}

/** Paths locked by this process: POSIX locks do not exclude their own process, so we do. */
const heldHere = new Set<string>();

/**
 * Takes an exclusive lock on `path` (created with mode 0600 when missing), or returns `undefined` when another
 * process, or another holder in this process, has it. Node has no flock, so this uses SQLite's POSIX locking: the
 * file is a small SQLite database opened in `locking_mode=EXCLUSIVE` whose first write keeps the exclusive lock for
 * the life of the connection. The operating system drops the lock when the process dies, even on kill -9.
 *
 * @example
 * const lock = acquireFileLock(join(dataDir, 'lock'));
 * if (!lock) throw new GatehouseError('ERR_DATADIR_LOCKED');
 */
export function acquireFileLock(path: string): FileLock | undefined {
  const absolute = resolve(path);
  if (heldHere.has(absolute)) return undefined;
  try {
    closeSync(openSync(absolute, constants.O_RDWR | constants.O_CREAT, 0o600));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new GatehouseError('ERR_STORE_UNAVAILABLE', { message: `${absolute}: cannot create lock file (${code})` });
  }
  const db = new Database(absolute, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS holder (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL)');
    db.prepare('INSERT OR REPLACE INTO holder (id, pid) VALUES (1, ?)').run(process.pid);
    db.exec('COMMIT');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return undefined;
    throw sqliteError(err, absolute);
  }
  heldHere.add(absolute);
  let released = false;
  return {
    path: absolute,
    release: () => {
      if (released) return;
      released = true;
      db.close();
      heldHere.delete(absolute);
    },
  };
}
