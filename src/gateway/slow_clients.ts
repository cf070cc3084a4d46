import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import { constants as h2, type Http2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { Clock } from '../core/index.js';

/** The `gateway.slowClients` keys (docs/waf.md). */
export interface SlowClientOptions {
  /** Open connections; a new one at the cap closes the oldest connection still reading a request. */
  maxConnections: number;
  /** Least request-body rate in bytes/s, checked after `bodyGrace` ms (0 = off). */
  minBodyRate: number;
  bodyGrace: number;
  /** A response that has waited this long (ms) on a client that reads none of it closes the connection (0 = off). */
  sendTimeout: number;
  /** Sweep period in ms (the server's `connectionsCheckingInterval`). */
  checkInterval: number;
  clock: Clock;
}

type Phase = 'reading' | 'body' | 'answering';

interface Tracked {
  socket: Socket;
  phase: Phase;
  bodyStart: number;
  bodyBaseline: number;
  /** The TLS socket of the connection, once the handshake is done (bytesRead of the body is counted on it). */
  tls: Socket | undefined;
  /** The response of the connection's current request: once it has finished, the connection reads again. */
  response: ServerResponse | undefined;
  /** The response found waiting for the client to drain it, and since when (reset by its next 'drain'). */
  stalled: ServerResponse | undefined;
  stalledSince: number;
  /**
   * An HTTP/2 connection's open streams, each with the time its response was found waiting for the client to read
   * (-1: not waiting, reset by the stream's next 'drain'). Undefined on HTTP/1.1 connections.
   */
  streams: Map<Http2Stream, { since: number }> | undefined;
}

/** Where a connection is; a finished response puts it back to reading (no per-request listener needed). */
function phaseOf(entry: Tracked): Phase {
  if (entry.streams !== undefined) return entry.streams.size > 0 ? 'answering' : 'reading';
  return entry.response !== undefined && entry.response.writableFinished ? 'reading' : entry.phase;
}

const key = (s: Socket) => `${s.remoteAddress}|${s.remotePort}`;

/** The tracked entry, set on the TLS socket once per connection so that each request finds it without a lookup. */
const ENTRY = Symbol('gatehouse.slowClients');
type Tagged = Socket & { [ENTRY]?: Tracked };

/**
 * Slow-client and flood defences of a node:https listener. At `maxConnections`, a new connection closes the oldest
 * connection still reading headers or a body (handshakes and idle keep-alive connections included; never one being
 * answered), so a flood of half-open requests cannot lock users out and no connection is refused for its address
 * alone. Request bodies arriving slower than `minBodyRate` after `bodyGrace` are closed, and so are connections whose
 * response has waited `sendTimeout` on a client that reads none of it (a slow reader would otherwise hold its upstream
 * slot for ever: the proxy pauses the upstream while the client's socket is full).
 *
 * @example
 * const guard = new SlowClientGuard(server, { maxConnections: 10_000, minBodyRate: 1024, bodyGrace: 5000, checkInterval: 1000, clock });
 * server.on('close', () => guard.stop());
 */
export class SlowClientGuard {
  /** Connections closed, by reason (for tests and logs). */
  readonly closed = { cap: 0, slowBody: 0, slowRead: 0 };
  /** Insertion order = age: the first entry is the oldest. */
  private readonly connections = new Map<string, Tracked>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    server: Server,
    private readonly o: SlowClientOptions,
  ) {
    server.on('connection', (socket: Socket) => this.accept(socket));
    server.on('secureConnection', (tls: Socket) => {
      const entry = this.connections.get(key(tls));
      if (entry) {
        entry.tls = tls;
        (tls as Tagged)[ENTRY] = entry;
      }
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.track(req, res));
    server.on('upgrade', (req: IncomingMessage) => this.upgraded(req));
    this.timer = setInterval(() => this.sweep(), Math.max(100, o.checkInterval));
    this.timer.unref();
  }

  /** Open connections tracked. */
  get size(): number {
    return this.connections.size;
  }

  /** Stops the sweep timer. */
  stop(): void {
    clearInterval(this.timer);
  }

  private accept(socket: Socket): void {
    if (this.connections.size >= this.o.maxConnections) this.evictOldestReading();
    const id = key(socket);
    const entry: Tracked = {
      socket,
      phase: 'reading',
      bodyStart: 0,
      bodyBaseline: 0,
      tls: undefined,
      response: undefined,
      stalled: undefined,
      stalledSince: 0,
      streams: undefined,
    };
    this.connections.set(id, entry);
    socket.once('close', () => {
      if (this.connections.get(id) === entry) this.connections.delete(id);
    });
  }

  private evictOldestReading(): void {
    for (const entry of this.connections.values()) {
      if (phaseOf(entry) === 'answering') continue;
      this.closed.cap += 1;
      entry.socket.destroy();
      this.connections.delete(key(entry.socket));
      return;
    }
  }

  private track(req: IncomingMessage, res: ServerResponse): void {
    const entry = (req.socket as Tagged)[ENTRY] ?? this.connections.get(key(req.socket));
    if (!entry) return;
    entry.tls = req.socket;
    entry.response = res;
    if (
      req.complete ||
      (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined)
    ) {
      entry.phase = 'answering';
    } else {
      entry.phase = 'body';
      entry.bodyStart = this.o.clock.now();
      entry.bodyBaseline = req.socket.bytesRead;
      req.once('end', () => {
        if (entry.phase === 'body') entry.phase = 'answering';
      });
    }
  }

  /**
   * The connection of `socket` (its TLS socket) speaks HTTP/2: it counts as being answered while one of its streams is
   * open, as reading (so closable at the cap, like an idle HTTP/1.1 connection) while none is.
   */
  http2Session(socket: Socket): void {
    const entry = (socket as Tagged)[ENTRY] ?? this.connections.get(key(socket));
    if (entry) entry.streams = new Map();
  }

  /**
   * A stream of an HTTP/2 connection opened; it is tracked until it closes. Its response waiting `sendTimeout` for the
   * client to read resets that stream (the connection and its other streams go on).
   */
  http2Stream(socket: Socket, stream: Http2Stream): void {
    const streams = ((socket as Tagged)[ENTRY] ?? this.connections.get(key(socket)))?.streams;
    if (streams === undefined) return;
    const waiting = { since: -1 };
    streams.set(stream, waiting);
    stream.on('drain', () => (waiting.since = -1));
    stream.once('close', () => streams.delete(stream));
  }

  /**
   * A connection whose request arrived on the `upgrade` event is being answered for good: a WebSocket tunnel (bounded by
   * its upstream's `tunnels.max` and idle timeout) or a refusal that closes it; never evicted as a slow reader.
   */
  private upgraded(req: IncomingMessage): void {
    const entry = (req.socket as Tagged)[ENTRY] ?? this.connections.get(key(req.socket));
    if (!entry) return;
    entry.phase = 'answering';
    entry.response = undefined;
  }

  private sweep(): void {
    const now = this.o.clock.now();
    if (this.o.sendTimeout > 0) for (const entry of this.connections.values()) this.checkReader(entry, now);
    if (this.o.minBodyRate <= 0) return;
    for (const entry of this.connections.values()) {
      if (phaseOf(entry) !== 'body') continue;
      const elapsed = now - entry.bodyStart;
      if (elapsed < this.o.bodyGrace) continue;
      const read = (entry.tls ?? entry.socket).bytesRead - entry.bodyBaseline;
      if ((read * 1000) / elapsed < this.o.minBodyRate) {
        this.closed.slowBody += 1;
        entry.socket.destroy();
      }
    }
  }

  /** Closes the connection when its response has waited `sendTimeout` for the client to read (no 'drain' since). */
  private checkReader(entry: Tracked, now: number): void {
    if (entry.streams !== undefined) return this.checkStreams(entry.streams, now);
    const res = entry.response;
    if (res === undefined || !res.writableNeedDrain) return;
    if (entry.stalled !== res) {
      entry.stalled = res;
      entry.stalledSince = now;
      res.once('drain', () => {
        if (entry.stalled === res) entry.stalled = undefined;
      });
      return;
    }
    if (now - entry.stalledSince >= this.o.sendTimeout) {
      this.closed.slowRead += 1;
      entry.socket.destroy();
    }
  }

  /** Resets each HTTP/2 stream whose response has waited `sendTimeout` for the client to read (no 'drain' since). */
  private checkStreams(streams: Map<Http2Stream, { since: number }>, now: number): void {
    for (const [stream, waiting] of streams) {
      if (!stream.writableNeedDrain) continue;
      if (waiting.since === -1) {
        waiting.since = now;
      } else if (now - waiting.since >= this.o.sendTimeout) {
        this.closed.slowRead += 1;
        streams.delete(stream);
        stream.close(h2.NGHTTP2_CANCEL);
      }
    }
  }
}
