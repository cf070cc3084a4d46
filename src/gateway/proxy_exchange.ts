import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import {
  AnswerExchange,
  grpcStatusAsHttp,
  relayedTrailers,
  type AttemptObserver,
  type ExchangeOutcome,
} from '../mesh/index.js';
import { dropCorsFields } from './cors_policy.js';
import { clientResponseHeaders } from './forwarded_headers.js';
import type { HeaderRules } from './header_rules.js';
import type { GrpcWebAnswer } from './grpc_web.js';
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
  /** A gRPC-Web call's: turns the upstream's gRPC answer into gRPC-Web (route `grpcWeb: true`). */
  grpcWeb?: GrpcWebAnswer | undefined;
  /** The route has a CORS policy: the upstream's `Access-Control-*` fields are dropped (the gateway's are added). */
  ownsCors?: boolean;
  /** The route's header rules, applied to the upstream's answer. */
  headerRules?: HeaderRules | undefined;
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
  /**
   * The `grpc-status` trailer the upstream ended with (-1: present but not a number; undefined: none), read once
   * for the access log and for {@link outcomeStatus}.
   */
  private grpcCode: number | undefined;

  /** @param attempts see {@link AnswerExchange}: the retry loop this exchange is an attempt of, if any. */
  constructor(
    res: ServerResponse,
    private readonly forward: AnswerFields,
    done: (outcome: ExchangeOutcome) => void,
    attempts?: AttemptObserver,
  ) {
    super(res, done, attempts);
  }

  override onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const web = this.forward.grpcWeb;
    if (web === undefined || this.dropping) return super.onResponseData(controller, chunk);
    const out = web.data(chunk);
    if (out.length > 0) super.onResponseData(controller, out); // base64 waits for whole 3-byte groups
  }

  override onResponseEnd(controller: Dispatcher.DispatchController, trailers?: IncomingHttpHeaders): void {
    if (this.dropping) return super.onResponseEnd(controller, trailers);
    const status = trailers?.['grpc-status'];
    if (typeof status === 'string') {
      this.grpcCode = /^\d{1,2}$/.test(status) ? Number(status) : -1;
      if (this.grpcCode >= 0) this.forward.grpcStatus?.(this.grpcCode);
    }
    const web = this.forward.grpcWeb;
    if (web !== undefined) {
      // gRPC-Web carries the trailers in the body (browsers cannot read HTTP trailers).
      const tail = web.end(relayedTrailers(trailers));
      if (tail !== undefined) {
        if (tail.length > 0) this.res.write(tail);
        return super.onResponseEnd(controller, undefined);
      }
    }
    super.onResponseEnd(controller, trailers);
  }

  /**
   * A gRPC answer is HTTP 200 whatever happened; its `grpc-status` decides what the breaker and outlier detection
   * see, mapped to HTTP as Envoy maps it for its outlier detection (gRPC's status-to-HTTP table): UNAVAILABLE is a
   * 503, INTERNAL, UNKNOWN and DATA_LOSS a 500, DEADLINE_EXCEEDED a 504, UNIMPLEMENTED a 501 (all failures); the
   * caller's own errors (NOT_FOUND, INVALID_ARGUMENT, PERMISSION_DENIED, ...) are 4xx, no failure.
   */
  protected override outcomeStatus(status: number): number {
    // The upstream's trailer, also when a gRPC-Web answer carried it in its body instead; a gRPC answer without one
    // is UNKNOWN to its client (a 500).
    if (status !== 200) return status;
    if (this.grpcCode === undefined) return this.grpcAnswer ? 500 : status;
    return grpcStatusAsHttp(this.grpcCode);
  }

  protected override answerHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
    const f = this.forward;
    const out = clientResponseHeaders(headers, f.requestId);
    if (f.ownsCors === true) dropCorsFields(out);
    f.headerRules?.onResponse(out);
    if (f.responseHeaders) addGatewayHeaders(out, f.responseHeaders);
    addHsts(out, f.hsts);
    f.grpcWeb?.head(out);
    return out;
  }
}
