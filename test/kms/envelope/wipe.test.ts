import type * as NodeCrypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import type * as Single from '../../../src/kms/envelope/single.js';

/** Buffers that decipher `update` calls returned, and the single-shot keys newSingleKey made, in order. */
const seen = vi.hoisted(() => ({ updates: [] as Buffer[], singleKeys: [] as Array<{ payloadKey: Buffer }> }));

vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof NodeCrypto>();
  const createDecipheriv = ((...args: Parameters<typeof real.createDecipheriv>) => {
    const decipher = real.createDecipheriv(...args);
    const update = decipher.update.bind(decipher) as (data: Buffer) => Buffer;
    decipher.update = ((data: Buffer) => {
      const out = update(data);
      seen.updates.push(out);
      return out;
    }) as typeof decipher.update;
    return decipher;
  }) as typeof real.createDecipheriv;
  return { ...real, createDecipheriv, default: { ...real, createDecipheriv } };
});

vi.mock('../../../src/kms/envelope/single.js', async (importOriginal) => {
  const real = await importOriginal<typeof Single>();
  return {
    ...real,
    newSingleKey: (...args: Parameters<typeof real.newSingleKey>): Single.SingleKey => {
      const key = real.newSingleKey(...args);
      seen.singleKeys.push(key);
      return key;
    },
  };
});

const { StreamKeys } = await import('../../../src/kms/envelope/stream_keys.js');
const { openSealed, sealInto } = await import('../../../src/kms/envelope/seal.js');
const { codeOf, envelopeFixture, flipped, through } = await import('./envelope_fixture.js');

const CONTEXT = { tenant: 'acme' };
const zero = (b: Buffer | undefined) => b !== undefined && b.length > 0 && b.equals(Buffer.alloc(b.length));

describe('zeroization', () => {
  it('openSealed wipes the unauthenticated plaintext when the tag does not verify', () => {
    const key = Buffer.alloc(32, 7);
    const nonce = Buffer.alloc(12, 1);
    const out = Buffer.alloc(32 + 16);
    sealInto('aes-256-gcm', key, nonce, Buffer.alloc(32, 9), [Buffer.from('a')], out, 0);
    seen.updates.length = 0;
    expect(() => openSealed('aes-256-gcm', key, nonce, out, [Buffer.from('b')])).toThrow(/./);
    expect(seen.updates).toHaveLength(1);
    expect(zero(seen.updates[0])).toBe(true);
  });

  it("a stream decrypt that fails in a middle segment wipes the reader's derived keys and what it opened", async () => {
    const { envelopes } = await envelopeFixture();
    const plaintext = Buffer.alloc(3 * 1024, 5);
    const sealed = await through(envelopes.encryptStream('k-aes', CONTEXT, { segmentSize: 1024 }), plaintext);
    const { headerLength } = envelopes.parseHeader(sealed);
    const wipe = vi.spyOn(StreamKeys.prototype, 'wipe');
    try {
      // the second segment is altered: the first opens (and is dropped), the second fails inside write()
      const bad = flipped(sealed, headerLength + 1040 + 10);
      seen.updates.length = 0;
      expect(await codeOf(envelopes.decrypt(bad, CONTEXT))).toBe('ERR_KMS_DECRYPT_FAILED');
      expect(wipe).toHaveBeenCalledTimes(1);
      const opened = seen.updates.filter((b) => b.length === 1024);
      expect(opened).toHaveLength(2); // the authenticated first segment, the unauthenticated second one
      expect(opened.every(zero)).toBe(true);
      expect(seen.updates.every(zero)).toBe(true); // the unwrapped data key too
    } finally {
      wipe.mockRestore();
    }
  });

  it('wipes a fresh data key the cache declines (a message larger than maxBytes) and keeps one it caches', async () => {
    const { envelopes } = await envelopeFixture({ cache: { maxAgeMs: 60_000, maxMessages: 100, maxBytes: 100 } });
    seen.singleKeys.length = 0;
    const big = await envelopes.encrypt('k-aes', Buffer.alloc(101, 1), CONTEXT);
    const small = await envelopes.encrypt('k-aes', Buffer.alloc(10, 1), CONTEXT);
    expect(seen.singleKeys).toHaveLength(2);
    const [declined, cached] = seen.singleKeys;
    expect(zero(declined?.payloadKey)).toBe(true);
    expect(zero(cached?.payloadKey)).toBe(false);
    expect((await envelopes.decrypt(big, CONTEXT)).plaintext.equals(Buffer.alloc(101, 1))).toBe(true);
    expect((await envelopes.decrypt(small, CONTEXT)).plaintext.equals(Buffer.alloc(10, 1))).toBe(true);
  });
});
