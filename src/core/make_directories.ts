import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** An fs-style error (with `code`) for a path component that exists but is not a directory. */
function notADirectory(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOTDIR: ${path} is not a directory`), { code: 'ENOTDIR', path });
}

/**
 * `mkdir -p` that always returns: creates `dir` and its missing parents with `mode`, one level at a time, and
 * throws the fs error (with its `code`) of the level that fails, or ENOTDIR naming a component that is a file.
 * Node's own `mkdirSync(dir, { recursive: true })` loops forever when a parent exists but answers ENOENT to mkdir
 * (`/proc/x`), which hung `gatehouse up --data-dir /proc/x` at full CPU.
 *
 * @example
 * makeDirectories('/var/lib/gatehouse', 0o700);
 */
export function makeDirectories(dir: string, mode: number): void {
  const missing: string[] = [];
  let at = resolve(dir);
  for (;;) {
    let isDirectory: boolean | undefined;
    try {
      isDirectory = statSync(at).isDirectory();
    } catch {
      isDirectory = undefined; // absent (or not visible): create it below
    }
    if (isDirectory === true) break;
    if (isDirectory === false) throw notADirectory(at);
    missing.unshift(at);
    if (dirname(at) === at) break;
    at = dirname(at);
  }
  for (const path of missing) mkdirSync(path, { mode });
}
