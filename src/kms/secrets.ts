import { GatehouseError, type Clock, type RecordStore } from '../core/index.js';
import type { GuardedWriter } from './guarded_writer.js';
import { listAll } from './paging.js';
import type { SealerRing } from './sealer.js';

/** The collection of sealed secrets (CA keys, token signing keys, ...). */
export const SECRETS_COLLECTION = 'kms_secrets';

const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,255}$/;

/** A sealed secret as stored. */
export interface SecretRecord {
  sealed: string;
  updatedAt: number;
}

/**
 * Checks a secret name: 1-256 letters, digits, `.`, `_`, `:`, `/`, `-`, starting with a letter or digit.
 *
 * @example
 * checkSecretName('pki/intermediate/key');
 */
export function checkSecretName(name: string): void {
  if (typeof name !== 'string' || !SECRET_NAME.test(name)) {
    throw new GatehouseError('ERR_KMS_KEY_NAME_INVALID', { message: 'Invalid secret name' });
  }
}

/**
 * The seal label of a secret: binds the sealed value to its name.
 *
 * @example
 * secretLabel('pki/root/key'); // 'kms_secret:pki/root/key'
 */
export function secretLabel(name: string): string {
  return `kms_secret:${name}`;
}

/**
 * The sealed secrets of the keyring: each value sealed under the root key, bound to its name. Writes take the
 * keyring's guarded writer, so that they never interleave with a root rotation, here or in another process.
 *
 * @example
 * const shelf = new SecretShelf({ store, clock, sealers, writer });
 * await shelf.put('pki/root/key', pem);
 */
export class SecretShelf {
  constructor(
    private readonly deps: { store: RecordStore; clock: Clock; sealers: SealerRing; writer: GuardedWriter },
  ) {}

  async put(name: string, value: Buffer): Promise<void> {
    checkSecretName(name);
    const { clock, sealers, writer } = this.deps;
    await writer.write(async () => {
      const record: SecretRecord = { sealed: sealers.seal(value, secretLabel(name)), updatedAt: clock.now() };
      return { ops: [{ op: 'upsert', collection: SECRETS_COLLECTION, key: name, value: record }], result: undefined };
    });
  }

  async get(name: string): Promise<Buffer | undefined> {
    checkSecretName(name);
    const stored = await this.deps.store.get<SecretRecord>(SECRETS_COLLECTION, name);
    return stored ? this.deps.sealers.open(stored.value.sealed, secretLabel(name)) : undefined;
  }

  async delete(name: string): Promise<void> {
    checkSecretName(name);
    await this.deps.writer.write(async () => ({
      ops: [{ op: 'delete', collection: SECRETS_COLLECTION, key: name }],
      result: undefined,
    }));
  }

  async list(prefix = ''): Promise<string[]> {
    return (await listAll<SecretRecord>(this.deps.store, SECRETS_COLLECTION, prefix)).map((stored) => stored.key);
  }
}
