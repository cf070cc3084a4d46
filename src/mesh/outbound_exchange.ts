import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher, Pool } from 'undici';
import { upstreamFailureKind } from '../core/index.js';
import type { BreakerPermit } from '../ratelimit/index.js';
import { AnswerExchange, CallerGoneError, UnrelayableAnswer, type ExchangeOutcome } from './answer_exchange.js';
import type { ForwardSide } from './forward_side.js';
import { Http2Origin } from './http2_origin.js';
import {
  forwardedBody,
  forwardHeaders,
  MESH_REQUEST_TIMEOUT_MS,
  PEER_FAILURE_STATUSES,
  sendProblem,
} from './http_forwarding.js';
import { declaredLength, ReplayableBody } from './replayable_body.js';
import { RetriableAnswer } from './retry_policy.js';
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
  const { retry } = entry;
  const retriesLeft = retry.attempts;
  const replay =
    body !== null && retriesLeft > 0 ? new ReplayableBody(body, { declaredLength: declaredLength(req) }) : undefined;
  /** The body for another attempt: none, the kept copy, or undefined when it cannot be sent again (yet). */
  const again = (): Buffer | null | undefined => (body === null ? null : replay?.bytes);
  let retried = 0;
  let held = false; // a place in the retry budget
  let dropping = false; // an answer of a retried status is being dropped (its place taken before)
  const giveBack = () => {
    if (held) retry.settled();
    held = false;
  };
  const retryStatus =
    retriesLeft === 0 || !retry.retriesStatuses
      ? undefined
      : (status: number) => {
          if (retried >= retriesLeft || !retry.retriesStatus(method, status) || again() === undefined) return false;
          giveBack();
          if (!side.reserveRetry(entry)) return false;
          held = true;
          dropping = true;
          return true;
        };
  const settle = (outcome: ExchangeOutcome) => {
    giveBack();
    entry.inFlight -= 1;
    if ('status' in outcome) {
      side.requests.forwarded++;
      permit.done(!PEER_FAILURE_STATUSES.has(outcome.status));
      return;
    }
    if (outcome.clientGone || res.destroyed) return permit.release(); // the peer was not judged
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
    const timedOut = upstreamFailureKind(outcome.error) === 'timeout';
    logger.warn(
      { err: outcome.error.message, upstream: name, ...(timedOut ? { timeoutMs: timeout } : {}) },
      timedOut ? 'upstream sidecar stalled mid-answer: answer cut' : 'upstream sidecar failed mid-answer: answer cut',
    );
    res.destroy();
  };
  const done = (outcome: ExchangeOutcome) => {
    const carried = dropping && 'error' in outcome && outcome.error instanceof RetriableAnswer;
    dropping = false;
    const retriable =
      retried < retriesLeft && 'error' in outcome && !outcome.clientGone && !res.headersSent && !res.destroyed;
    const reason = retriable ? retry.reason(outcome.error, method) : undefined;
    if (reason !== undefined && !carried && replay?.pending === true) {
      // Failed while a small body of a declared length was still arriving (a peer refusing the connection before
      // the upload is in): the decision waits for the rest of it (while bytes keep coming).
      replay.whenWhole(() => done(outcome));
      return;
    }
    const nextBody = again();
    if (reason === undefined || nextBody === undefined) return settle(outcome);
    if (!carried) {
      giveBack();
      if (!side.reserveRetry(entry)) return settle(outcome);
      held = true;
    }
    retried += 1;
    void side.backoff(entry, name, reason, retried - 1, res).then((alive) => {
      if (!alive) return settle({ error: new CallerGoneError(), clientGone: true });
      // Undefined once the app got its answer (the upstream was removed or changed protocol by a reload).
      const pool = side.retryPool(name, http2, permit, res);
      if (pool === undefined) {
        giveBack();
        entry.inFlight -= 1;
        return;
      }
      send(pool, nextBody);
    });
  };
  const send = (pool: Pool | Http2Origin, attemptBody: Readable | Buffer | null) =>
    pool.dispatch(
      {
        method: method as Dispatcher.HttpMethod,
        path: req.url ?? '/',
        headers: forwardHeaders(req.headers, { host: name }),
        body: attemptBody,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      },
      new AnswerExchange(res, done, retryStatus),
    );
  entry.inFlight += 1;
  send(entry.pool, http2 ? body : (replay?.lateReader() ?? body));
}
