import { describe, expect, it } from 'vitest';
import { aeadDecrypt, aeadEncrypt } from '../../src/crypto/index.js';
import { Keyring, KEY_TYPES, RootKey } from '../../src/kms/index.js';
import { codeOf, fixture, openKeyring, rawRecords } from './keyring_fixture.js';

describe('Keyring.open and the root check', () => {
  it('initializes the store on first open and reopens with the same root key', async () => {
    const parts = fixture();
    expect(await Keyring.isInitialized(parts.store)).toBe(false);
    await openKeyring(parts);
    expect(await Keyring.isInitialized(parts.store)).toBe(true);
    const again = await openKeyring({ ...parts, root: RootKey.parse(parts.root.toText()) });
    expect(again.rootFingerprint()).toBe(parts.root.fingerprint());
    expect(parts.logger.lines.filter((l) => l.event === 'kms.keyring.initialized')).toHaveLength(1);
  });

  it('refuses another root key with ERR_ROOT_KEY_WRONG and changes nothing', async () => {
    const parts = fixture();
    const keyring = await openKeyring(parts);
    await keyring.createKey('orders');
    const before = await rawRecords(parts.store);
    expect(await codeOf(openKeyring({ ...parts, root: RootKey.generate() }))).toBe('ERR_ROOT_KEY_WRONG');
    expect(await rawRecords(parts.store)).toEqual(before);
  });

  it('refuses a damaged root-check record with ERR_ROOT_KEY_WRONG', async () => {
    const parts = fixture();
    await openKeyring(parts);
    const check = await parts.store.get<{ sealed: string }>('kms_meta', 'root_check');
    const sealed = check?.value.sealed ?? '';
    const damaged = sealed.slice(0, -2) + (sealed.endsWith('AA') ? 'BA' : 'AA');
    await parts.store.write([
      { op: 'update', collection: 'kms_meta', key: 'root_check', value: { ...check?.value, sealed: damaged } },
    ]);
    expect(await codeOf(openKeyring(parts))).toBe('ERR_ROOT_KEY_WRONG');
  });
});

describe('named keys', () => {
  it('creates keys of both types whose material encrypts and decrypts with their AEAD', async () => {
    const keyring = await openKeyring(fixture());
    expect((await keyring.createKey('orders')).type).toBe('aes256-gcm96');
    expect((await keyring.createKey('chat', { type: 'chacha20-poly1305' })).type).toBe('chacha20-poly1305');
    for (const name of ['orders', 'chat']) {
      const enc = await keyring.encryptionKey(name);
      expect(enc).toMatchObject({ name, version: 1 });
      expect(enc.key).toHaveLength(32);
      const sealed = aeadEncrypt(KEY_TYPES[enc.type], enc.key, Buffer.from('payload'), Buffer.from('ctx'));
      const dec = await keyring.decryptionKey(name, 1);
      expect(aeadDecrypt(KEY_TYPES[dec.type], dec.key, sealed, Buffer.from('ctx')).toString()).toBe('payload');
    }
    const orders = await keyring.encryptionKey('orders');
    const chat = await keyring.encryptionKey('chat');
    expect(orders.key.equals(chat.key)).toBe(false);
  });

  it('validates names and types and refuses duplicates', async () => {
    const keyring = await openKeyring(fixture());
    await keyring.createKey('orders');
    expect(await codeOf(keyring.createKey('orders'))).toBe('ERR_KMS_KEY_EXISTS');
    expect(await codeOf(keyring.createKey('bad/name'))).toBe('ERR_KMS_KEY_NAME_INVALID');
    expect(await codeOf(keyring.createKey('x', { type: 'rsa-2048' as never }))).toBe('ERR_KMS_KEY_TYPE_UNSUPPORTED');
    expect(await codeOf(keyring.getKey('missing'))).toBe('ERR_KMS_KEY_NOT_FOUND');
    expect(await codeOf(keyring.encryptionKey('missing'))).toBe('ERR_KMS_KEY_NOT_FOUND');
    expect(await codeOf(keyring.rotateKey('missing'))).toBe('ERR_KMS_KEY_NOT_FOUND');
  });

  it('returns metadata only, and lists keys by name', async () => {
    const { store, clock, root } = fixture();
    const keyring = await openKeyring({ store, clock, root });
    await keyring.createKey('b');
    clock.advance(1000);
    await keyring.createKey('a');
    const info = await keyring.getKey('a');
    expect(info).toEqual({
      name: 'a',
      type: 'aes256-gcm96',
      createdAt: clock.now(),
      latestVersion: 1,
      minDecryptionVersion: 1,
      minEncryptionVersion: 0,
      minAvailableVersion: 1,
      deletionAllowed: false,
      deleted: false,
      deletedAt: null,
      versions: [{ version: 1, createdAt: clock.now(), encryptions: 0 }],
    });
    expect((await keyring.listKeys()).map((k) => k.name)).toEqual(['a', 'b']);
  });

  it('rotates: new encryptions use the new version, old versions still decrypt', async () => {
    const keyring = await openKeyring(fixture());
    await keyring.createKey('orders');
    const v1 = await keyring.encryptionKey('orders');
    const info = await keyring.rotateKey('orders');
    expect(info.latestVersion).toBe(2);
    expect(info.versions.map((v) => v.version)).toEqual([1, 2]);
    const v2 = await keyring.encryptionKey('orders');
    expect(v2.version).toBe(2);
    expect(v2.key.equals(v1.key)).toBe(false);
    expect((await keyring.decryptionKey('orders', 1)).key.equals(v1.key)).toBe(true);
    expect((await keyring.encryptionKey('orders', { version: 1 })).version).toBe(1);
  });

  it('applies min_decryption_version and min_encryption_version', async () => {
    const keyring = await openKeyring(fixture());
    await keyring.createKey('orders');
    await keyring.rotateKey('orders');
    await keyring.rotateKey('orders');
    expect(await codeOf(keyring.configureKey('orders', { minDecryptionVersion: 4 }))).toBe('ERR_KMS_CONFIG_INVALID');
    const info = await keyring.configureKey('orders', { minDecryptionVersion: 2, minEncryptionVersion: 3 });
    expect(info).toMatchObject({ minDecryptionVersion: 2, minEncryptionVersion: 3 });
    expect(await codeOf(keyring.decryptionKey('orders', 1))).toBe('ERR_KMS_VERSION_INVALID');
    expect((await keyring.decryptionKey('orders', 2)).version).toBe(2);
    expect(await codeOf(keyring.decryptionKey('orders', 4))).toBe('ERR_KMS_VERSION_INVALID');
    expect(await codeOf(keyring.encryptionKey('orders', { version: 2 }))).toBe('ERR_KMS_VERSION_INVALID');
    expect((await keyring.encryptionKey('orders')).version).toBe(3);
  });

  it('deletes only when allowed, softly, and restores with the same material', async () => {
    const keyring = await openKeyring(fixture());
    await keyring.createKey('orders');
    const material = (await keyring.encryptionKey('orders')).key;
    expect(await codeOf(keyring.deleteKey('orders'))).toBe('ERR_KMS_DELETION_NOT_ALLOWED');
    await keyring.configureKey('orders', { deletionAllowed: true });
    const deleted = await keyring.deleteKey('orders');
    expect(deleted).toMatchObject({ deleted: true, latestVersion: 1 });
    expect((await keyring.getKey('orders')).deleted).toBe(true);
    expect(await codeOf(keyring.encryptionKey('orders'))).toBe('ERR_KMS_KEY_DELETED');
    expect(await codeOf(keyring.decryptionKey('orders', 1))).toBe('ERR_KMS_KEY_DELETED');
    expect(await codeOf(keyring.rotateKey('orders'))).toBe('ERR_KMS_KEY_DELETED');
    expect(await codeOf(keyring.createKey('orders'))).toBe('ERR_KMS_KEY_EXISTS');
    expect((await keyring.restoreKey('orders')).deleted).toBe(false);
    expect((await keyring.decryptionKey('orders', 1)).key.equals(material)).toBe(true);
  });

  it('trims versions below both minimums, for good', async () => {
    const keyring = await openKeyring(fixture());
    await keyring.createKey('orders');
    await keyring.rotateKey('orders');
    await keyring.rotateKey('orders');
    await keyring.decryptionKey('orders', 1); // cached
    expect(await codeOf(keyring.trimKey('orders', 2))).toBe('ERR_KMS_TRIM_INVALID');
    await keyring.configureKey('orders', { minDecryptionVersion: 2, minEncryptionVersion: 3 });
    const info = await keyring.trimKey('orders', 2);
    expect(info.versions.map((v) => v.version)).toEqual([2, 3]);
    expect(info.minAvailableVersion).toBe(2);
    await keyring.configureKey('orders', { minDecryptionVersion: 2 });
    expect(await codeOf(keyring.configureKey('orders', { minDecryptionVersion: 1 }))).toBe('ERR_KMS_CONFIG_INVALID');
    expect(await codeOf(keyring.decryptionKey('orders', 1))).toBe('ERR_KMS_VERSION_INVALID');
  });

  it('refuses key material moved to another version slot', async () => {
    const parts = fixture();
    const keyring = await openKeyring(parts);
    await keyring.createKey('orders');
    await keyring.rotateKey('orders');
    const stored = await parts.store.get<{ versions: Record<string, { sealed: string }> }>('kms_keys', 'orders');
    const value = stored?.value as { versions: Record<string, { sealed: string; createdAt: number }> };
    value.versions['2'] = { ...value.versions['2'], sealed: value.versions['1']?.sealed ?? '', createdAt: 0 };
    await parts.store.write([{ op: 'update', collection: 'kms_keys', key: 'orders', value }]);
    const fresh = await openKeyring(parts);
    expect(await codeOf(fresh.decryptionKey('orders', 2))).toBe('ERR_SEAL_CORRUPT');
  });

  it('audits lifecycle events with name and version only', async () => {
    const parts = fixture();
    const keyring = await openKeyring(parts);
    await keyring.createKey('orders');
    await keyring.rotateKey('orders');
    await keyring.configureKey('orders', { deletionAllowed: true, minEncryptionVersion: 2 });
    await keyring.trimKey('orders', 1);
    await keyring.deleteKey('orders');
    await keyring.restoreKey('orders');
    const events = parts.logger.lines.filter((l) => String(l.event).startsWith('kms.key.'));
    expect(events.map((l) => l.event)).toEqual([
      'kms.key.created',
      'kms.key.rotated',
      'kms.key.configured',
      'kms.key.trimmed',
      'kms.key.deleted',
      'kms.key.restored',
    ]);
    expect(events.every((l) => l.key_name === 'orders' && l.level === 'info')).toBe(true);
    expect(events[1]?.version).toBe(2);
    const material = [(await keyring.decryptionKey('orders', 1)).key, (await keyring.decryptionKey('orders', 2)).key];
    const logged = JSON.stringify(parts.logger.lines);
    for (const key of material) {
      expect(logged).not.toContain(key.toString('hex'));
      expect(logged).not.toContain(key.toString('base64'));
    }
  });
});

describe('key change hook', () => {
  it('tells every listener the key name after each change, whichever path made it, until unsubscribed', async () => {
    const keyring = await openKeyring(fixture(), { usageBlock: 2, maxEncryptionsPerVersion: 2 });
    await keyring.createKey('orders');
    const seen: string[] = [];
    const off = keyring.onKeyChange((name) => seen.push(name));
    await keyring.rotateKey('orders');
    await keyring.configureKey('orders', { deletionAllowed: true, minDecryptionVersion: 2, minEncryptionVersion: 2 });
    await keyring.trimKey('orders', 2);
    await keyring.deleteKey('orders');
    await keyring.restoreKey('orders');
    expect(seen).toEqual(['orders', 'orders', 'orders', 'orders', 'orders']);
    // the automatic rotation at the usage limit is a change too
    for (let i = 0; i < 3; i++) await keyring.encryptionKey('orders');
    expect((await keyring.getKey('orders')).latestVersion).toBe(3);
    expect(seen).toHaveLength(6);
    // a refused change is told too (its outcome may be unknown; a listener only drops cached state)
    expect(await codeOf(keyring.trimKey('orders', 1))).toBe('ERR_KMS_TRIM_INVALID');
    expect(seen).toHaveLength(7);
    off();
    await keyring.rotateKey('orders');
    expect(seen).toHaveLength(7);
  });

  it('currentVersion is the version encryptionKey uses, refuses deleted keys and counts no use', async () => {
    const keyring = await openKeyring(fixture());
    await keyring.createKey('orders');
    await keyring.rotateKey('orders');
    expect(await keyring.currentVersion('orders')).toBe(2);
    expect((await keyring.getKey('orders')).versions.map((v) => v.encryptions)).toEqual([0, 0]);
    await keyring.configureKey('orders', { deletionAllowed: true });
    await keyring.deleteKey('orders');
    expect(await codeOf(keyring.currentVersion('orders'))).toBe('ERR_KMS_KEY_DELETED');
    expect(await codeOf(keyring.currentVersion('absent'))).toBe('ERR_KMS_KEY_NOT_FOUND');
  });
});

describe('several processes on one store', () => {
  it('interleave writes, retrying when the other one wrote first', async () => {
    const parts = fixture();
    const a = await openKeyring(parts);
    const b = await openKeyring(parts);
    await Promise.all([
      a.createKey('one'),
      b.createKey('two'),
      a.putSecret('s1', Buffer.from('1')),
      b.putSecret('s2', Buffer.from('2')),
    ]);
    await Promise.all([a.rotateKey('two'), b.rotateKey('one'), a.rotateKey('one')]);
    expect((await a.listKeys()).map((k) => [k.name, k.latestVersion])).toEqual([
      ['one', 3],
      ['two', 2],
    ]);
    expect(await b.listSecrets()).toEqual(['s1', 's2']);
  });

  it('create the same key name only once', async () => {
    const parts = fixture();
    const a = await openKeyring(parts);
    const b = await openKeyring(parts);
    const outcomes = await Promise.all([codeOf(a.createKey('orders')), codeOf(b.createKey('orders'))]);
    expect(outcomes.sort()).toEqual(['ERR_KMS_KEY_EXISTS', undefined]);
  });
});

describe('sealed secrets', () => {
  it('puts, gets, replaces, lists by prefix and deletes', async () => {
    const keyring = await openKeyring(fixture());
    await keyring.putSecret('pki/root/key', Buffer.from('root-key-pem'));
    await keyring.putSecret('pki/intermediate/key', Buffer.from('intermediate-key-pem'));
    await keyring.putSecret('identity/signing/1', Buffer.from('signing'));
    expect((await keyring.getSecret('pki/root/key'))?.toString()).toBe('root-key-pem');
    expect(await keyring.getSecret('pki/none')).toBeUndefined();
    expect(await keyring.listSecrets('pki/')).toEqual(['pki/intermediate/key', 'pki/root/key']);
    expect(await keyring.listSecrets()).toHaveLength(3);
    await keyring.putSecret('pki/root/key', Buffer.from('replaced'));
    expect((await keyring.getSecret('pki/root/key'))?.toString()).toBe('replaced');
    await keyring.deleteSecret('pki/root/key');
    await keyring.deleteSecret('pki/root/key');
    expect(await keyring.getSecret('pki/root/key')).toBeUndefined();
    expect(await codeOf(keyring.putSecret('../etc', Buffer.from('x')))).toBe('ERR_KMS_KEY_NAME_INVALID');
  });

  it('refuses a sealed secret copied to another name', async () => {
    const parts = fixture();
    const keyring = await openKeyring(parts);
    await keyring.putSecret('a', Buffer.from('secret a'));
    await keyring.putSecret('b', Buffer.from('secret b'));
    const a = await parts.store.get('kms_secrets', 'a');
    await parts.store.write([{ op: 'update', collection: 'kms_secrets', key: 'b', value: a?.value }]);
    expect(await codeOf(keyring.getSecret('b'))).toBe('ERR_SEAL_CORRUPT');
  });

  it('satisfies the narrow SecretVault port its consumers declare', async () => {
    interface SecretVault {
      putSecret(name: string, value: Buffer): Promise<void>;
      getSecret(name: string): Promise<Buffer | undefined>;
    }
    const vault: SecretVault = await openKeyring(fixture());
    await vault.putSecret('ca', Buffer.from('x'));
    expect((await vault.getSecret('ca'))?.toString()).toBe('x');
  });
});

describe('sealed at rest', () => {
  it('stores no key material or secret in any record, in hex or base64 forms', async () => {
    const parts = fixture();
    const keyring = await openKeyring(parts);
    await keyring.createKey('orders');
    await keyring.createKey('chat', { type: 'chacha20-poly1305' });
    await keyring.rotateKey('orders');
    const secrets = [Buffer.from('-----BEGIN PRIVATE KEY----- token-signing'), Buffer.alloc(32, 0x5a)];
    await keyring.putSecret('identity/signing', secrets[0] as Buffer);
    await keyring.putSecret('pki/ca', secrets[1] as Buffer);
    const material = [
      (await keyring.decryptionKey('orders', 1)).key,
      (await keyring.decryptionKey('orders', 2)).key,
      (await keyring.decryptionKey('chat', 1)).key,
    ];
    const raw = (await rawRecords(parts.store)).join('\n');
    expect(raw).toContain('gh1.');
    for (const bytes of [...material, ...secrets]) {
      for (const form of [
        bytes.toString('hex'),
        bytes.toString('hex').toUpperCase(),
        bytes.toString('base64'),
        bytes.toString('base64url'),
      ]) {
        expect(raw).not.toContain(form.slice(0, 24));
      }
    }
    expect(raw).not.toContain('token-signing');
    expect(raw).not.toContain(parts.root.toText());
  });
});
