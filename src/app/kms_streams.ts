import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import { GatehouseError } from '../core/index.js';
import type { KmsOperations, KmsStreamHeader } from '../http/index.js';
import { envelopeHeaderLength, parseEnvelopeHeader, type Envelopes } from '../kms/index.js';

/** A promise that never counts as unhandled (it is awaited later, or its stream has failed anyway). */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/**
 * A pass-through that collects the envelope header from the first bytes flowing through it and resolves `header`
 * with its key name and version; `rewrite` may replace the header bytes (rewrap). Later bytes pass untouched, so
 * memory stays constant whatever the size.
 */
function headerTap(rewrite?: (header: Buffer) => Promise<Buffer>): {
  tap: Transform;
  header: Promise<KmsStreamHeader>;
} {
  let resolve!: (header: KmsStreamHeader) => void;
  let reject!: (err: Error) => void;
  const header = quiet(
    new Promise<KmsStreamHeader>((res, rej) => {
      resolve = res;
      reject = rej;
    }),
  );
  let pending: Buffer | undefined = Buffer.alloc(0);
  const tap = new Transform({
    transform(this: Transform, chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      if (pending === undefined) return callback(null, chunk);
      pending = Buffer.concat([pending, chunk]);
      let length: number | undefined;
      try {
        length = envelopeHeaderLength(pending);
      } catch (err) {
        return callback(err as Error);
      }
      if (length === undefined || pending.length < length) return callback();
      const head = pending.subarray(0, length);
      const rest = pending.subarray(length);
      pending = undefined;
      const finish = (out: Buffer) => {
        // A header of a valid length may still be malformed (a bad key name, version or segment size). Thrown from
        // here it escaped the stream (a transform's synchronous throw, or a throw in a `then` callback) and stopped
        // the process; handed to the callback it fails this call only.
        let parsed: ReturnType<typeof parseEnvelopeHeader>;
        try {
          parsed = parseEnvelopeHeader(out);
        } catch (err) {
          return callback(err as Error);
        }
        resolve({ keyName: parsed.keyName, keyVersion: parsed.keyVersion });
        this.push(out);
        callback(null, rest.length > 0 ? rest : undefined);
      };
      if (!rewrite) return finish(head);
      rewrite(Buffer.from(head)).then(finish, (err: Error) => callback(err));
    },
    flush(callback: TransformCallback) {
      if (pending !== undefined) {
        return callback(new GatehouseError('ERR_KMS_DECRYPT_FAILED', { detail: 'stream ended inside the header' }));
      }
      callback();
    },
    destroy(err: Error | null, callback: (error: Error | null) => void) {
      reject(err ?? new GatehouseError('ERR_KMS_DECRYPT_FAILED', { detail: 'stream aborted' }));
      callback(err);
    },
  });
  tap.once('end', () => reject(new GatehouseError('ERR_KMS_DECRYPT_FAILED', { detail: 'no header' })));
  return { tap, header };
}

/** Pipes `streams` together; the last one is the output, errored (destroyed) if any stage fails. */
function chain(...streams: [Readable, ...Transform[]]): Readable {
  pipeline(streams, () => {
    // Errors reach the last stream (pipeline destroys every stage with the error); nothing else to do here.
  });
  return streams[streams.length - 1] as Readable;
}

/**
 * The streaming half of {@link KmsOperations} on an {@link Envelopes}: encrypt, decrypt (segment by segment), verify
 * (releases nothing) and rewrap (new header, the segments pass through), each in constant memory.
 *
 * @example
 * const streams = kmsStreams(envelopes);
 * const { output, header } = streams.encrypt('orders', { tenant: 'acme' }, request.body);
 */
export function kmsStreams(envelopes: Envelopes): KmsOperations['streams'] {
  return {
    encrypt(key, context, source) {
      const sealing = envelopes.encryptStream(key, context);
      const { tap, header } = headerTap();
      return { output: chain(source, sealing, tap), header };
    },
    decrypt(context, source) {
      const { tap, header } = headerTap();
      return { output: chain(source, tap, envelopes.decryptStream(context)), header };
    },
    async verify(context, source) {
      const { tap, header } = headerTap();
      const sink = envelopes.verifyStream(context);
      await new Promise<void>((resolve, reject) => {
        pipeline(source, tap, sink, (err) => (err ? reject(err) : resolve()));
      });
      return header;
    },
    rewrap(context, source) {
      const { tap, header } = headerTap((head) => envelopes.rewrapHeader(head, context));
      return { output: chain(source, tap), header };
    },
  };
}
