import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { AnswerExchange, type ExchangeOutcome } from '../mesh/index.js';
import { clientResponseHeaders } from './forwarded_headers.js';
import { addGatewayHeaders } from './ratelimit_headers.js';
import { addHsts } from './strict_transport_security.js';

/** What the client's answer gets from the gateway besides the upstream's fields. */
export interface AnswerFields {
  requestId: string;
  /** Extra response headers (RateLimit, ...). */
  responseHeaders: Record<string, string> | undefined;
  /** Strict-Transport-Security for the client's answer when the upstream sends none (undefined: none added). */
  hsts: string | undefined;
  /** A gRPC call's: receives the `grpc-status` the upstream ended it with (for the access log). */
  grpcStatus?: (status: number) => void;
}

/**
 * The gateway's exchange with an upstream: the mesh library's {@link AnswerExchange} (status, fields, body with
 * backpressure, a client that leaves aborts, a 101 hands over the connection), with the client's fields made by the
 * gateway: hop-by-hop ones removed, the request id and the gateway's own headers (RateLimit) added, and
 * Strict-Transport-Security unless the upstream sent its own.
 *
 * @example
 * pool.dispatch({ path, method, headers, body: null }, new ProxyExchange(res, forward, (outcome) => ...));
 */
export class ProxyExchange extends AnswerExchange {
  constructor(
    res: ServerResponse,
    private readonly forward: AnswerFields,
    done: (outcome: ExchangeOutcome) => void,
  ) {
    super(res, done);
  }

  override onResponseEnd(controller: Dispatcher.DispatchController, trailers?: IncomingHttpHeaders): void {
    const report = this.forward.grpcStatus;
    const status = trailers?.['grpc-status'];
    if (report !== undefined && typeof status === 'string' && /^\d{1,2}$/.test(status)) report(Number(status));
    super.onResponseEnd(controller, trailers);
  }

  protected override answerHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
    const f = this.forward;
    const out = clientResponseHeaders(headers, f.requestId);
    if (f.responseHeaders) addGatewayHeaders(out, f.responseHeaders);
    addHsts(out, f.hsts);
    return out;
  }
}
