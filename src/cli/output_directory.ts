import { closeSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { GatehouseError } from '../core/index.js';

/** What stands at `path`: a directory, something else, or nothing (or nothing we may look at). */
function kindOf(path: string): 'directory' | 'other' | 'missing' {
  try {
    return statSync(path).isDirectory() ? 'directory' : 'other';
  } catch {
    return 'missing';
  }
}

/** Why `dir` cannot be written, in words (the error's code otherwise). */
function reason(err: unknown, dir: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return `no permission to write in ${dir}`;
  if (code === 'ENOENT' || code === 'ENOTDIR') return `files cannot be created in ${dir}`;
  return code ?? (err as Error).message;
}

/**
 * The `--out DIR` of a command that writes several files (`gatehouse ca issue`), made ready before the command asks
 * the server for anything: DIR and missing parents are created (0700) one level at a time, and a probe file proves
 * that files can be created in it. Refused with ERR_OUTPUT_FILE when a path component is not a directory, or DIR
 * cannot be created or written. (Node's own `mkdirSync(..., { recursive: true })` never returns on a parent that
 * answers ENOENT although it exists, such as /proc.)
 *
 * @example
 * const out = prepareOutputDirectory(flags.out); // then write out/cert.pem, out/key.pem, ...
 */
export function prepareOutputDirectory(dir: string): string {
  const target = resolve(dir);
  const refuse = (why: string) => new GatehouseError('ERR_OUTPUT_FILE', { message: `cannot write ${dir}: ${why}` });
  const missing: string[] = [];
  let at = target;
  for (;;) {
    const kind = kindOf(at);
    if (kind === 'directory') break;
    if (kind === 'other') throw refuse(`${at} is not a directory`);
    missing.unshift(at);
    if (dirname(at) === at) break;
    at = dirname(at);
  }
  for (const path of missing) {
    try {
      mkdirSync(path, { mode: 0o700 });
    } catch (err) {
      throw refuse(reason(err, dirname(path)));
    }
  }
  const probe = join(target, `.gatehouse-probe.${process.pid}.tmp`);
  try {
    closeSync(openSync(probe, 'wx', 0o600));
  } catch (err) {
    throw refuse(reason(err, target));
  }
  rmSync(probe, { force: true });
  return target;
}
