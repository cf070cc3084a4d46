import { describe, expect, it } from 'vitest';
import { Envelopes } from '../../../src/kms/index.js';
import { codeOf, envelopeFixture, through } from './envelope_fixture.js';

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
