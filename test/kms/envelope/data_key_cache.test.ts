import { describe, expect, it } from 'vitest';
import { Envelopes, Keyring, type KeyMaterialSource } from '../../../src/kms/index.js';
import { codeOf, envelopeFixture } from './envelope_fixture.js';

const CONTEXT = { tenant: 'acme' };

/** The wrap section of a single-shot envelope: equal wrap sections mean the same cached data key. */
function wrapOf(envelopes: Envelopes, sealed: Buffer): string {
  const { prefixLength } = envelopes.parseHeader(sealed);
  return sealed.subarray(prefixLength, prefixLength + 64).toString('hex');
}

async function sealMany(envelopes: Envelopes, sizes: number[], context = CONTEXT): Promise<string[]> {
  const wraps: string[] = [];
  for (const size of sizes) {
    const sealed = await envelopes.encrypt('k-aes', Buffer.alloc(size, 1), context);
    expect((await envelopes.decrypt(sealed, context)).plaintext.length).toBe(size);
    wraps.push(wrapOf(envelopes, sealed));
  }
  return wraps;
}

const BIG = { maxAgeMs: 60_000, maxMessages: 1_000, maxBytes: 1 << 30 };

describe('data-key cache', () => {
  it('is off by default: every encryption draws a fresh data key', async () => {
    const { envelopes } = await envelopeFixture();
    const wraps = await sealMany(envelopes, [1, 1, 1]);
    expect(new Set(wraps).size).toBe(3);
  });

  it('reuses a key for at most maxMessages messages, with a fresh nonce each time', async () => {
    const { envelopes } = await envelopeFixture({ cache: { ...BIG, maxMessages: 3 } });
    const first = await envelopes.encrypt('k-aes', Buffer.alloc(8), CONTEXT);
    const second = await envelopes.encrypt('k-aes', Buffer.alloc(8), CONTEXT);
    expect(wrapOf(envelopes, first)).toBe(wrapOf(envelopes, second));
    expect(first.equals(second)).toBe(false);
    const wraps = await sealMany(envelopes, [1, 1, 1, 1]);
    expect(wraps[0]).toBe(wrapOf(envelopes, first));
    expect(wraps[1]).not.toBe(wraps[0]);
    expect(wraps.slice(1, 4)).toEqual([wraps[1], wraps[1], wraps[1]]);
  });

  it('retires a key before it would pass maxBytes and never caches a message larger than maxBytes', async () => {
    const { envelopes } = await envelopeFixture({ cache: { ...BIG, maxBytes: 100 } });
    const [a, b, c, d] = await sealMany(envelopes, [60, 40, 1, 1]);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(d).toBe(c);
    const [big1, big2, small] = await sealMany(envelopes, [101, 101, 1]);
    expect(big1).not.toBe(big2);
    expect(small).toBe(d);
  });

  it('retires a key at maxAgeMs (ManualClock edges)', async () => {
    const { envelopes, clock } = await envelopeFixture({ cache: { ...BIG, maxAgeMs: 1_000 } });
    const [a] = await sealMany(envelopes, [1]);
    clock.advance(999);
    const [b] = await sealMany(envelopes, [1]);
    clock.advance(1);
    const [c] = await sealMany(envelopes, [1]);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

  it('keys the cache by key name and exact context, and bounds its entries', async () => {
    const { envelopes } = await envelopeFixture({ cache: { ...BIG, maxEntries: 2 } });
    const [a] = await sealMany(envelopes, [1], { tenant: 'a' });
    const [b] = await sealMany(envelopes, [1], { tenant: 'b' });
    expect(a).not.toBe(b);
    const chacha = await envelopes.encrypt('k-chacha', Buffer.alloc(1), { tenant: 'a' });
    expect(wrapOf(envelopes, chacha)).not.toBe(a);
    // three entries were made with room for two: the oldest ({tenant: a} under k-aes) was evicted
    const [again] = await sealMany(envelopes, [1], { tenant: 'a' });
    expect(again).not.toBe(a);
    const [bAgain] = await sealMany(envelopes, [1], { tenant: 'b' });
    expect(bAgain).not.toBe(b);
  });

  it('clearCache forgets cached keys', async () => {
    const { envelopes } = await envelopeFixture({ cache: BIG });
    const [a] = await sealMany(envelopes, [1]);
    envelopes.clearCache();
    const [b] = await sealMany(envelopes, [1]);
    expect(b).not.toBe(a);
  });

  it("follows another process's key changes within the keyring's metadata lifetime (1 s)", async () => {
    const { envelopes, keyring, store, root, clock } = await envelopeFixture({ cache: BIG });
    const other = await Keyring.open({ store, root, clock }); // another replica on the same storage
    const sealed: Buffer[] = [];
    const seal = async () => {
      const out = await envelopes.encrypt('k-aes', Buffer.from('record'), CONTEXT);
      sealed.push(out);
      return envelopes.inspect(out).keyVersion;
    };
    expect(await seal()).toBe(1);
    await other.rotateKey('k-aes');
    clock.advance(1_000);
    expect(await seal()).toBe(2);
    await other.configureKey('k-aes', { minDecryptionVersion: 2, minEncryptionVersion: 2 });
    await other.trimKey('k-aes', 2);
    await other.rotateKey('k-aes');
    clock.advance(1_000);
    expect(await seal()).toBe(3);
    for (const out of sealed.slice(1))
      expect((await envelopes.decrypt(out, CONTEXT)).plaintext.toString()).toBe('record');
    await other.configureKey('k-aes', { deletionAllowed: true });
    await other.deleteKey('k-aes');
    clock.advance(1_000);
    expect(await codeOf(envelopes.encrypt('k-aes', Buffer.from('record'), CONTEXT))).toBe('ERR_KMS_KEY_DELETED');
    expect((await keyring.getKey('k-aes')).deleted).toBe(true);
  });

  it("drops a key's cached data keys when the keyring changes it, before any hit could re-check", async () => {
    const { keyring, clock } = await envelopeFixture();
    // a source whose metadata view is stale (as a replica's is for up to a second): only the hook can help
    const stale: KeyMaterialSource = {
      encryptionKey: (name) => keyring.encryptionKey(name),
      decryptionKey: (name, version) => keyring.decryptionKey(name, version),
      currentVersion: () => Promise.resolve(1),
      onKeyChange: (listener) => keyring.onKeyChange(listener),
    };
    const envelopes = new Envelopes({ keys: stale, clock, cache: BIG });
    const [a] = await sealMany(envelopes, [1]);
    const chacha = wrapOf(envelopes, await envelopes.encrypt('k-chacha', Buffer.alloc(1), CONTEXT));
    await keyring.rotateKey('k-aes');
    const after = await envelopes.encrypt('k-aes', Buffer.alloc(1), CONTEXT);
    expect(wrapOf(envelopes, after)).not.toBe(a);
    expect(envelopes.inspect(after).keyVersion).toBe(2);
    // another key's cached data key stays
    expect(wrapOf(envelopes, await envelopes.encrypt('k-chacha', Buffer.alloc(1), CONTEXT))).toBe(chacha);
  });

  it('a key read in flight during a change here does not bring the old version back for the metadata lifetime', async () => {
    const { envelopes, keyring, store, clock } = await envelopeFixture({ cache: BIG });
    expect(envelopes.inspect(await envelopes.encrypt('k-aes', Buffer.from('a'), CONTEXT)).keyVersion).toBe(1);
    clock.advance(2_000); // the metadata cache expired: the next encrypt reads the key record
    const get = store.get.bind(store);
    let release: () => void = () => {};
    let held = false;
    store.get = (async (collection: string, key: string) => {
      const record = await get(collection, key);
      if (!held && key === 'k-aes' && collection.startsWith('kms_key')) {
        held = true; // this read returns the record as it was before the rotation below, after the rotation
        await new Promise<void>((resolve) => (release = resolve));
      }
      return record;
    }) as typeof store.get;
    const inFlight = envelopes.encrypt('k-aes', Buffer.from('b'), CONTEXT);
    for (let i = 0; i < 50 && !held; i += 1) await new Promise((r) => setImmediate(r));
    expect(held).toBe(true);
    await keyring.rotateKey('k-aes');
    await keyring.configureKey('k-aes', { minDecryptionVersion: 2 });
    release();
    await inFlight; // it began before the change: either version is a correct answer for it
    // Every encryption that starts after the change returned uses version 2, without waiting out the lifetime.
    const after = await envelopes.encrypt('k-aes', Buffer.from('c'), CONTEXT);
    expect(envelopes.inspect(after).keyVersion).toBe(2);
    expect((await envelopes.decrypt(after, CONTEXT)).plaintext.toString()).toBe('c');
  });

  it('refuses invalid bounds with ERR_CONFIG_INVALID', async () => {
    const { keyring, clock } = await envelopeFixture();
    const bad = [
      { ...BIG, maxAgeMs: 0 },
      { ...BIG, maxMessages: 2 ** 32 + 1 },
      { ...BIG, maxBytes: -1 },
      { ...BIG, maxEntries: 0 },
      { ...BIG, maxMessages: 1.5 },
    ];
    for (const cache of bad) {
      expect(await codeOf(() => new Envelopes({ keys: keyring, clock, cache }))).toBe('ERR_CONFIG_INVALID');
    }
  });
});
