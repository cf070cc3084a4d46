import { isAbsolute, relative, resolve } from 'node:path';
import { DAY_MS, finding, type Check } from './posture_finding.js';

/** An admin token older than this is a notice. */
export const ADMIN_TOKEN_MAX_AGE_MS = 90 * DAY_MS;

const opensToOthers = (mode: number | undefined) => mode !== undefined && (mode & 0o077) !== 0;
const octal = (mode: number) => `0${mode.toString(8)}`;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Whether `file` lies in `dir` (both resolved; the directory itself does not count). */
function inside(file: string, dir: string): boolean {
  const rel = relative(resolve(dir), resolve(file));
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/**
 * The checks of the platform itself: the root key, the files of the data directory, the CA, the listeners' names,
 * shared storage.
 */
export const PLATFORM_CHECKS: readonly Check[] = [
  {
    name: 'root_key.location',
    run: ({ rootKey, dataDir }) =>
      rootKey.source === 'data-dir' || (rootKey.file !== undefined && inside(rootKey.file, dataDir.path))
        ? [
            finding(
              'warning',
              'the root key sits in the data directory: a copy of the directory (a backup, a disk image) opens every secret',
              'move it to a secret mount and start with --root-key-file FILE or GATEHOUSE_ROOT_KEY (docs/operations.md)',
              rootKey.file === undefined ? undefined : [rootKey.file],
            ),
          ]
        : [],
  },
  {
    name: 'root_key.file_mode',
    run: ({ rootKey }) =>
      opensToOthers(rootKey.fileMode)
        ? [
            finding(
              'critical',
              `the root key file is open to group or others (mode ${octal(rootKey.fileMode!)})`,
              'chmod 600 it',
              [rootKey.file!],
            ),
          ]
        : [],
  },
  {
    name: 'admin_token.file_mode',
    run: ({ adminToken }) =>
      opensToOthers(adminToken.mode)
        ? [
            finding(
              'critical',
              `the admin token file is open to group or others (mode ${octal(adminToken.mode!)})`,
              'chmod 600 it, then gatehouse admin rotate-token (the old token may have been read)',
              [adminToken.file],
            ),
          ]
        : [],
  },
  {
    name: 'admin_token.age',
    run: ({ adminToken, now }) =>
      adminToken.rotatedAt !== undefined && now - adminToken.rotatedAt > ADMIN_TOKEN_MAX_AGE_MS
        ? [
            finding(
              'notice',
              'the admin token has not been rotated for over 90 days',
              'gatehouse admin rotate-token (then copy the new admin.token to the other replicas)',
            ),
          ]
        : [],
  },
  {
    name: 'data_dir.permissions',
    run: ({ dataDir }) =>
      dataDir.mode !== undefined && (dataDir.mode & 0o022) !== 0
        ? [
            finding(
              'critical',
              `the data directory is writable by group or others (mode ${octal(dataDir.mode)}): they can replace its files`,
              'chmod 700 it',
              [dataDir.path],
            ),
          ]
        : [],
  },
  {
    name: 'ca.expiry',
    run: ({ caWarnings }) =>
      caWarnings.map((warning) =>
        finding(
          'critical',
          warning,
          'gatehouse ca rotate (an intermediate), or plan a new root (docs/ca.md, "CA rotation")',
        ),
      ),
  },
  {
    name: 'listen.certificate_names',
    run: ({ config }) =>
      !LOOPBACK.has(config.listen.host) && config.listen.certificateNames.length === 0
        ? [
            finding(
              'warning',
              `the listeners bind ${config.listen.host}, but their certificates name only localhost, 127.0.0.1 and ::1: clients reaching them by another name or address cannot verify them`,
              'list the names and addresses clients use in listen.certificateNames',
            ),
          ]
        : [],
  },
  {
    name: 'redis.revocation_fanout',
    run: ({ config }) =>
      config.storage.kind === 'postgres' && config.redis.url === undefined
        ? [
            finding(
              'notice',
              'replicas share storage but no Redis: revocations reach the others only every identity.revocation.refreshEvery, and limits count per replica',
              'set redis.url',
            ),
          ]
        : [],
  },
];
