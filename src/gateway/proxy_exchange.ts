import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { AnswerExchange, type ExchangeOutcome } from '../mesh/index.js';
import { clientResponseHeaders } from './forwarded_headers.js';
import { addGatewayHeaders } from './ratelimit_headers.js';

/**
 * The gateway's exchange with an upstream: the mesh library's {@link AnswerExchange} (status, fields, body with
 * backpressure, a client that leaves aborts, a 101 hands over the connection), with the client's fields made by the
 * gateway: hop-by-hop ones removed, the request id and the gateway's own headers (RateLimit) added.
 *
 * @example
 * pool.dispatch({ path, method, headers, body: null }, new ProxyExchange(res, requestId, undefined, (outcome) => ...));
 */
export class ProxyExchange extends AnswerExchange {
  constructor(
    res: ServerResponse,
    private readonly requestId: string,
    private readonly extraHeaders: Readonly<Record<string, string>> | undefined,
    done: (outcome: ExchangeOutcome) => void,
  ) {
    super(res, done);
  }

  protected override answerHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
    const out = clientResponseHeaders(headers, this.requestId);
    if (this.extraHeaders) addGatewayHeaders(out, this.extraHeaders);
    return out;
  }
}
