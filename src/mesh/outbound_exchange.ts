import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { BreakerPermit } from '../ratelimit/index.js';
import { AnswerExchange, UnrelayableAnswer, type ExchangeOutcome } from './answer_exchange.js';
import type { ForwardSide } from './forward_side.js';
import { Http2Origin } from './http2_origin.js';
import {
  cutAnswer,
  forwardedBody,
  forwardHeaders,
  MESH_REQUEST_TIMEOUT_MS,
  PEER_FAILURE_STATUSES,
  sendProblem,
} from './http_forwarding.js';
import { declaredLength } from './replayable_body.js';
import { RequestAttempts } from './request_attempts.js';
import type { UpstreamPool } from './upstream_pools.js';
import { declaresBody } from './websocket_handshake.js';

/**
 * A request to an upstream sidecar, on either protocol: one exchange on the upstream's keep-alive mTLS pool
 * (HTTP/1.1, the default) or one stream on its multiplexed connection (`protocol: h2`), dispatched with an
 * {@link AnswerExchange} that relays the answer as it comes, with its trailers (gRPC's status). The breaker hears of
 * it once the answer is complete, a gRPC answer counting by its `grpc-status` (UNAVAILABLE, INTERNAL, ... are
 * failures). An app that leaves aborts the exchange at once, with or without a body (the peer sees the connection or
 * the stream reset, not a request left to its timeout).
 *
 * A failed attempt goes again under the upstream's retry policy, to the pool in force then (a reload may have replaced
 * it), and on HTTP/2 also when the peer refused its stream (REFUSED_STREAM, or above a GOAWAY's last stream: not
 * processed, RFC 9113 §8.7). One with a body goes again with the copy kept while it streamed ({@link ReplayableBody}:
 * up to 64 KiB): an HTTP/2 stream pipes the body as it is dispatched, beside the copy; undici's HTTP/1.1 pool reads
 * the first attempt's body only once connected, from a pass-through fed beside the copy.
 */
export function forwardRequest(
  side: ForwardSide,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  entry: UpstreamPool,
  permit: BreakerPermit,
): void {
  const { logger } = side;
  const method = req.method ?? 'GET';
  const http2 = entry.pool instanceof Http2Origin;
  // Nothing declared (`Content-Length: 0`, or neither field) is no body to stream: such a request can go again.
  const body = declaresBody(req) ? forwardedBody(req) : null;
  const timeout = entry.upstream.timeoutMs ?? MESH_REQUEST_TIMEOUT_MS;
  // The request counts in the upstream's requests in flight (the retry budget's base) until its answer's head.
  let waiting = true;
  const answered = () => {
    if (waiting) entry.inFlight -= 1;
    waiting = false;
  };
  const settle = (outcome: ExchangeOutcome) => {
    answered();
    if ('status' in outcome) {
      side.requests.forwarded++;
      permit.done(!PEER_FAILURE_STATUSES.has(outcome.status));
      return;
    }
    if (outcome.clientGone || res.destroyed) {
      if (res.headersSent) side.requests.forwarded++; // the app left mid-answer
      return permit.release(); // the peer was not judged
    }
    if (!res.headersSent) {
      if (!(outcome.error instanceof UnrelayableAnswer)) return side.failed(outcome.error, name, timeout, permit, res);
      // An answer the app's protocol cannot carry (HTTP/2: a status past 599, a repeated single-value field).
      permit.done(false);
      side.requests.failed++;
      logger.warn({ err: outcome.error.message, upstream: name }, 'upstream sidecar answer cannot be relayed');
      sendProblem(res, 'ERR_MESH_UPSTREAM_FAILED', { upstream: name, detail: 'its answer cannot be relayed' });
      return;
    }
    permit.done(false);
    side.requests.forwarded++;
    cutAnswer(res, outcome.error, logger, 'upstream sidecar', { upstream: name }, timeout);
  };
  // The policy in force now, for the whole request: a reload may put a new one on the entry meanwhile, and the places
  // in the budget this request takes go back to the one they were taken from.
  const policy = entry.retry;
  const attempts = new RequestAttempts(
    policy,
    { method, res, body, declaredLength: declaredLength(req), lateFirstBody: !http2 },
    {
      send: (attemptBody, attempt) => {
        // A retry goes to the upstream's pool in force now: a reload during the backoff may have replaced it (the old
        // one is closing), or removed the upstream or changed its protocol (the app answered there, the permit given
        // back).
        const pool = attempt === 0 ? entry.pool : side.retryPool(name, http2, permit, res);
        if (pool === undefined) {
          attempts.abandon();
          answered();
          return;
        }
        pool.dispatch(
          {
            method: method as Dispatcher.HttpMethod,
            path: req.url ?? '/',
            headers: forwardHeaders(req.headers, { host: name }),
            body: attemptBody,
            headersTimeout: timeout,
            bodyTimeout: timeout,
          },
          new AnswerExchange(res, attempts.done, attempts),
        );
      },
      reserve: () => side.reserveRetry(entry, policy),
      retrying: (reason, retry, go) => void side.backoff(entry, name, reason, retry - 1, res).then(go),
      answered,
      settle,
    },
  );
  entry.inFlight += 1;
  attempts.start();
}
