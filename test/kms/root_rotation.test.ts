import { describe, expect, it } from 'vitest';
import { GatehouseError, type RecordStore, type WriteOp } from '../../src/core/index.js';
import { RootKey, sealedFingerprint } from '../../src/kms/index.js';
import { codeOf, fixture, openKeyring, rawRecords } from './keyring_fixture.js';

async function populated() {
  const parts = fixture();
  const keyring = await openKeyring(parts);
  await keyring.createKey('orders');
  await keyring.rotateKey('orders');
  await keyring.createKey('chat', { type: 'chacha20-poly1305' });
  await keyring.configureKey('chat', { deletionAllowed: true });
  await keyring.deleteKey('chat');
  await keyring.putSecret('pki/root/key', Buffer.from('root ca key'));
  await keyring.putSecret('identity/signing/1', Buffer.from('signing key'));
  const material = {
    o1: (await keyring.decryptionKey('orders', 1)).key,
    o2: (await keyring.decryptionKey('orders', 2)).key,
  };
  return { parts, keyring, material };
}

/** The fingerprints named by every sealed blob in the store. */
async function fingerprints(store: RecordStore): Promise<Set<string>> {
  const raw = (await rawRecords(store)).join(' ');
  return new Set([...raw.matchAll(/gh1\.[0-9a-f]{16}\.[A-Za-z0-9_-]+/g)].map((m) => sealedFingerprint(m[0]) ?? ''));
}

describe('rotateRoot', () => {
  it('re-seals everything under the new root; the new root reopens and the old one fails', async () => {
    const { parts, keyring, material } = await populated();
    const newRoot = RootKey.generate();
    const counts = await keyring.rotateRoot(newRoot);
    expect(counts).toEqual({ keys: 2, versions: 3, secrets: 2 });
    expect(keyring.rootFingerprint()).toBe(newRoot.fingerprint());
    expect(await fingerprints(parts.store)).toEqual(new Set([newRoot.fingerprint()]));

    expect(await codeOf(openKeyring({ ...parts }))).toBe('ERR_ROOT_KEY_WRONG');
    const reopened = await openKeyring({ ...parts, root: newRoot });
    expect((await reopened.decryptionKey('orders', 1)).key.equals(material.o1)).toBe(true);
    expect((await reopened.encryptionKey('orders')).key.equals(material.o2)).toBe(true);
    expect((await reopened.getSecret('pki/root/key'))?.toString()).toBe('root ca key');
    expect((await reopened.restoreKey('chat')).deleted).toBe(false);
    expect((await reopened.decryptionKey('chat', 1)).key).toHaveLength(32);

    await keyring.createKey('after');
    await keyring.putSecret('after', Buffer.from('x'));
    expect((await reopened.getSecret('after'))?.toString()).toBe('x');
    expect(await fingerprints(parts.store)).toEqual(new Set([newRoot.fingerprint()]));
    const logged = parts.logger.lines.find((l) => l.event === 'kms.root.rotated');
    expect(logged).toMatchObject({ from: parts.root.fingerprint(), to: newRoot.fingerprint(), keys: 2 });
    expect(JSON.stringify(parts.logger.lines)).not.toContain(newRoot.toText());
  });

  it('leaves everything under the old root when the write fails', async () => {
    const { parts } = await populated();
    let failing = true;
    const flaky: RecordStore = Object.assign(Object.create(parts.store) as RecordStore, {
      write: async (ops: readonly WriteOp[]) => {
        if (failing && ops.length > 1) throw new GatehouseError('ERR_STORE_UNAVAILABLE');
        return parts.store.write(ops);
      },
    });
    const keyring = await openKeyring({ ...parts, store: flaky });
    const newRoot = RootKey.generate();
    expect(await codeOf(keyring.rotateRoot(newRoot))).toBe('ERR_STORE_UNAVAILABLE');
    expect(keyring.rootFingerprint()).toBe(parts.root.fingerprint());
    expect(await fingerprints(parts.store)).toEqual(new Set([parts.root.fingerprint()]));
    expect(await codeOf(openKeyring({ ...parts, root: newRoot }))).toBe('ERR_ROOT_KEY_WRONG');
    expect((await (await openKeyring(parts)).getSecret('pki/root/key'))?.toString()).toBe('root ca key');
    failing = false;
    await keyring.rotateRoot(newRoot);
    expect(await fingerprints(parts.store)).toEqual(new Set([newRoot.fingerprint()]));
  });

  it('fails atomically when another process changes a key between the read and the write', async () => {
    const { parts } = await populated();
    const other = await openKeyring(parts);
    let raced = false;
    const racing: RecordStore = Object.assign(Object.create(parts.store) as RecordStore, {
      write: async (ops: readonly WriteOp[]) => {
        if (!raced && ops.length > 1) {
          raced = true;
          await other.rotateKey('orders');
        }
        return parts.store.write(ops);
      },
    });
    const keyring = await openKeyring({ ...parts, store: racing });
    const newRoot = RootKey.generate();
    expect(await codeOf(keyring.rotateRoot(newRoot))).toBe('ERR_STORE_CONFLICT');
    expect(await fingerprints(parts.store)).toEqual(new Set([parts.root.fingerprint()]));
    expect((await (await openKeyring(parts)).getKey('orders')).latestVersion).toBe(3);
  });

  it('stops another process that still seals with the old root from writing anything', async () => {
    const { parts, keyring } = await populated();
    const stale = await openKeyring(parts);
    const newRoot = RootKey.generate();
    await keyring.rotateRoot(newRoot);
    expect(await codeOf(stale.createKey('late'))).toBe('ERR_ROOT_KEY_WRONG');
    expect(await codeOf(stale.putSecret('late', Buffer.from('x')))).toBe('ERR_ROOT_KEY_WRONG');
    expect(await codeOf(stale.rotateKey('orders'))).toBe('ERR_ROOT_KEY_WRONG');
    expect(await codeOf(stale.configureKey('orders', { deletionAllowed: true }))).toBe('ERR_ROOT_KEY_WRONG');
    // What was re-sealed under the new root cannot be opened: not corrupt, sealed under a key it does not hold yet.
    expect(await codeOf(stale.getSecret('pki/root/key'))).toBe('ERR_ROOT_KEY_NOT_HELD');
    expect(await fingerprints(parts.store)).toEqual(new Set([newRoot.fingerprint()]));
    expect(await parts.store.get('kms_keys', 'late')).toBeUndefined();
    // The rotating process and a process opened with the new root keep writing.
    const fresh = await openKeyring({ ...parts, root: newRoot });
    await fresh.putSecret('late', Buffer.from('y'));
    await keyring.createKey('later');
    expect((await fresh.getKey('later')).latestVersion).toBe(1);
  });

  it('lets another process adopt the rotated root: it opens the re-sealed data and writes again', async () => {
    const { parts, keyring, material } = await populated();
    const other = await openKeyring(parts);
    const newRoot = RootKey.generate();
    await keyring.rotateRoot(newRoot);
    await keyring.putSecret('sealed-after', Buffer.from('new'));
    expect(await other.storedRootFingerprint()).toBe(newRoot.fingerprint());
    expect(other.rootFingerprint()).toBe(parts.root.fingerprint());

    // A key that does not open the store is refused and changes nothing; the current one is no change.
    expect(await codeOf(other.adoptRoot(RootKey.generate()))).toBe('ERR_ROOT_KEY_WRONG');
    expect(await codeOf(other.adoptRoot(parts.root))).toBe('ERR_ROOT_KEY_WRONG');
    expect(other.rootFingerprint()).toBe(parts.root.fingerprint());
    expect(await codeOf(other.putSecret('late', Buffer.from('x')))).toBe('ERR_ROOT_KEY_WRONG');

    expect(await other.adoptRoot(newRoot)).toBe(true);
    expect(await other.adoptRoot(newRoot)).toBe(false);
    expect(other.rootFingerprint()).toBe(newRoot.fingerprint());
    expect((await other.getSecret('sealed-after'))?.toString()).toBe('new');
    expect((await other.decryptionKey('orders', 1)).key.equals(material.o1)).toBe(true);
    await other.putSecret('late', Buffer.from('x'));
    await other.createKey('late');
    await other.rotateKey('orders');
    // Everything it wrote is sealed under the new root, which the rotating process and a fresh open read.
    expect(await fingerprints(parts.store)).toEqual(new Set([newRoot.fingerprint()]));
    expect((await keyring.getSecret('late'))?.toString()).toBe('x');
    const fresh = await openKeyring({ ...parts, root: newRoot });
    expect((await fresh.getKey('orders')).latestVersion).toBe(3);
    expect(parts.logger.lines.find((l) => l.event === 'kms.root.adopted')).toMatchObject({
      from: parts.root.fingerprint(),
      to: newRoot.fingerprint(),
    });
  });
});
