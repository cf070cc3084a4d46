import { Command, InvalidArgumentError } from 'commander';
import { columns, print, table } from '../output.js';
import { addKmsDataCommands } from './kms_data.js';
import { runsAlone } from './standalone.js';
import { adminFlags, withAdmin, type AdminFlags } from './with_admin.js';

interface KeyView {
  name: string;
  type: string;
  latest_version: number;
  min_decryption_version: number;
  min_encryption_version: number;
  deletion_allowed: boolean;
  deleted: boolean;
  versions?: Array<{ version: number; created_at: number; encryptions?: number }>;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number ≥ 0');
  return n;
}

function describeKey(key: KeyView): string {
  const rows: Array<[string, unknown]> = [
    ['name', key.name],
    ['type', key.type],
    ['latest version', key.latest_version],
    ['min decryption version', key.min_decryption_version],
    ['min encryption version', key.min_encryption_version === 0 ? '0 (latest)' : key.min_encryption_version],
    ['deletion allowed', key.deletion_allowed],
    ['deleted', key.deleted],
  ];
  for (const v of key.versions ?? []) {
    rows.push([
      `version ${v.version}`,
      `created ${new Date(v.created_at).toISOString()}${v.encryptions === undefined ? '' : `, ${v.encryptions} encryptions reserved`}`,
    ]);
  }
  return table(rows);
}

const keyPath = (name: string) => `/v1/kms/keys/${encodeURIComponent(name)}`;

const ROOT_ROTATE_HELP =
  're-seal everything under a new root key (components run alone and other up replicas adopt it once their root key file holds it; ' +
  'with GATEHOUSE_ROOT_KEY restart them with the new key; docs/operations.md)';

/** `gatehouse kms ...`: named keys with versions and the root key; `gatehouse kms --config FILE` runs the KMS alone. */
export function kmsCommand(): Command {
  const kms = runsAlone(
    new Command('kms').description(
      'keys, envelope encryption and the root key; with --config: run the KMS transit API alone (docs/operations.md)',
    ),
    'kms',
  );
  const key = kms.command('key').description('named keys with versions');

  adminFlags(key.command('create <name>').description('new named key, version 1'))
    .option('--type <type>', 'aes256-gcm96 or chacha20-poly1305', 'aes256-gcm96')
    .action(async (name: string, flags: AdminFlags & { type: string }) =>
      withAdmin(flags, async (client, output) => {
        const created = await client.call<KeyView>('POST', '/v1/kms/keys', { name, type: flags.type });
        print(output, created, (k: KeyView) => `created key ${k.name} (${k.type}), version ${k.latest_version}`);
      }),
    );

  adminFlags(key.command('list').description('list keys')).action(async (flags: AdminFlags) =>
    withAdmin(flags, async (client, output) => {
      const result = await client.call<{ keys: KeyView[] }>('GET', '/v1/kms/keys');
      print(output, result, (r: { keys: KeyView[] }) =>
        r.keys.length === 0
          ? 'no keys'
          : columns(r.keys.map((k) => [k.name, k.type, `v${k.latest_version}`, k.deleted ? '(deleted)' : ''])),
      );
    }),
  );

  adminFlags(key.command('show <name>').description('a key and its versions')).action(
    async (name: string, flags: AdminFlags) =>
      withAdmin(flags, async (client, output) => {
        print(output, await client.call<KeyView>('GET', keyPath(name)), describeKey);
      }),
  );

  adminFlags(key.command('config <name>').description('minimum versions and deletion'))
    .option('--min-decryption-version <n>', 'oldest version that may decrypt', positiveInt)
    .option('--min-encryption-version <n>', 'oldest version that may encrypt (0 = latest)', positiveInt)
    .option('--deletion-allowed', 'allow deletion of this key')
    .option('--no-deletion-allowed', 'forbid deletion of this key')
    .action(
      async (
        name: string,
        flags: AdminFlags & { minDecryptionVersion?: number; minEncryptionVersion?: number; deletionAllowed?: boolean },
      ) =>
        withAdmin(flags, async (client, output) => {
          const body: Record<string, unknown> = {};
          if (flags.minDecryptionVersion !== undefined) body.min_decryption_version = flags.minDecryptionVersion;
          if (flags.minEncryptionVersion !== undefined) body.min_encryption_version = flags.minEncryptionVersion;
          if (flags.deletionAllowed !== undefined) body.deletion_allowed = flags.deletionAllowed;
          print(output, await client.call<KeyView>('POST', `${keyPath(name)}/config`, body), describeKey);
        }),
    );

  const rotate = (name: string, flags: AdminFlags) =>
    withAdmin(flags, async (client, output) => {
      const rotated = await client.call<KeyView>('POST', `${keyPath(name)}/rotate`, {});
      print(output, rotated, (k: KeyView) => `key ${k.name} rotated: version ${k.latest_version} is now primary`);
    });
  adminFlags(key.command('rotate <name>').description('new version becomes primary')).action(rotate);
  adminFlags(kms.command('rotate <name>').description('new version becomes primary (alias of kms key rotate)')).action(
    rotate,
  );

  adminFlags(key.command('delete <name>').description('soft delete (needs deletion allowed)')).action(
    async (name: string, flags: AdminFlags) =>
      withAdmin(flags, async (client, output) => {
        print(
          output,
          await client.call<KeyView>('DELETE', keyPath(name)),
          (k: KeyView) => `key ${k.name} deleted (restore undoes it)`,
        );
      }),
  );
  adminFlags(key.command('restore <name>').description('undo a soft delete')).action(
    async (name: string, flags: AdminFlags) =>
      withAdmin(flags, async (client, output) => {
        print(
          output,
          await client.call<KeyView>('POST', `${keyPath(name)}/restore`, {}),
          (k: KeyView) => `key ${k.name} restored`,
        );
      }),
  );
  adminFlags(key.command('trim <name>').description('drop versions below both minimum versions'))
    .option('--min-available-version <n>', 'oldest version to keep (default: the smaller minimum version)', positiveInt)
    .action(async (name: string, flags: AdminFlags & { minAvailableVersion?: number }) =>
      withAdmin(flags, async (client, output) => {
        let min = flags.minAvailableVersion;
        if (min === undefined) {
          const current = await client.call<KeyView>('GET', keyPath(name));
          // Vault's rule: at most the smaller minimum; the server refuses while either minimum is 0.
          min = Math.min(current.min_decryption_version, current.min_encryption_version) || 1;
        }
        const trimmed = await client.call<KeyView>('POST', `${keyPath(name)}/trim`, { min_available_version: min });
        print(output, trimmed, (k: KeyView) => `key ${k.name}: versions below ${min} dropped`);
      }),
    );

  addKmsDataCommands(kms);

  const root = kms.command('root').description('the root key that seals every secret at rest');
  adminFlags(root.command('rotate').description(ROOT_ROTATE_HELP)).action(async (flags: AdminFlags) =>
    withAdmin(flags, async (client, output) => {
      const result = await client.call<{ fingerprint: string }>('POST', '/v1/kms/root/rotate', {});
      print(
        output,
        result,
        (r: { fingerprint: string }) => `root key rotated; new root key ${r.fingerprint}; everything re-sealed`,
      );
    }),
  );
  return kms;
}
