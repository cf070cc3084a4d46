import type { IncomingHttpHeaders } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';

/**
 * The most of a request body kept for a retry: enough for gRPC unary calls and small JSON bodies (Envoy keeps a body
 * for retries up to its per-connection buffer limit; a body past it is not retried there either).
 */
export const REPLAY_LIMIT = 64 * 1024;

/**
 * A request's declared Content-Length (undefined without one, or when it is no plain decimal count).
 *
 * @example
 * new ReplayableBody(req, { declaredLength: declaredLength(req) });
 */
export function declaredLength(req: { headers: IncomingHttpHeaders }): number | undefined {
  const value = req.headers['content-length'];
  return value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

/** How long {@link ReplayableBody.whenWhole} waits for the next byte of a body before giving up. */
const WAIT_IDLE_MS = 1_000;

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
  /** Whether the rest of the body is worth waiting for: a declared length within the limit. */
  private readonly waitable: boolean;
  /** Ends a wait once no byte came for {@link WAIT_IDLE_MS}. */
  private idle: NodeJS.Timeout | undefined;

  /**
   * @param options.declaredLength the body's Content-Length, if declared: only such a body, within the limit, is
   *   waited for by {@link whenWhole} (a stream of unknown length, a gRPC call, may wait on its answer to go on).
   */
  constructor(
    private readonly body: Readable,
    options: { limit?: number; declaredLength?: number | undefined } = {},
  ) {
    const limit = options.limit ?? REPLAY_LIMIT;
    this.waitable = options.declaredLength !== undefined && options.declaredLength <= limit;
    if (body.readableEnded || body.destroyed || body.readableDidRead) {
      // Read (in part) before this copy was attached: what it would keep is not the whole body.
      this.chunks = undefined;
    }
    const keep = (chunk: Buffer) => {
      if (this.chunks === undefined) return;
      this.idle?.refresh();
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

  /**
   * True while a body of a declared length within the limit is still arriving: worth waiting for ({@link whenWhole})
   * when an attempt failed before it was whole.
   */
  get pending(): boolean {
    return this.waitable && !this.ended && this.chunks !== undefined;
  }

  /**
   * Calls `done` with the whole body once it has ended, or with undefined once it cannot be whole (over the limit,
   * failed, closed early, not {@link pending}, or no byte for a second). For an attempt that failed while the body
   * was still arriving (a host refusing the connection before a 40 KiB upload is in): the failed attempt's readers
   * are detached from the body, which then flows into the copy alone.
   */
  whenWhole(done: (bytes: Buffer | undefined) => void): void {
    if (!this.pending) {
      done(this.bytes);
      return;
    }
    this.waiters.push(done);
    if (this.idle === undefined) {
      this.idle = setTimeout(() => {
        const waiters = this.waiters;
        this.waiters = [];
        for (const waiter of waiters) waiter(undefined);
      }, WAIT_IDLE_MS);
      this.idle.unref();
    }
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
    // A body closed before its end without an error (a caller gone) must not look like a reader still waiting.
    const cut = () => {
      if (!body.readableEnded) reader.destroy(new Error('request body closed before its end'));
    };
    body.once('error', fail);
    body.once('close', cut);
    reader.on('error', () => {});
    reader.once('close', () => {
      body.off('error', fail);
      body.off('close', cut);
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
    clearTimeout(this.idle);
    const waiters = this.waiters;
    this.waiters = [];
    const bytes = this.bytes;
    for (const done of waiters) done(bytes);
  }
}
