import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { kmsStreams } from '../../src/app/kms_streams.js';
import { codeOf, envelopeFixture } from '../kms/envelope/envelope_fixture.js';

/** Everything `stream` yields, or its error. */
async function drain(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

// A ciphertext whose header announces a valid length but holds a bad key name (a byte changed by a text pipe, for
// example) threw from inside the header tap's transform: an uncaught exception that stopped the whole `gatehouse up`
// process (identity, CA, gateway and all) on one `gatehouse kms decrypt` of a damaged file.
describe('KMS streams on a malformed envelope header', () => {
  it('fail the call with ERR_KMS_DECRYPT_FAILED (decrypt, verify and rewrap), and nothing is thrown outside it', async () => {
    const { envelopes } = await envelopeFixture();
    const streams = kmsStreams(envelopes);
    const sealed = streams.encrypt('k-aes', { tenant: 'acme' }, Readable.from([Buffer.from('secret payload')]));
    const cipher = await drain(sealed.output);
    expect((await sealed.header).keyName).toBe('k-aes');
    const damaged = Buffer.from(cipher);
    damaged[9] = 0xff; // inside the key name: the announced header length still parses
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => void uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    try {
      const context = { tenant: 'acme' };
      const decrypted = streams.decrypt(context, Readable.from([damaged]));
      expect(await codeOf(drain(decrypted.output))).toBe('ERR_KMS_DECRYPT_FAILED');
      expect(await codeOf(decrypted.header)).toBe('ERR_KMS_DECRYPT_FAILED');
      expect(await codeOf(streams.verify(context, Readable.from([damaged])))).toBe('ERR_KMS_DECRYPT_FAILED');
      const rewrapped = streams.rewrap(context, Readable.from([damaged]));
      expect(await codeOf(drain(rewrapped.output))).toBe('ERR_KMS_DECRYPT_FAILED');
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUncaught);
    }
    expect(uncaught).toEqual([]);
    // the same streams still work afterwards
    const opened = streams.decrypt({ tenant: 'acme' }, Readable.from([cipher]));
    expect((await drain(opened.output)).toString()).toBe('secret payload');
  });
});
