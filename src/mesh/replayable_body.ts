import { PassThrough, type Readable } from 'node:stream';

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
 * chunks), or give the first attempt its {@link lateReader}.
 *
 * @example
 * const replay = new ReplayableBody(req);
 * ...; const again = replay.bytes; // undefined: not ended yet, or too large
 * if (replay.pending) replay.whenWhole((bytes) => (bytes ? retry(bytes) : fail()));
 */
export class ReplayableBody {
  private chunks: Buffer[] | undefined = [];
  private size = 0;
  private ended = false;
  private waiters: ((bytes: Buffer | undefined) => void)[] = [];

  constructor(
    private readonly body: Readable,
    limit = REPLAY_LIMIT,
  ) {
    const keep = (chunk: Buffer) => {
      if (this.chunks === undefined) return;
      this.size += chunk.length;
      if (this.size > limit) {
        this.drop(); // too large to keep: this body is not replayed
        body.off('data', keep);
        return;
      }
      this.chunks.push(chunk);
    };
    body.on('data', keep);
    body.once('end', () => {
      this.ended = true;
      this.settle();
    });
    // A body that fails or closes before its end (the caller left) is never whole.
    body.on('error', () => this.drop());
    body.once('close', () => {
      if (!this.ended) this.drop();
    });
  }

  /** The whole body, once it has ended within the limit (undefined before, or when it was too large). */
  get bytes(): Buffer | undefined {
    return this.ended && this.chunks !== undefined ? Buffer.concat(this.chunks, this.size) : undefined;
  }

  /** True while the body is still arriving within the limit: it may yet be whole ({@link whenWhole}). */
  get pending(): boolean {
    return !this.ended && this.chunks !== undefined;
  }

  /**
   * Calls `done` with the whole body once it has ended, or with undefined once it cannot be whole (over the limit,
   * failed, closed early). For an attempt that failed while the body was still arriving (a host refusing the
   * connection before a 40 KiB upload is in): the failed attempt's readers are detached from the body, which then
   * flows into the copy alone.
   */
  whenWhole(done: (bytes: Buffer | undefined) => void): void {
    if (!this.pending) {
      done(this.bytes);
      return;
    }
    this.waiters.push(done);
    this.body.unpipe();
    this.body.resume();
  }

  /**
   * The body for a first attempt that starts reading late: undici's HTTP/1.1 pools read a body only once connected,
   * and the copy's listener makes the body flow at once, so its chunks go to a pass-through beside the copy (held
   * there under backpressure until undici reads). Call it in the same tick as the constructor. The body's error
   * reaches the reader; once the reader is closed (an attempt that failed) the body no longer flows into it, and an
   * error nobody hears any more is dropped (the attempt's outcome reports it).
   */
  lateReader(): Readable {
    const body = this.body;
    const reader = new PassThrough();
    const fail = (err: Error) => reader.destroy(err);
    body.once('error', fail);
    reader.on('error', () => {});
    reader.once('close', () => {
      body.off('error', fail);
      body.unpipe(reader);
    });
    body.pipe(reader);
    return reader;
  }

  private drop(): void {
    if (this.ended || this.chunks === undefined) return;
    this.chunks = undefined;
    this.settle();
  }

  private settle(): void {
    const waiters = this.waiters;
    this.waiters = [];
    const bytes = this.bytes;
    for (const done of waiters) done(bytes);
  }
}
