import { describe, expect, it } from 'vitest';
import { isGatehouseError, type ErrorCode } from '../../src/core/index.js';
import {
  checkDecryptionVersion,
  checkKeyName,
  checkKeyType,
  encryptionVersion,
  newKeyRecord,
  withConfig,
  withDeleted,
  withNewVersion,
  withRestored,
  withTrim,
  type KeyRecord,
} from '../../src/kms/key_policy.js';

function codeOf(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
  } catch (err) {
    if (isGatehouseError(err)) return err.code;
    throw err;
  }
  return undefined;
}

/** A key with versions 1..latest. */
function keyWith(latest: number): KeyRecord {
  let rec = newKeyRecord('orders', 'aes256-gcm96', 0, 'sealed-1');
  for (let v = 2; v <= latest; v++) rec = withNewVersion(rec, v, `sealed-${v}`);
  return rec;
}

describe('key names and types', () => {
  it('accepts 1-128 letters, digits, dot, underscore, dash starting with a letter or digit', () => {
    for (const name of ['a', 'orders', 'Orders.v2_x-y', '9lives', 'a'.repeat(128)]) {
      expect(codeOf(() => checkKeyName(name))).toBeUndefined();
    }
    for (const name of ['', '-a', '.a', '_a', 'a/b', 'a b', 'a:b', 'ä', 'a'.repeat(129)]) {
      expect(codeOf(() => checkKeyName(name))).toBe('ERR_KMS_KEY_NAME_INVALID');
    }
  });

  it('knows aes256-gcm96 and chacha20-poly1305 only', () => {
    expect(checkKeyType('aes256-gcm96')).toBe('aes256-gcm96');
    expect(checkKeyType('chacha20-poly1305')).toBe('chacha20-poly1305');
    for (const type of ['aes128-gcm96', 'rsa-2048', 'toString', '']) {
      expect(codeOf(() => checkKeyType(type))).toBe('ERR_KMS_KEY_TYPE_UNSUPPORTED');
    }
  });
});

describe('rotation', () => {
  it('adds the next version and keeps the old ones', () => {
    const rec = keyWith(3);
    expect(rec.latestVersion).toBe(3);
    expect(Object.keys(rec.versions)).toEqual(['1', '2', '3']);
    expect(rec.versions['3']).toEqual({ createdAt: 3, sealed: 'sealed-3' });
  });
});

describe('configuration (Vault rules)', () => {
  it('sets the minimums within the versions that exist', () => {
    const rec = withConfig(keyWith(3), { minDecryptionVersion: 2, minEncryptionVersion: 3, deletionAllowed: true });
    expect(rec).toMatchObject({ minDecryptionVersion: 2, minEncryptionVersion: 3, deletionAllowed: true });
  });

  it('treats min_decryption_version 0 as 1', () => {
    expect(withConfig(keyWith(2), { minDecryptionVersion: 0 }).minDecryptionVersion).toBe(1);
  });

  it('refuses minimums above the latest version, negative or fractional values', () => {
    const rec = keyWith(3);
    for (const change of [
      { minDecryptionVersion: 4 },
      { minEncryptionVersion: 4 },
      { minDecryptionVersion: -1 },
      { minEncryptionVersion: 1.5 },
    ]) {
      expect(codeOf(() => withConfig(rec, change))).toBe('ERR_KMS_CONFIG_INVALID');
    }
  });

  it('needs min_encryption_version to be 0 or at least min_decryption_version, judged on the final picture', () => {
    const rec = keyWith(3);
    expect(codeOf(() => withConfig(rec, { minDecryptionVersion: 3, minEncryptionVersion: 2 }))).toBe(
      'ERR_KMS_CONFIG_INVALID',
    );
    const floor = withConfig(rec, { minEncryptionVersion: 2 });
    expect(codeOf(() => withConfig(floor, { minDecryptionVersion: 3 }))).toBe('ERR_KMS_CONFIG_INVALID');
    expect(withConfig(floor, { minDecryptionVersion: 3, minEncryptionVersion: 0 }).minEncryptionVersion).toBe(0);
    expect(withConfig(floor, { minDecryptionVersion: 2 }).minDecryptionVersion).toBe(2);
  });

  it('refuses min_decryption_version below trimmed versions', () => {
    const trimmed = withTrim(withConfig(keyWith(3), { minDecryptionVersion: 3, minEncryptionVersion: 3 }), 2);
    expect(codeOf(() => withConfig(trimmed, { minDecryptionVersion: 1 }))).toBe('ERR_KMS_CONFIG_INVALID');
  });
});

describe('trim (Vault rules)', () => {
  const ready = withConfig(keyWith(4), { minDecryptionVersion: 3, minEncryptionVersion: 4 });

  it('drops versions below the new floor', () => {
    const rec = withTrim(ready, 3);
    expect(Object.keys(rec.versions)).toEqual(['3', '4']);
    expect(rec.minAvailableVersion).toBe(3);
  });

  it('needs min_encryption_version set', () => {
    expect(codeOf(() => withTrim(withConfig(keyWith(3), { minDecryptionVersion: 2 }), 2))).toBe('ERR_KMS_TRIM_INVALID');
  });

  it('refuses floors above either minimum, below the current floor, or not positive integers', () => {
    expect(codeOf(() => withTrim(ready, 4))).toBe('ERR_KMS_TRIM_INVALID'); // above min_decryption_version 3
    const lowEnc = withConfig(keyWith(4), { minDecryptionVersion: 3, minEncryptionVersion: 3 });
    expect(codeOf(() => withTrim(lowEnc, 4))).toBe('ERR_KMS_TRIM_INVALID');
    expect(codeOf(() => withTrim(withTrim(ready, 3), 2))).toBe('ERR_KMS_TRIM_INVALID');
    expect(codeOf(() => withTrim(ready, 0))).toBe('ERR_KMS_TRIM_INVALID');
    expect(codeOf(() => withTrim(ready, 2.5))).toBe('ERR_KMS_TRIM_INVALID');
  });

  it('is a no-op at the current floor', () => {
    expect(Object.keys(withTrim(ready, 1).versions)).toEqual(['1', '2', '3', '4']);
  });
});

describe('deletion', () => {
  it('is refused unless allowed, then soft and restorable', () => {
    const rec = keyWith(1);
    expect(codeOf(() => withDeleted(rec, 10))).toBe('ERR_KMS_DELETION_NOT_ALLOWED');
    const deleted = withDeleted(withConfig(rec, { deletionAllowed: true }), 10);
    expect(deleted.deletedAt).toBe(10);
    expect(deleted.versions['1']).toBeDefined();
    expect(withDeleted(deleted, 20).deletedAt).toBe(10);
    const restored = withRestored(deleted);
    expect(restored.deletedAt).toBeNull();
    expect(withRestored(restored)).toBe(restored);
  });

  it('blocks every other operation on a deleted key', () => {
    const deleted = withDeleted(withConfig(keyWith(2), { deletionAllowed: true }), 10);
    expect(codeOf(() => withNewVersion(deleted, 11, 'x'))).toBe('ERR_KMS_KEY_DELETED');
    expect(codeOf(() => withConfig(deleted, { deletionAllowed: false }))).toBe('ERR_KMS_KEY_DELETED');
    expect(codeOf(() => encryptionVersion(deleted))).toBe('ERR_KMS_KEY_DELETED');
    expect(codeOf(() => checkDecryptionVersion(deleted, 1))).toBe('ERR_KMS_KEY_DELETED');
  });
});

describe('versions for encryption and decryption', () => {
  const rec = withConfig(keyWith(4), { minDecryptionVersion: 2, minEncryptionVersion: 3 });

  it('encrypts with the latest by default, or a requested version at or above every minimum', () => {
    expect(encryptionVersion(rec)).toBe(4);
    expect(encryptionVersion(rec, 3)).toBe(3);
    for (const v of [2, 5, 0, 3.5]) expect(codeOf(() => encryptionVersion(rec, v))).toBe('ERR_KMS_VERSION_INVALID');
  });

  it('decrypts only existing versions at or above min_decryption_version', () => {
    for (const v of [2, 3, 4]) expect(codeOf(() => checkDecryptionVersion(rec, v))).toBeUndefined();
    for (const v of [1, 5, 0, -1, 2.5])
      expect(codeOf(() => checkDecryptionVersion(rec, v))).toBe('ERR_KMS_VERSION_INVALID');
  });
});
