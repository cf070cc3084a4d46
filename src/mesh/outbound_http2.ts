import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { BreakerPermit } from '../ratelimit/index.js';
import { AnswerExchange, CallerGoneError, type ExchangeOutcome } from './answer_exchange.js';
import { Http2Origin } from './http2_origin.js';
import { forwardedBody, forwardHeaders, MESH_REQUEST_TIMEOUT_MS, PEER_FAILURE_STATUSES } from './http_forwarding.js';
import { declaredLength, ReplayableBody } from './replayable_body.js';
import { RetriableAnswer } from './retry_policy.js';
import type { ForwardSide } from './forward_side.js';
import type { UpstreamPool } from './upstream_pools.js';
import { declaresBody } from './websocket_handshake.js';

/**
 * A request to an HTTP/2 upstream (`protocol: h2`): one stream on the multiplexed mTLS connection, the answer relayed
 * with its trailers (gRPC's status). The breaker hears of it once the answer is complete, a gRPC answer counting by
 * its `grpc-status` (UNAVAILABLE, INTERNAL, ... are failures). A request goes again under the upstream's retry
 * policy, as on HTTP/1.1, and also when the peer refused its stream (REFUSED_STREAM, or above a GOAWAY's last
 * stream: not processed, RFC 9113 §8.7); one with a body only when the body had ended, within 64 KiB, by the time
 * the attempt failed ({@link ReplayableBody}: a gRPC unary call, a small POST).
 */
export function forwardHttp2(
  side: ForwardSide,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  entry: UpstreamPool,
  permit: BreakerPermit,
): void {
  const { logger } = side;
  const method = req.method ?? 'GET';
  const hasBody = declaresBody(req);
  const timeout = entry.upstream.timeoutMs ?? MESH_REQUEST_TIMEOUT_MS;
  const { retry } = entry;
  const body = hasBody ? forwardedBody(req) : null;
  // A body is kept while it streams (up to 64 KiB): an attempt that failed once the body had ended can go again.
  const replay =
    body !== null && retry.attempts > 0 ? new ReplayableBody(body, { declaredLength: declaredLength(req) }) : undefined;
  const retriesLeft = retry.attempts;
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
    if (outcome.clientGone || res.destroyed) return permit.release();
    if (!res.headersSent) return side.failed(outcome.error, name, timeout, permit, res);
    permit.done(false);
    side.requests.forwarded++;
    logger.warn({ err: outcome.error.message, upstream: name }, 'upstream sidecar failed mid-answer: answer cut');
    res.destroy();
  };
  const done = (outcome: ExchangeOutcome) => {
    const carried = dropping && 'error' in outcome && outcome.error instanceof RetriableAnswer;
    dropping = false;
    const retriable =
      retried < retriesLeft && 'error' in outcome && !outcome.clientGone && !res.headersSent && !res.destroyed;
    const reason = retriable ? retry.reason(outcome.error, method) : undefined;
    if (reason !== undefined && !carried && replay?.pending === true) {
      // Failed while the body was still arriving: the decision waits for the rest of it (at most 64 KiB).
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
      const origin = side.retryPool(name, true, permit, res);
      if (!(origin instanceof Http2Origin)) {
        giveBack();
        entry.inFlight -= 1;
        return;
      }
      send(origin, nextBody);
    });
  };
  const send = (origin: Http2Origin, attemptBody: IncomingMessage | Buffer | null) =>
    origin.dispatch(
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
  send(entry.pool as Http2Origin, body);
}
