import { Transform, Writable, type TransformCallback } from 'node:stream';
import type { StreamReader } from './stream_open.js';

/**
 * A Transform around a {@link StreamReader}: pushes each segment's plaintext once that segment authenticated, and
 * fails the stream with the reader's error (ERR_KMS_DECRYPT_FAILED) on truncation or tampering.
 *
 * @example
 * await pipeline(file, openingStream(new StreamReader(keys, ctx)), response);
 */
export function openingStream(reader: StreamReader): Transform {
  return new Transform({
    transform(this: Transform, chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      reader.write(chunk, (part) => this.push(part)).then(() => callback(), callback);
    },
    flush(this: Transform, callback: TransformCallback) {
      try {
        reader.end((part) => this.push(part));
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
    destroy(err: Error | null, callback: (error: Error | null) => void) {
      reader.wipe();
      callback(err);
    },
  });
}

/**
 * A Writable around a {@link StreamReader} that releases nothing: it finishes only when the whole stream
 * authenticated (every segment and the final one) and errors otherwise.
 *
 * @example
 * await pipeline(file, verifyingStream(new StreamReader(keys, ctx)));
 */
export function verifyingStream(reader: StreamReader): Writable {
  const discard = (part: Buffer): void => {
    part.fill(0);
  };
  return new Writable({
    write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void) {
      reader.write(chunk, discard).then(() => callback(), callback);
    },
    final(callback: (error?: Error | null) => void) {
      try {
        reader.end(discard);
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
    destroy(err: Error | null, callback: (error: Error | null) => void) {
      reader.wipe();
      callback(err);
    },
  });
}
