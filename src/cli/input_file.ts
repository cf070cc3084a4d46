import { closeSync, createReadStream, fstatSync, openSync, readFileSync, type ReadStream } from 'node:fs';
import { GatehouseError, unreadableReason } from '../core/index.js';

const refuse = (flag: string, file: string, why: string) =>
  new GatehouseError('ERR_INPUT_FILE', { message: `${flag} ${file}: ${why}` });

/**
 * Reads the JSON file an option names (`--jwks-file`). ERR_INPUT_FILE when it cannot be read or is not JSON; the
 * message names the option and the file, never its content (a wrong file may hold a secret).
 *
 * @example
 * const jwks = readJsonFile(flags.jwksFile, '--jwks-file');
 */
export function readJsonFile(file: string, flag: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw refuse(flag, file, unreadableReason(err));
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw refuse(flag, file, 'not valid JSON');
  }
}

/**
 * Opens the file an option names as a stream (`object put --in FILE`), checking first that it can be read, so a
 * missing file is refused with ERR_INPUT_FILE before anything is sent.
 *
 * @example
 * const source = openInputFile(flags.in, '--in');
 */
export function openInputFile(file: string, flag: string): ReadStream {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw refuse(flag, file, unreadableReason(err));
  }
  if (fstatSync(fd).isDirectory()) {
    closeSync(fd);
    throw refuse(flag, file, 'it is a directory');
  }
  return createReadStream('', { fd });
}
