import { existsSync, readFileSync, statSync } from 'node:fs';
import { GatehouseError, isGatehouseError, unreadableReason, type Logger } from '../core/index.js';
import { RootKey } from '../kms/index.js';
import type { DataDirPaths } from './data_dir.js';

/** Where the root key comes from, in order of precedence. */
export interface RootKeyInputs {
  /** `--root-key-file` */
  file?: string;
  /** `GATEHOUSE_ROOT_KEY` */
  env?: string;
}

export interface ResolvedRootKey {
  key: RootKey;
  source: 'flag-file' | 'env' | 'data-dir';
  /** The file that holds it, when it is a file (rotation writes the next key beside it). */
  file?: string;
}

/** Reads the root key from --root-key-file, then GATEHOUSE_ROOT_KEY, then DIR/root.key; undefined when none. */
export function resolveRootKey(
  inputs: RootKeyInputs,
  paths: DataDirPaths,
  logger: Logger,
): ResolvedRootKey | undefined {
  if (inputs.file !== undefined) {
    return { key: parseFile(inputs.file, logger), source: 'flag-file', file: inputs.file };
  }
  if (inputs.env !== undefined && inputs.env !== '') {
    return { key: parseFrom(inputs.env, 'GATEHOUSE_ROOT_KEY'), source: 'env' };
  }
  if (existsSync(paths.rootKey)) {
    return { key: parseFile(paths.rootKey, logger), source: 'data-dir', file: paths.rootKey };
  }
  return undefined;
}

function parseFile(file: string, logger: Logger): RootKey {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new GatehouseError('ERR_ROOT_KEY_MISSING', {
      message: `cannot read root key file ${file}: ${unreadableReason(err)}`,
    });
  }
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) {
    logger.warn({ file, mode: mode.toString(8) }, 'root key file is readable by group or others: chmod 600 it');
  }
  return parseFrom(text, file);
}

/** The root key in `text`; a malformed one is refused naming where it came from (never echoing what was there). */
function parseFrom(text: string, where: string): RootKey {
  try {
    return RootKey.parse(text);
  } catch (err) {
    if (!isGatehouseError(err, 'ERR_ROOT_KEY_INVALID')) throw err;
    throw new GatehouseError('ERR_ROOT_KEY_INVALID', {
      message: `the root key in ${where} is malformed: expected 32 bytes as 64 hex digits or base64`,
    });
  }
}

/** The loud warning printed whenever the root key sits beside the data it protects. */
export function rootKeyBesideDataWarning(paths: DataDirPaths): string {
  return (
    `the root key is stored in ${paths.rootKey}, beside the data it protects: anyone who copies the data directory ` +
    `can read every secret. Move it out (e.g. to a secrets manager), then start with --root-key-file FILE or ` +
    `GATEHOUSE_ROOT_KEY, and delete ${paths.rootKey}.`
  );
}
