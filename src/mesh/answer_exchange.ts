import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { isGrpcType, relayedTrailers, responseHeaders } from './http_forwarding.js';
import { RetriableAnswer } from './retry_policy.js';

/**
 * How an exchange ended: the next hop's status, its connection after a 101 (a WebSocket handshake), or the error that
 * stopped it and whether the caller had left.
 */
export type ExchangeOutcome = { status: number } | UpgradedExchange | { error: Error; clientGone: boolean };

/** A next hop that switched protocols: its 101's fields and its connection, detached from the pool. */
export interface UpgradedExchange {
  status: 101;
  headers: IncomingHttpHeaders;
  socket: Duplex;
}

/** The reason given to undici when the caller leaves before the answer is complete. */
export class CallerGoneError extends Error {
  constructor() {
    super('caller closed the connection');
    this.name = 'CallerGoneError';
  }
}

/** gRPC status codes as HTTP statuses (gRPC's mapping, as Envoy's `grpcToHttpStatus`), by code 0..16. */
const GRPC_AS_HTTP: readonly number[] = [
  200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401,
];

/**
 * A gRPC status as the HTTP status that judges the next hop's health, as Envoy maps it for outlier detection:
 * UNAVAILABLE is a 503, INTERNAL, UNKNOWN and DATA_LOSS a 500, DEADLINE_EXCEEDED a 504, UNIMPLEMENTED a 501 (all
 * failures); the caller's own errors (NOT_FOUND, INVALID_ARGUMENT, PERMISSION_DENIED, ...) are 4xx, no failure. An
 * unknown code is a 500.
 */
export function grpcStatusAsHttp(code: number): number {
  return GRPC_AS_HTTP[code] ?? 500;
}

/** The next hop's answer cannot be relayed in the caller's protocol (a 502: the next hop's fault). */
export class UnrelayableAnswer extends Error {
  constructor(why: string) {
    super(`the answer cannot be relayed to the caller: ${why}`);
    this.name = 'UnrelayableAnswer';
  }
}

/**
 * What a retry loop ({@link RequestAttempts}) follows of each attempt's exchange besides its outcome.
 */
export interface AttemptObserver {
  /** Set while a retry may follow: true for an answer's status means the answer is dropped for another attempt. */
  readonly retryStatus: ((status: number) => boolean) | undefined;
  /** The answer's head went to the caller: no other attempt follows. */
  answered(): void;
}

/** A dropped answer's body is read to its end (its connection kept) when its declared length is within this. */
const DRAIN_LIMIT = 64 * 1024;
/** ... and when it ends within this time (else the exchange is cut). */
const DRAIN_MS = 1000;

const EXCHANGE = Symbol('gatehouse.exchange');
type Tagged = ServerResponse & { [EXCHANGE]?: AnswerExchange };

/** One shared `close` listener for every response (no closure per request): it finds its exchange on the response. */
function onResponseClose(this: Tagged): void {
  this[EXCHANGE]?.callerClosed();
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}

function onResponseDrain(this: Tagged): void {
  this[EXCHANGE]?.drained();
}

/**
 * Streams one answer of the next hop into the caller's response, as an undici dispatch handler: the status and the
 * fields of {@link answerHeaders} (hop-by-hop ones dropped; the gateway's subclass adds its own) once, then the body
 * with backpressure (the upstream read pauses while the caller's socket is full), then the trailers (gRPC's status;
 * framing and authentication fields left out) and the end. A caller that leaves
 * aborts the request. 1xx answers are not forwarded (as undici's `stream()` does). `done` is called exactly once,
 * with the status or the error; it never throws into undici. Dispatched with `upgrade: 'websocket'`, a 101 hands the
 * next hop's connection to `done` (nothing written to the response); any other answer is relayed as usual. While a
 * retry may follow, the retry loop's `retryStatus` says which statuses are dropped (the exchange fails with
 * {@link RetriableAnswer} and nothing is written) so that the loop sends the request again: a body of a declared
 * length within 64 KiB is read to its end (an HTTP/1.1 connection stays in its pool, as undici's `dump()` keeps it),
 * for a second at most; any other is cut.
 *
 * The gateway's data plane and the sidecar's WebSocket handshakes both use it. It replaces `Pool.stream()` on the
 * gateway's hot path: no AsyncResource, stream-finished tracking, abort emitter or promise per request
 * (docs/adr/0002-gateway-data-plane.md).
 *
 * @example
 * pool.dispatch({ path, method: 'GET', headers, body: null, upgrade: 'websocket' }, new AnswerExchange(res, resolve));
 */
export class AnswerExchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private settled = false;
  private gone = false;
  /** The status of an answer being dropped for another attempt (0: none). */
  private droppedStatus = 0;
  private drainTimer: NodeJS.Timeout | undefined;
  /** The answer is a gRPC one (its status is in its trailers). */
  protected grpcAnswer = false;

  /** @param attempts the retry loop this exchange is an attempt of, if any. */
  constructor(
    protected readonly res: ServerResponse,
    private readonly done: (outcome: ExchangeOutcome) => void,
    private readonly attempts?: AttemptObserver,
  ) {
    (res as Tagged)[EXCHANGE] = this;
    res.on('close', onResponseClose);
  }

  /** The fields the caller gets with the answer (the next hop's, hop-by-hop ones dropped). */
  protected answerHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
    return responseHeaders(headers);
  }

  /**
   * The status an answer counts as for whoever judges the next hop's health (`done`'s outcome): the HTTP status, or for
   * a gRPC answer (HTTP 200 whatever happened) its `grpc-status` trailer mapped to HTTP ({@link grpcStatusAsHttp}). A
   * gRPC answer that ended without one (a server that crashed mid-call, a stream cut after its fields) is UNKNOWN to
   * its client: a 500, as Envoy reads it.
   */
  protected outcomeStatus(status: number, trailers: IncomingHttpHeaders | undefined): number {
    const grpc = trailers?.['grpc-status'];
    if (status !== 200) return status;
    if (typeof grpc !== 'string') return this.grpcAnswer ? 500 : status;
    return /^\d{1,2}$/.test(grpc) ? grpcStatusAsHttp(Number(grpc)) : 500;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.gone || this.res.destroyed) {
      this.gone = true;
      controller.abort(new CallerGoneError());
    }
  }

  /** An answer is being dropped for another attempt: nothing of it reaches the caller. */
  protected get dropping(): boolean {
    return this.droppedStatus !== 0;
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return;
    const retryStatus = this.attempts?.retryStatus;
    if (retryStatus !== undefined && retryStatus(statusCode)) {
      // Nothing written: the request goes again. A small body of a declared length is read to its end first.
      const length = Number(headers['content-length']);
      if (!(length <= DRAIN_LIMIT)) {
        controller.abort(new RetriableAnswer(statusCode));
        return;
      }
      this.droppedStatus = statusCode;
      this.drainTimer = setTimeout(() => controller.abort(new RetriableAnswer(statusCode)), DRAIN_MS);
      return;
    }
    this.status = statusCode;
    this.grpcAnswer = isGrpcType(headers['content-type']);
    try {
      this.res.writeHead(statusCode, this.answerHeaders(headers));
      this.attempts?.answered();
    } catch (err) {
      // An answer the caller's protocol cannot carry (on HTTP/2: a status past 599, a repeated single-value field):
      // nothing was written; the exchange fails as a bad answer of the next hop (a 502 to the caller).
      controller.abort(new UnrelayableAnswer((err as Error).message));
    }
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
    if (this.droppedStatus !== 0) return; // its declared length bounds what is read
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', onResponseDrain);
    }
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers?: IncomingHttpHeaders): void {
    if (this.droppedStatus !== 0) {
      this.settle({ error: new RetriableAnswer(this.droppedStatus), clientGone: false });
      return;
    }
    // Trailers reach an HTTP/2 caller always, an HTTP/1.1 one on a chunked answer (node drops them otherwise).
    const relayed = relayedTrailers(trailers);
    try {
      if (relayed) this.res.addTrailers(relayed);
      this.res.end();
    } catch (err) {
      // A trailer section node refuses to send: the answer is cut (its status may be in the trailers).
      this.res.destroy();
      this.settle({ error: new UnrelayableAnswer((err as Error).message), clientGone: false });
      return;
    }
    this.settle({ status: this.outcomeStatus(this.status, trailers) });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    // A dropped answer cut before its end (too slow, a reset) still goes again, unless the caller left.
    const dropped = this.droppedStatus !== 0 && !this.gone && !(error instanceof RetriableAnswer);
    this.settle({ error: dropped ? new RetriableAnswer(this.droppedStatus) : error, clientGone: this.gone });
  }

  /**
   * The response closed: unless it was ended here, the caller left; abort the request to the next hop. (`writableEnded`,
   * not `writableFinished`: an HTTP/2 stream the client reset reads as finished.)
   */
  callerClosed(): void {
    if (this.settled || this.res.writableEnded) return;
    this.gone = true;
    this.controller?.abort(new CallerGoneError());
  }

  drained(): void {
    this.controller?.resume();
  }

  private settle(outcome: ExchangeOutcome): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.drainTimer);
    const res = this.res as Tagged;
    res.removeListener('close', onResponseClose);
    res.removeListener('drain', onResponseDrain);
    if (res[EXCHANGE] === this) res[EXCHANGE] = undefined;
    this.done(outcome);
  }
}
