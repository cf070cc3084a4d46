import { closeSync, openSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { GatehouseError, makeDirectories } from '../core/index.js';
import { unwritableReason } from './output_file.js';

/**
 * The `--out DIR` of a command that writes several files (`gatehouse ca issue`), made ready before the command asks
 * the server for anything: DIR and missing parents are created (0700, `makeDirectories`), and a probe file proves
 * that files can be created in it. Refused with ERR_OUTPUT_FILE when a path component is not a directory, or DIR
 * cannot be created or written.
 *
 * @example
 * const out = prepareOutputDirectory(flags.out); // then write out/cert.pem, out/key.pem, ...
 */
export function prepareOutputDirectory(dir: string): string {
  const target = resolve(dir);
  const refuse = (why: string) => new GatehouseError('ERR_OUTPUT_FILE', { message: `cannot write ${dir}: ${why}` });
  try {
    makeDirectories(target, 0o700);
  } catch (err) {
    const { code, path } = err as NodeJS.ErrnoException;
    throw refuse(
      code === 'ENOTDIR' ? `${path ?? 'a parent'} is not a directory` : unwritableReason(err, dirname(path ?? target)),
    );
  }
  const probe = join(target, `.gatehouse-probe.${process.pid}.tmp`);
  try {
    closeSync(openSync(probe, 'wx', 0o600));
  } catch (err) {
    throw refuse(unwritableReason(err, target));
  }
  rmSync(probe, { force: true });
  return target;
}
