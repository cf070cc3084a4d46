import type { Readable } from 'node:stream';

/**
 * The most of a request body kept for a retry: enough for gRPC unary calls and small JSON bodies (Envoy keeps a body
 * for retries up to its per-connection buffer limit; a body past it is not retried there either).
 */
export const REPLAY_LIMIT = 64 * 1024;

/**
 * A copy of a request body kept while it streams to the first attempt, so that an attempt the peer did not process (a
 * refused HTTP/2 stream, a connection never made) can go again with the whole body. Nothing waits for the body: it
 * streams as it arrives, and the copy is only read once the body has ended. Past `limit` bytes the copy is dropped
 * and the body cannot be replayed. Attach it right before the first attempt pipes the body (both read the same
 * chunks).
 *
 * @example
 * const replay = new ReplayableBody(req);
 * ...; const again = replay.bytes; // undefined: not ended yet, or too large
 */
export class ReplayableBody {
  private chunks: Buffer[] | undefined = [];
  private size = 0;
  private ended = false;

  constructor(body: Readable, limit = REPLAY_LIMIT) {
    const keep = (chunk: Buffer) => {
      if (this.chunks === undefined) return;
      this.size += chunk.length;
      if (this.size > limit) {
        this.chunks = undefined; // too large to keep: this body is not replayed
        body.off('data', keep);
        return;
      }
      this.chunks.push(chunk);
    };
    body.on('data', keep);
    body.once('end', () => (this.ended = true));
  }

  /** The whole body, once it has ended within the limit (undefined before, or when it was too large). */
  get bytes(): Buffer | undefined {
    return this.ended && this.chunks !== undefined ? Buffer.concat(this.chunks, this.size) : undefined;
  }
}
