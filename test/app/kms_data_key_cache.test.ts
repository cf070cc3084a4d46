import { describe, expect, it } from 'vitest';
import type { PlatformCore } from '../../src/app/compose.js';
import { kmsOperations } from '../../src/app/kms_operations.js';
import { loadConfig } from '../../src/config/index.js';
import { Envelopes, type Keyring } from '../../src/kms/index.js';
import { codeOf, fixture, openKeyring } from '../kms/keyring_fixture.js';

/** The header of a single-shot envelope: everything before nonce ‖ ciphertext ‖ tag. */
function headerOf(text: string, plaintextLength: number): Buffer {
  const bytes = Envelopes.fromText(text);
  return bytes.subarray(0, bytes.length - 12 - plaintextLength - 16);
}

async function operations(dataKeyCache: Record<string, unknown>) {
  const f = fixture();
  const keyring = await openKeyring(f);
  await keyring.createKey('orders', {});
  const config = loadConfig({ overrides: { kms: { dataKeyCache } } });
  const core = { config, clock: f.clock, logger: f.logger, keyring } as unknown as PlatformCore;
  return { ops: kmsOperations(core), logger: f.logger, clock: f.clock, keyring };
}

describe('kms.dataKeyCache', () => {
  const plaintext = Buffer.from('a record of the orders table');
  const context = { table: 'orders' };

  it('is off by default: every transit encrypt wraps a fresh data key', async () => {
    const { ops, logger } = await operations({});
    const a = await ops.encrypt('orders', plaintext, context);
    const b = await ops.encrypt('orders', plaintext, context);
    expect(headerOf(a.ciphertext, plaintext.length).equals(headerOf(b.ciphertext, plaintext.length))).toBe(false);
    expect(logger.lines.some((l) => l['event'] === 'kms_data_key_cache_on')).toBe(false);
  });

  it('when enabled, reuses a data key per key and context within maxMessages, and says so at start', async () => {
    const { ops, logger } = await operations({ enabled: true, maxMessages: 2 });
    expect(logger.lines.find((l) => l['event'] === 'kms_data_key_cache_on')?.level).toBe('warn');
    const [a, b, c] = [
      await ops.encrypt('orders', plaintext, context),
      await ops.encrypt('orders', plaintext, context),
      await ops.encrypt('orders', plaintext, context),
    ];
    const [ha, hb, hc] = [a, b, c].map((x) => headerOf(x.ciphertext, plaintext.length)) as [Buffer, Buffer, Buffer];
    expect(ha.equals(hb)).toBe(true); // one data key for two messages
    expect(hc.equals(ha)).toBe(false); // maxMessages reached: a fresh one
    const other = await ops.encrypt('orders', plaintext, { table: 'billing' });
    expect(headerOf(other.ciphertext, plaintext.length).equals(hc)).toBe(false); // another context, another key
    for (const x of [a, b, c]) {
      expect(await ops.decrypt('orders', x.ciphertext, context)).toMatchObject({ plaintext });
    }
  });

  it('drops a cached data key at maxAge', async () => {
    const { ops, clock } = await operations({ enabled: true, maxAge: '1m' });
    const a = await ops.encrypt('orders', plaintext, context);
    clock.advance(61_000);
    const b = await ops.encrypt('orders', plaintext, context);
    expect(headerOf(a.ciphertext, plaintext.length).equals(headerOf(b.ciphertext, plaintext.length))).toBe(false);
  });

  it('drops cached data keys when a key rotates, so the next message uses the new version', async () => {
    const { ops } = await operations({ enabled: true });
    const a = await ops.encrypt('orders', plaintext, context);
    await ops.keys.rotate('orders');
    const b = await ops.encrypt('orders', plaintext, context);
    expect([a.keyVersion, b.keyVersion]).toEqual([1, 2]);
  });

  describe('follows every key change, whichever API made it (the admin API and CLI call the keyring)', () => {
    /** Encrypts once (caching a data key under v1), applies `change`, then encrypts again. */
    async function afterChange(change: (keyring: Keyring) => Promise<unknown>) {
      const { ops, keyring } = await operations({ enabled: true });
      expect((await ops.encrypt('orders', plaintext, context)).keyVersion).toBe(1);
      await change(keyring);
      return { ops, keyring, next: () => ops.encrypt('orders', plaintext, context) };
    }

    it('delete: encrypt fails with ERR_KMS_KEY_DELETED; after restore it works again', async () => {
      const { ops, keyring, next } = await afterChange(async (keyring) => {
        await keyring.configureKey('orders', { deletionAllowed: true });
        await keyring.deleteKey('orders');
      });
      expect(await codeOf(next())).toBe('ERR_KMS_KEY_DELETED');
      await keyring.restoreKey('orders');
      const sealed = await next();
      expect(await ops.decrypt('orders', sealed.ciphertext, context)).toMatchObject({ plaintext, keyVersion: 1 });
    });

    it('rotate through the admin API (keyring.rotateKey): the next message uses the new version', async () => {
      const { ops, next } = await afterChange((keyring) => keyring.rotateKey('orders'));
      const sealed = await next();
      expect(sealed.keyVersion).toBe(2);
      expect(await ops.decrypt('orders', sealed.ciphertext, context)).toMatchObject({ plaintext });
    });

    it('min_decryption_version raised: what encrypt returns still decrypts', async () => {
      const { ops, next } = await afterChange(async (keyring) => {
        await keyring.rotateKey('orders');
        await keyring.configureKey('orders', { minDecryptionVersion: 2 });
      });
      const sealed = await next();
      expect(sealed.keyVersion).toBe(2);
      expect(await ops.decrypt('orders', sealed.ciphertext, context)).toMatchObject({ plaintext });
    });

    it('trim: encrypt never uses destroyed material', async () => {
      const { ops, keyring, next } = await afterChange(async (keyring) => {
        await keyring.rotateKey('orders');
        await keyring.configureKey('orders', { minDecryptionVersion: 2, minEncryptionVersion: 2 });
        await keyring.trimKey('orders', 2);
      });
      const sealed = [await next(), await next()];
      expect(sealed.map((x) => x.keyVersion)).toEqual([2, 2]);
      expect((await keyring.getKey('orders')).minAvailableVersion).toBe(2);
      for (const x of sealed) expect(await ops.decrypt('orders', x.ciphertext, context)).toMatchObject({ plaintext });
    });
  });

  it('refuses bounds out of range', () => {
    expect(() => loadConfig({ overrides: { kms: { dataKeyCache: { maxMessages: 0 } } } })).toThrow(/maxMessages/);
  });
});
