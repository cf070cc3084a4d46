import { Transform, type TransformCallback } from 'node:stream';
import type { StreamKeys } from './stream_keys.js';

/**
 * A Transform that encrypts a byte stream as a stream envelope: the header, then segments of exactly `segmentSize`
 * plaintext bytes each (ciphertext ‖ tag), the last one (0 to `segmentSize` bytes) flagged as last. Memory is one
 * segment whatever the stream's size. `start` runs on the first chunk (or at the end for an empty stream) and gives
 * the stream's keys and header; its errors (unknown key...) become the stream's error.
 *
 * @example
 * await pipeline(createReadStream(src), sealingStream(start, 65536), createWriteStream(dst));
 */
export function sealingStream(
  start: () => Promise<{ keys: StreamKeys; header: Buffer }>,
  segmentSize: number,
): Transform {
  let keys: StreamKeys | undefined;
  const pending = Buffer.allocUnsafe(segmentSize);
  let filled = 0;

  async function begin(stream: Transform): Promise<StreamKeys> {
    if (keys) return keys;
    const started = await start();
    keys = started.keys;
    stream.push(started.header);
    return keys;
  }

  return new Transform({
    // Let a few sealed segments queue ahead of a slow sink (disk writes overlap with sealing), bounded.
    readableHighWaterMark: 4 * (segmentSize + 16),
    transform(this: Transform, chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      begin(this).then((current) => {
        let at = 0;
        while (at < chunk.length) {
          if (filled === segmentSize) {
            this.push(current.seal(pending, false));
            filled = 0;
          }
          const n = Math.min(segmentSize - filled, chunk.length - at);
          chunk.copy(pending, filled, at, at + n);
          filled += n;
          at += n;
        }
        callback();
      }, callback);
    },
    flush(this: Transform, callback: TransformCallback) {
      begin(this).then((current) => {
        this.push(current.seal(pending.subarray(0, filled), true));
        pending.fill(0);
        current.wipe();
        callback();
      }, callback);
    },
    destroy(err: Error | null, callback: (error: Error | null) => void) {
      pending.fill(0);
      keys?.wipe();
      callback(err);
    },
  });
}
