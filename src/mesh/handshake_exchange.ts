import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher, Pool } from 'undici';
import { responseHeaders } from './http_forwarding.js';

/**
 * How a WebSocket handshake sent to the next hop ended: its 101 (fields and connection, detached from the pool),
 * another answer (already relayed into the caller's response), or the error that stopped it and whether the caller
 * had left.
 */
export type HandshakeOutcome =
  | { status: 101; headers: IncomingHttpHeaders; socket: Duplex }
  | { status: number }
  | { error: Error; clientGone: boolean };

/** The reason given to undici when the caller leaves before the answer. */
class CallerGoneError extends Error {
  constructor() {
    super('caller closed the connection');
    this.name = 'CallerGoneError';
  }
}

/**
 * The undici dispatch handler of one handshake: a 101 hands over the next hop's connection (nothing is written to
 * `res`); any other answer is streamed into `res` as an ordinary response (hop-by-hop fields dropped, body with
 * backpressure). A caller that leaves aborts the exchange. `done` runs exactly once.
 */
class HandshakeExchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private settled = false;
  private gone = false;
  private readonly onClose = () => {
    if (this.settled || this.res.writableFinished) return;
    this.gone = true;
    this.controller?.abort(new CallerGoneError());
  };
  private readonly onDrain = () => this.controller?.resume();

  constructor(
    private readonly res: ServerResponse,
    private readonly done: (outcome: HandshakeOutcome) => void,
  ) {
    res.on('close', this.onClose);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.gone || this.res.destroyed) {
      this.gone = true;
      controller.abort(new CallerGoneError());
    }
  }

  onRequestUpgrade(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    socket: Duplex,
  ): void {
    socket.on('error', () => socket.destroy()); // undici removed its listeners; the tunnel adds its own
    if (this.settled) {
      socket.destroy();
      return;
    }
    this.settle({ status: statusCode as 101, headers, socket });
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return;
    this.status = statusCode;
    this.res.writeHead(statusCode, responseHeaders(headers));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', this.onDrain);
    }
  }

  onResponseEnd(): void {
    this.res.end();
    this.settle({ status: this.status });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.settle({ error, clientGone: this.gone });
  }

  private settle(outcome: HandshakeOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.res.off('close', this.onClose);
    this.res.off('drain', this.onDrain);
    this.done(outcome);
  }
}

/**
 * Sends a WebSocket handshake (a GET without a body) to the next hop over `pool` with `Connection: upgrade` and
 * `Upgrade: websocket` (undici adds both; `headers` must hold no hop-by-hop field), `timeoutMs` for its answer.
 * Never rejects: a failure is an outcome.
 *
 * @example
 * const outcome = await forwardHandshake(pool, { path: '/chat', headers, timeoutMs: 15_000 }, res);
 * if ('socket' in outcome) tunnels.open('outbound', req.socket, outcome.socket, 60_000);
 */
export function forwardHandshake(
  pool: Pool,
  request: { path: string; headers: Record<string, string | string[]>; timeoutMs: number },
  res: ServerResponse,
): Promise<HandshakeOutcome> {
  return new Promise((resolve) => {
    if (res.destroyed) {
      resolve({ error: new CallerGoneError(), clientGone: true });
      return;
    }
    pool.dispatch(
      {
        path: request.path,
        method: 'GET',
        headers: request.headers,
        body: null,
        upgrade: 'websocket',
        headersTimeout: request.timeoutMs,
        bodyTimeout: request.timeoutMs,
      },
      new HandshakeExchange(res, resolve),
    );
  });
}
