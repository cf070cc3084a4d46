import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { codeOf, envelopeFixture, flipped, through } from './envelope_fixture.js';

const CONTEXT = { object: 'photos/cat.jpg' };
const SEGMENT = 1024;
const SEALED_SEGMENT = SEGMENT + 16;

/** A stream envelope of `size` bytes and its segments cut apart: header, then each sealed segment. */
async function sealedStream(size: number, keyName = 'k-aes') {
  const { envelopes, keyring } = await envelopeFixture();
  const plaintext = Buffer.alloc(size);
  for (let i = 0; i < size; i++) plaintext[i] = i % 251;
  const sealed = await through(envelopes.encryptStream(keyName, CONTEXT, { segmentSize: SEGMENT }), plaintext, 700);
  const { headerLength } = envelopes.parseHeader(sealed);
  const header = sealed.subarray(0, headerLength);
  const segments: Buffer[] = [];
  for (let at = headerLength; at < sealed.length; at += SEALED_SEGMENT) {
    segments.push(sealed.subarray(at, at + SEALED_SEGMENT));
  }
  return { envelopes, keyring, plaintext, sealed, header, segments };
}

describe('stream envelopes: round trips', () => {
  for (const keyName of ['k-aes', 'k-chacha']) {
    it(`round-trips 0, 1 and sizes around segment boundaries under ${keyName}, through decrypt and verify`, async () => {
      for (const size of [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 2 * SEGMENT, 3 * SEGMENT + 5]) {
        const { envelopes, plaintext, sealed, segments } = await sealedStream(size, keyName);
        expect(segments.length).toBe(Math.max(1, Math.ceil(size / SEGMENT)));
        for (const chunk of [1, 17, 4096]) {
          expect((await through(envelopes.decryptStream(CONTEXT), sealed, chunk)).equals(plaintext)).toBe(true);
        }
        await pipeline(Readable.from([sealed]), envelopes.verifyStream(CONTEXT));
        expect((await envelopes.decrypt(sealed, CONTEXT)).plaintext.equals(plaintext)).toBe(true);
      }
    });
  }

  it('uses 64 KiB segments by default and refuses sizes out of bounds', async () => {
    const { envelopes } = await envelopeFixture();
    const sealed = await through(envelopes.encryptStream('k-aes'), Buffer.alloc(70_000));
    expect(envelopes.parseHeader(sealed).segmentSize).toBe(65_536);
    for (const segmentSize of [0, 1023, 16 * 1024 * 1024 + 1, 1.5]) {
      expect(await codeOf(() => envelopes.encryptStream('k-aes', {}, { segmentSize }))).toBe(
        'ERR_KMS_SEGMENT_SIZE_INVALID',
      );
    }
  });

  it('fails the stream when the key is unknown', async () => {
    const { envelopes } = await envelopeFixture();
    expect(await codeOf(through(envelopes.encryptStream('missing'), Buffer.alloc(10)))).toBe('ERR_KMS_KEY_NOT_FOUND');
  });
});

describe('stream envelopes: attacks', () => {
  it('refuses a bit flip in every byte of a small two-segment stream', async () => {
    const { envelopes, sealed } = await sealedStream(SEGMENT + 10);
    for (let i = 0; i < sealed.length; i++) {
      const code = await codeOf(through(envelopes.decryptStream(CONTEXT), flipped(sealed, i, i % 8), 512));
      expect(['ERR_KMS_DECRYPT_FAILED', 'ERR_KMS_KEY_NOT_FOUND', 'ERR_KMS_VERSION_INVALID'], `byte ${i}`).toContain(
        code,
      );
    }
  });

  it('detects truncation at every segment boundary and one byte either side', async () => {
    const { envelopes, sealed, header, segments } = await sealedStream(4 * SEGMENT + 100);
    for (let kept = 0; kept < segments.length; kept++) {
      const boundary = header.length + kept * SEALED_SEGMENT;
      for (const cut of [boundary - 1, boundary, boundary + 1]) {
        const truncated = sealed.subarray(0, cut);
        expect(await codeOf(through(envelopes.decryptStream(CONTEXT), truncated))).toBe('ERR_KMS_DECRYPT_FAILED');
        expect(await codeOf(pipeline(Readable.from([truncated]), envelopes.verifyStream(CONTEXT)))).toBe(
          'ERR_KMS_DECRYPT_FAILED',
        );
      }
    }
    expect(await codeOf(through(envelopes.decryptStream(CONTEXT), sealed.subarray(0, sealed.length - 1)))).toBe(
      'ERR_KMS_DECRYPT_FAILED',
    );
  });

  it('detects reordered, duplicated and dropped segments and trailing garbage', async () => {
    const { envelopes, header, segments } = await sealedStream(3 * SEGMENT + 1);
    const [s0, s1, s2, s3] = segments as [Buffer, Buffer, Buffer, Buffer];
    const cases = {
      swapped: [s1, s0, s2, s3],
      duplicated: [s0, s0, s1, s2, s3],
      dropped: [s0, s2, s3],
      lastRepeated: [s0, s1, s2, s3, s3],
      trailingByte: [s0, s1, s2, s3, Buffer.from([0])],
      trailingSegment: [s0, s1, s2, s3, s2],
    };
    for (const [name, parts] of Object.entries(cases)) {
      const code = await codeOf(through(envelopes.decryptStream(CONTEXT), Buffer.concat([header, ...parts])));
      expect(code, name).toBe('ERR_KMS_DECRYPT_FAILED');
    }
  });

  it('refuses segments swapped between two streams of the same key and context, and foreign headers', async () => {
    const a = await sealedStream(2 * SEGMENT + 1);
    const { envelopes } = a;
    const bPlain = Buffer.alloc(2 * SEGMENT + 1, 9);
    const bSealed = await through(envelopes.encryptStream('k-aes', CONTEXT, { segmentSize: SEGMENT }), bPlain);
    const bSegments = [0, 1, 2].map((i) =>
      bSealed.subarray(a.header.length + i * SEALED_SEGMENT, a.header.length + (i + 1) * SEALED_SEGMENT),
    );
    const mixed = Buffer.concat([a.header, a.segments[0] as Buffer, bSegments[1] as Buffer, a.segments[2] as Buffer]);
    expect(await codeOf(through(envelopes.decryptStream(CONTEXT), mixed))).toBe('ERR_KMS_DECRYPT_FAILED');
    const foreignHeader = Buffer.concat([bSealed.subarray(0, a.header.length), ...a.segments]);
    expect(await codeOf(through(envelopes.decryptStream(CONTEXT), foreignHeader))).toBe('ERR_KMS_DECRYPT_FAILED');
    expect(await codeOf(through(envelopes.decryptStream({ object: 'other' }), a.sealed))).toBe(
      'ERR_KMS_DECRYPT_FAILED',
    );
  });

  it('releases no plaintext of a segment that fails, and verifyStream releases nothing at all', async () => {
    const { envelopes, header, segments } = await sealedStream(3 * SEGMENT);
    const damaged = Buffer.concat([
      header,
      segments[0] as Buffer,
      flipped(segments[1] as Buffer, 5),
      segments[2] as Buffer,
    ]);
    const released: Buffer[] = [];
    const sink = new Writable({
      write(part: Buffer, _encoding, callback) {
        released.push(Buffer.from(part));
        callback();
      },
    });
    expect(await codeOf(pipeline(Readable.from([damaged]), envelopes.decryptStream(CONTEXT), sink))).toBe(
      'ERR_KMS_DECRYPT_FAILED',
    );
    expect(Buffer.concat(released).length).toBeLessThanOrEqual(SEGMENT);
    const verifier = envelopes.verifyStream(CONTEXT);
    expect('read' in verifier).toBe(false);
  });
});

describe('stream envelopes: memory', () => {
  it('encrypts and decrypts 20 MiB with live memory bounded by a few segments', async () => {
    setFlagsFromString('--expose_gc');
    const gc = runInNewContext('gc') as () => void;
    const { envelopes } = await envelopeFixture();
    const total = 20 * 1024 * 1024;
    const piece = Buffer.alloc(64 * 1024, 0x42);
    async function* source() {
      for (let sent = 0; sent < total; sent += piece.length) yield piece;
    }
    const live = () => {
      const usage = process.memoryUsage();
      return usage.heapUsed + usage.arrayBuffers;
    };
    gc();
    const before = live();
    let peak = 0;
    let received = 0;
    let sinceCheck = 0;
    const hash = createHash('sha256');
    await pipeline(
      source,
      envelopes.encryptStream('k-aes', CONTEXT),
      envelopes.decryptStream(CONTEXT),
      new Writable({
        write(part: Buffer, _encoding, callback) {
          hash.update(part);
          received += part.length;
          sinceCheck += part.length;
          if (sinceCheck >= 2 * 1024 * 1024) {
            sinceCheck = 0;
            gc();
            peak = Math.max(peak, live() - before);
          }
          callback();
        },
      }),
    );
    const expected = createHash('sha256');
    for (let sent = 0; sent < total; sent += piece.length) expected.update(piece);
    expect(received).toBe(total);
    expect(hash.digest('hex')).toBe(expected.digest('hex'));
    // Loose bound (other test files share the process): a few 64 KiB segments and stream buffers, half the 20 MiB moved.
    expect(peak).toBeLessThan(10 * 1024 * 1024);
  });
});
