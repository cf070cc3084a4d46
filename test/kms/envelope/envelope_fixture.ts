import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MemoryRecordStore } from '../../../src/adapters/index.js';
import { ManualClock } from '../../../src/core/index.js';
import { Envelopes, Keyring, RootKey, type DataKeyCacheLimits, type KeyType } from '../../../src/kms/index.js';
export { codeOf } from '../../support/error_code.js';

/** A keyring on a memory store with keys `k-aes` and `k-chacha`, and Envelopes over it. */
export async function envelopeFixture(options: { cache?: DataKeyCacheLimits } = {}) {
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const store = new MemoryRecordStore({ clock });
  const root = RootKey.generate();
  const keyring = await Keyring.open({ store, root, clock, usageBlock: 100 });
  const types: Record<string, KeyType> = { 'k-aes': 'aes256-gcm96', 'k-chacha': 'chacha20-poly1305' };
  for (const [name, type] of Object.entries(types)) await keyring.createKey(name, { type });
  const envelopes = new Envelopes({ keys: keyring, clock, ...options });
  return { clock, store, root, keyring, envelopes };
}

/** Runs `bytes` through a Transform in chunks of `chunk` bytes and collects the output. */
export async function through(transform: NodeJS.ReadWriteStream, bytes: Buffer, chunk = 4096): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(
    Readable.from(chunks(bytes, chunk)),
    transform,
    new Writable({
      write(part: Buffer, _encoding, callback) {
        parts.push(part);
        callback();
      },
    }),
  );
  return Buffer.concat(parts);
}

/** `bytes` cut into pieces of `size` (at least one piece, possibly empty). */
export function* chunks(bytes: Buffer, size: number): Generator<Buffer> {
  if (bytes.length === 0) return;
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

/** A copy of `bytes` with bit `bit` of byte `index` flipped. */
export function flipped(bytes: Buffer, index: number, bit = 0): Buffer {
  const copy = Buffer.from(bytes);
  copy[index] = (copy[index] ?? 0) ^ (1 << bit);
  return copy;
}
