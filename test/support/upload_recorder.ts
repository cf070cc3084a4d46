import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  createServer as createH2cServer,
  type ClientHttp2Stream,
  type Http2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { addAbortSignal, type Readable } from 'node:stream';

/** The size of an upload's chunk in the aborted-upload tests. */
export const CHUNK = 16 * 1024;

/** Far below every timeout of the aborted-upload tests (60 s): a request still open after this was left to a timeout. */
export const PROMPTLY = 10_000;

/** One request body as a next hop received it, and how its request ended. */
export interface ReceivedUpload {
  path: string;
  bytes: number;
  sha256: string;
  /** The request's events in order: `end` (the body arrived whole), `aborted`, `error`, `close`. */
  events: string[];
  /** With h2c: the stream's RST_STREAM code once it closed. */
  rstCode?: number;
  /** Resolves once the request closed (either way). */
  closed: Promise<void>;
  /** Resolves once the exchange is over: the answer's stream (h2c) or response (HTTP/1.1: its connection) closed. */
  released: Promise<void>;
}

/** A next hop (an app, an upstream) that records every request body it receives: bytes, hash and ending. */
export interface UploadRecorder {
  /** `host:port`. */
  address: string;
  url: string;
  uploads: ReceivedUpload[];
  /** Resolves once a request to `path` has received at least `bytes` bytes of its body. */
  received(path: string, bytes: number): Promise<ReceivedUpload>;
  close(): Promise<void>;
}

/**
 * How an upload ended, for assertions: `whole` (its body ended first), or `cut` (aborted, errored or closed first).
 * node's HTTP/2 stream also emits 'end' after 'aborted' when it is reset mid-body: that is a cut body.
 */
export function ending(upload: ReceivedUpload): 'whole' | 'cut' {
  const end = upload.events.indexOf('end');
  const cut = upload.events.findIndex((e) => e === 'aborted' || e === 'error' || e === 'close');
  return end !== -1 && (cut === -1 || end < cut) ? 'whole' : 'cut';
}

/**
 * Starts a recording next hop on 127.0.0.1:0, over HTTP/1.1 or h2c (the raw node:http2 stream API, whose 'end' comes
 * only with END_STREAM). A body that ends is answered 200 with its size and hash, except on paths under `/hold`
 * (never answered: an app still thinking).
 */
export async function startUploadRecorder(protocol: 'http1' | 'h2c'): Promise<UploadRecorder> {
  const uploads: ReceivedUpload[] = [];
  const waiters = new Set<() => void>();
  const poke = () => {
    for (const w of [...waiters]) w();
  };
  const track = (
    path: string,
    body: Readable,
    released: { once(event: 'close', f: () => void): unknown },
    answer: (u: ReceivedUpload) => void,
  ): ReceivedUpload => {
    const hash = createHash('sha256');
    let closed!: () => void;
    const upload: ReceivedUpload = {
      path,
      bytes: 0,
      sha256: '',
      events: [],
      closed: new Promise<void>((r) => (closed = r)),
      released: new Promise<void>((r) => released.once('close', () => r())),
    };
    uploads.push(upload);
    body.on('data', (chunk: Buffer) => {
      upload.bytes += chunk.length;
      hash.update(chunk);
      poke();
    });
    body.on('end', () => {
      upload.events.push('end');
      upload.sha256 = hash.digest('hex');
      answer(upload);
    });
    body.on('aborted', () => upload.events.push('aborted'));
    body.on('error', () => upload.events.push('error'));
    body.once('close', () => {
      upload.events.push('close');
      closed();
      poke();
    });
    poke();
    return upload;
  };
  let close: () => Promise<void>;
  let port: number;
  if (protocol === 'http1') {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      track(req.url ?? '/', req, res, (u) => {
        if (u.path.startsWith('/hold')) return;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ bytes: u.bytes, sha256: u.sha256 }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    close = () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
  } else {
    const server = createH2cServer();
    const sessions = new Set<Http2Session>();
    server.on('session', (s) => {
      sessions.add(s);
      s.once('close', () => sessions.delete(s));
    });
    server.on('stream', (stream: ServerHttp2Stream, headers) => {
      const upload = track(String(headers[':path']), stream, stream, (u) => {
        if (stream.closed || u.path.startsWith('/hold')) return;
        stream.respond({ ':status': 200, 'content-type': 'application/json' });
        stream.end(JSON.stringify({ bytes: u.bytes, sha256: u.sha256 }));
      });
      stream.on('error', () => {});
      stream.once('close', () => (upload.rstCode = stream.rstCode));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    close = () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      });
  }
  return {
    address: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    uploads,
    received: (path, bytes) =>
      new Promise<ReceivedUpload>((resolve) => {
        const check = () => {
          const u = uploads.find((x) => x.path === path && x.bytes >= bytes);
          if (u === undefined) return;
          waiters.delete(check);
          resolve(u);
        };
        waiters.add(check);
        check();
      }),
    close: () => close(),
  };
}

/** `n` bytes of a repeated letter (an upload's chunk). */
export function chunkOf(n: number, letter = 'x'): Buffer {
  return Buffer.alloc(n, letter);
}

/** Waits for `promise`, or fails with `what` after `ms` (a liveness bound, not a timing assertion). */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Cancels a request stream mid-body: RST_STREAM CANCEL alone. (node's `stream.close(NGHTTP2_CANCEL)` ends the body
 * first, END_STREAM then the reset: the server rightly sees the body whole.)
 */
export function cancel(stream: ClientHttp2Stream): void {
  addAbortSignal(AbortSignal.abort(), stream);
}
