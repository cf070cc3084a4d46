import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { clientResponseHeaders } from './forwarded_headers.js';
import { addGatewayHeaders } from './ratelimit_headers.js';

/**
 * How an exchange ended: the upstream's status, the upstream's connection after its 101 (a WebSocket handshake), or
 * the error that stopped it and whether the client had left.
 */
export type ExchangeOutcome = { status: number } | UpgradedExchange | { error: Error; clientGone: boolean };

/** An upstream that switched protocols: its 101's fields and its connection, detached from the pool. */
export interface UpgradedExchange {
  status: 101;
  headers: IncomingHttpHeaders;
  socket: Duplex;
}

/** The reason given to undici when the client leaves before the answer is complete. */
class ClientGoneError extends Error {
  constructor() {
    super('client closed the connection');
    this.name = 'ClientGoneError';
  }
}

const EXCHANGE = Symbol('gatehouse.exchange');
type Tagged = ServerResponse & { [EXCHANGE]?: ProxyExchange };

/** One shared `close` listener for every response (no closure per request): it finds its exchange on the response. */
function onResponseClose(this: Tagged): void {
  this[EXCHANGE]?.clientClosed();
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}

function onResponseDrain(this: Tagged): void {
  this[EXCHANGE]?.drained();
}

/**
 * Streams one upstream answer into the client's response, as an undici dispatch handler: the status and headers
 * (hop-by-hop fields removed, the request id and the gateway's own headers added) once, then the body with
 * backpressure (the upstream read pauses while the client's socket is full), then the end. A client that leaves
 * aborts the upstream request. 1xx answers are not forwarded (as undici's `stream()` does). `done` is called exactly
 * once, with the status or the error; it never throws into undici. Dispatched with `upgrade: 'websocket'`, a 101 hands
 * the upstream's connection to `done` (nothing written to the response); any other answer is relayed as usual.
 *
 * This replaces `Pool.stream()` on the gateway's hot path: no AsyncResource, stream-finished tracking, abort emitter or
 * promise per request (docs/adr/0002-gateway-data-plane.md).
 *
 * @example
 * pool.dispatch({ path, method, headers, body: null }, new ProxyExchange(res, requestId, undefined, (outcome) => ...));
 */
export class ProxyExchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private settled = false;
  private gone = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly requestId: string,
    private readonly extraHeaders: Readonly<Record<string, string>> | undefined,
    private readonly done: (outcome: ExchangeOutcome) => void,
  ) {
    (res as Tagged)[EXCHANGE] = this;
    res.on('close', onResponseClose);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.gone || this.res.destroyed) {
      this.gone = true;
      controller.abort(new ClientGoneError());
    }
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return;
    this.status = statusCode;
    const out = clientResponseHeaders(headers, this.requestId);
    if (this.extraHeaders) addGatewayHeaders(out, this.extraHeaders);
    this.res.writeHead(statusCode, out);
  }

  onRequestUpgrade(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    socket: Duplex,
  ): void {
    socket.on('error', destroyOnError); // undici removed its listeners; the tunnel adds its own
    if (this.settled) {
      socket.destroy();
      return;
    }
    this.settle({ status: statusCode as 101, headers, socket });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', onResponseDrain);
    }
  }

  onResponseEnd(): void {
    this.res.end();
    this.settle({ status: this.status });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.settle({ error, clientGone: this.gone });
  }

  /** The response closed: when it had not finished, the client left; abort the upstream side. */
  clientClosed(): void {
    if (this.settled || this.res.writableFinished) return;
    this.gone = true;
    this.controller?.abort(new ClientGoneError());
  }

  drained(): void {
    this.controller?.resume();
  }

  private settle(outcome: ExchangeOutcome): void {
    if (this.settled) return;
    this.settled = true;
    const res = this.res as Tagged;
    res.removeListener('close', onResponseClose);
    res.removeListener('drain', onResponseDrain);
    if (res[EXCHANGE] === this) res[EXCHANGE] = undefined;
    this.done(outcome);
  }
}
