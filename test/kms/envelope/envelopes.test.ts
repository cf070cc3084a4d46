import { describe, expect, it } from 'vitest';
import { Envelopes } from '../../../src/kms/index.js';
import { codeOf, envelopeFixture, flipped, through } from './envelope_fixture.js';

const CONTEXT = { tenant: 'acme', table: 'orders' };

describe('single-shot envelopes', () => {
  for (const keyName of ['k-aes', 'k-chacha']) {
    it(`round-trips empty, 1-byte and larger plaintexts under ${keyName}`, async () => {
      const { envelopes } = await envelopeFixture();
      for (const size of [0, 1, 15, 16, 17, 1024, 70_000]) {
        const plaintext = Buffer.alloc(size, 0x61 + (size % 26));
        const sealed = await envelopes.encrypt(keyName, plaintext, CONTEXT);
        const opened = await envelopes.decrypt(sealed, { table: 'orders', tenant: 'acme' });
        expect(opened.plaintext.equals(plaintext)).toBe(true);
        expect(opened).toMatchObject({ keyName, keyVersion: 1 });
        expect(envelopes.inspect(sealed)).toEqual({ keyName, keyVersion: 1, mode: 'single' });
      }
    });
  }

  it('refuses a different, missing or extra context', async () => {
    const { envelopes } = await envelopeFixture();
    const sealed = await envelopes.encrypt('k-aes', Buffer.from('secret'), CONTEXT);
    expect(await codeOf(envelopes.decrypt(sealed, { ...CONTEXT, tenant: 'acmf' }))).toBe('ERR_KMS_DECRYPT_FAILED');
    expect(await codeOf(envelopes.decrypt(sealed))).toBe('ERR_KMS_DECRYPT_FAILED');
    expect(await codeOf(envelopes.decrypt(sealed, { ...CONTEXT, x: '' }))).toBe('ERR_KMS_DECRYPT_FAILED');
  });

  it('gives the text form gh1:base64 and reads it back', async () => {
    const { envelopes } = await envelopeFixture();
    const sealed = await envelopes.encrypt('k-aes', Buffer.from('x'));
    const text = Envelopes.toText(sealed);
    expect(text.startsWith('gh1:')).toBe(true);
    expect(Envelopes.fromText(text).equals(sealed)).toBe(true);
  });
});

describe('stream envelopes', () => {
  it('round-trips sizes around segment boundaries', async () => {
    const { envelopes } = await envelopeFixture();
    const segmentSize = 1024;
    for (const size of [0, 1, 1023, 1024, 1025, 2048, 3000]) {
      const plaintext = Buffer.alloc(size, 7);
      const sealed = await through(envelopes.encryptStream('k-chacha', CONTEXT, { segmentSize }), plaintext, 333);
      const opened = await through(envelopes.decryptStream(CONTEXT), sealed, 500);
      expect(opened.equals(plaintext)).toBe(true);
      expect((await envelopes.decrypt(sealed, CONTEXT)).plaintext.equals(plaintext)).toBe(true);
    }
  });
});

const DECRYPT_OR_HEADER = ['ERR_KMS_DECRYPT_FAILED', 'ERR_KMS_KEY_NOT_FOUND', 'ERR_KMS_VERSION_INVALID'];

describe('tampering and bad input', () => {
  for (const keyName of ['k-aes', 'k-chacha']) {
    it(`refuses every single-bit flip of every byte of a ${keyName} envelope`, async () => {
      const { envelopes } = await envelopeFixture();
      const sealed = await envelopes.encrypt(keyName, Buffer.from('tiny'), CONTEXT);
      for (let i = 0; i < sealed.length; i++) {
        for (const bit of [0, 7]) {
          const code = await codeOf(envelopes.decrypt(flipped(sealed, i, bit), CONTEXT));
          expect(DECRYPT_OR_HEADER, `byte ${i} bit ${bit}`).toContain(code);
        }
      }
    });
  }

  it('refuses every truncation and an appended byte with ERR_KMS_DECRYPT_FAILED', async () => {
    const { envelopes } = await envelopeFixture();
    const sealed = await envelopes.encrypt('k-aes', Buffer.from('some bytes'), CONTEXT);
    for (let length = 0; length < sealed.length; length++) {
      expect(await codeOf(envelopes.decrypt(sealed.subarray(0, length), CONTEXT))).toBe('ERR_KMS_DECRYPT_FAILED');
    }
    const longer = Buffer.concat([sealed, Buffer.from([0])]);
    expect(await codeOf(envelopes.decrypt(longer, CONTEXT))).toBe('ERR_KMS_DECRYPT_FAILED');
  });

  it('refuses garbage, the wrong magic and foreign versions with fixed messages', async () => {
    const { envelopes } = await envelopeFixture();
    for (const garbage of [Buffer.alloc(0), Buffer.from('vault:v1:abc'), Buffer.alloc(300, 0xff)]) {
      const error = await envelopes.decrypt(garbage).catch((err: unknown) => err);
      expect(error).toMatchObject({ code: 'ERR_KMS_DECRYPT_FAILED', message: 'Decryption failed' });
    }
    const sealed = await envelopes.encrypt('k-aes', Buffer.from('x'));
    const v2 = Buffer.from(sealed);
    v2[4] = 2;
    expect(await codeOf(envelopes.decrypt(v2))).toBe('ERR_KMS_DECRYPT_FAILED');
    expect(() => envelopes.inspect(v2)).toThrow('Decryption failed');
  });

  it('names absent keys and versions: unknown key, unknown version, deleted key', async () => {
    const { envelopes, keyring } = await envelopeFixture();
    expect(await codeOf(envelopes.encrypt('nope', Buffer.from('x')))).toBe('ERR_KMS_KEY_NOT_FOUND');
    const sealed = await envelopes.encrypt('k-aes', Buffer.from('x'));
    const v9 = Buffer.from(sealed);
    v9.writeUInt32BE(9, 8 + 'k-aes'.length);
    expect(await codeOf(envelopes.decrypt(v9))).toBe('ERR_KMS_VERSION_INVALID');
    await keyring.configureKey('k-aes', { deletionAllowed: true });
    await keyring.deleteKey('k-aes');
    expect(await codeOf(envelopes.decrypt(sealed))).toBe('ERR_KMS_KEY_DELETED');
  });

  it('refuses invalid contexts with ERR_KMS_CONTEXT_INVALID', async () => {
    const { envelopes } = await envelopeFixture();
    const bad = [
      { a: 1 },
      { '': 'x' },
      { a: '\ud800' },
      [] as unknown,
      Object.fromEntries([...Array(65).keys()].map((i) => [`k${i}`, 'v'])),
    ];
    for (const context of bad) {
      expect(await codeOf(envelopes.encrypt('k-aes', Buffer.from('x'), context as Record<string, string>))).toBe(
        'ERR_KMS_CONTEXT_INVALID',
      );
    }
  });

  it('refuses text that is not gh1: canonical base64', () => {
    for (const text of ['vault:v1:AAAA', 'gh1:AAA', 'gh1:AA==x', 'gh1:A B=']) {
      expect(() => Envelopes.fromText(text)).toThrow('Decryption failed');
    }
  });
});

describe('rewrap', () => {
  it('moves a ciphertext to the latest version without touching its payload, and survives min_decryption_version', async () => {
    const { envelopes, keyring } = await envelopeFixture();
    const plaintext = Buffer.from('rotate me');
    const old = await envelopes.encrypt('k-chacha', plaintext, CONTEXT);
    await keyring.rotateKey('k-chacha');
    const fresh = await envelopes.rewrap(old, CONTEXT);
    expect(envelopes.inspect(fresh)).toEqual({ keyName: 'k-chacha', keyVersion: 2, mode: 'single' });
    const { headerLength, prefixLength } = envelopes.parseHeader(old);
    expect(fresh.length).toBe(old.length);
    expect(fresh.subarray(0, prefixLength).equals(old.subarray(0, prefixLength))).toBe(true);
    expect(fresh.subarray(prefixLength + 64).equals(old.subarray(prefixLength + 64))).toBe(true);
    expect(fresh.subarray(prefixLength, prefixLength + 64).equals(old.subarray(prefixLength, prefixLength + 64))).toBe(
      false,
    );
    expect(headerLength).toBe(prefixLength + 96);
    // the old version still decrypts until min_decryption_version moves past it
    expect((await envelopes.decrypt(old, CONTEXT)).plaintext.equals(plaintext)).toBe(true);
    expect((await envelopes.decrypt(fresh, CONTEXT)).plaintext.equals(plaintext)).toBe(true);
    await keyring.configureKey('k-chacha', { minDecryptionVersion: 2 });
    expect(await codeOf(envelopes.decrypt(old, CONTEXT))).toBe('ERR_KMS_VERSION_INVALID');
    expect(await codeOf(envelopes.rewrap(old, CONTEXT))).toBe('ERR_KMS_VERSION_INVALID');
    expect((await envelopes.decrypt(fresh, CONTEXT)).keyVersion).toBe(2);
  });

  it('needs the same context and refuses a tampered envelope', async () => {
    const { envelopes, keyring } = await envelopeFixture();
    const sealed = await envelopes.encrypt('k-aes', Buffer.from('x'), CONTEXT);
    await keyring.rotateKey('k-aes');
    expect(await codeOf(envelopes.rewrap(sealed, { tenant: 'other' }))).toBe('ERR_KMS_DECRYPT_FAILED');
    const { prefixLength } = envelopes.parseHeader(sealed);
    const badCommitment = flipped(sealed, prefixLength + 70);
    expect(await codeOf(envelopes.rewrap(badCommitment, CONTEXT))).toBe('ERR_KMS_DECRYPT_FAILED');
  });

  it('rewrites a stream header in place (same length) and the stream still decrypts', async () => {
    const { envelopes, keyring } = await envelopeFixture();
    const plaintext = Buffer.alloc(5000, 3);
    const sealed = await through(envelopes.encryptStream('k-aes', CONTEXT, { segmentSize: 2048 }), plaintext);
    await keyring.rotateKey('k-aes');
    const first = sealed.subarray(0, 275);
    const header = await envelopes.rewrapHeader(first, CONTEXT);
    const { headerLength } = envelopes.parseHeader(sealed);
    expect(header.length).toBe(headerLength);
    const rewrapped = Buffer.concat([header, sealed.subarray(headerLength)]);
    expect(envelopes.inspect(rewrapped)).toEqual({ keyName: 'k-aes', keyVersion: 2, mode: 'stream' });
    expect((await through(envelopes.decryptStream(CONTEXT), rewrapped)).equals(plaintext)).toBe(true);
    expect((await envelopes.rewrap(sealed, CONTEXT)).equals(rewrapped)).toBe(false);
  });
});

describe('data keys', () => {
  it('returns plaintext + wrapped, or wrapped only, and unwraps with the same context', async () => {
    const { envelopes, keyring } = await envelopeFixture();
    const withPlain = await envelopes.dataKey('k-aes', CONTEXT, { plaintext: true });
    expect(withPlain.plaintext?.length).toBe(32);
    const wrappedOnly = await envelopes.dataKey('k-aes', CONTEXT, { plaintext: false });
    expect(wrappedOnly.plaintext).toBeUndefined();
    expect(Object.keys(wrappedOnly).sort()).toEqual(['keyName', 'keyVersion', 'wrapped']);
    const opened = await envelopes.unwrapDataKey(wrappedOnly.wrapped, CONTEXT);
    expect(opened.plaintext.length).toBe(32);
    expect(opened.plaintext.equals(withPlain.plaintext ?? Buffer.alloc(0))).toBe(false);
    expect(
      (await envelopes.unwrapDataKey(withPlain.wrapped, CONTEXT)).plaintext.equals(
        withPlain.plaintext ?? Buffer.alloc(0),
      ),
    ).toBe(true);
    expect(await codeOf(envelopes.unwrapDataKey(wrappedOnly.wrapped, {}))).toBe('ERR_KMS_DECRYPT_FAILED');
    expect(await codeOf(envelopes.decrypt(wrappedOnly.wrapped, CONTEXT))).toBe('ERR_KMS_DECRYPT_FAILED');
    for (let i = 0; i < wrappedOnly.wrapped.length; i++) {
      expect(DECRYPT_OR_HEADER).toContain(
        await codeOf(envelopes.unwrapDataKey(flipped(wrappedOnly.wrapped, i), CONTEXT)),
      );
    }
    await keyring.rotateKey('k-aes');
    const rewrapped = await envelopes.rewrap(wrappedOnly.wrapped, CONTEXT);
    expect((await envelopes.unwrapDataKey(rewrapped, CONTEXT)).plaintext.equals(opened.plaintext)).toBe(true);
    expect(envelopes.inspect(rewrapped)).toEqual({ keyName: 'k-aes', keyVersion: 2, mode: 'datakey' });
  });
});
