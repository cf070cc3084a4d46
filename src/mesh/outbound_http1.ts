import type { IncomingMessage, ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { upstreamFailureKind } from '../core/index.js';
import type { BreakerPermit } from '../ratelimit/index.js';
import { abortWhenCallerLeaves } from './caller_gone.js';
import type { ForwardSide } from './forward_side.js';
import {
  forwardedBody,
  forwardHeaders,
  MESH_REQUEST_TIMEOUT_MS,
  PEER_FAILURE_STATUSES,
  relayBody,
  sendProblem,
  writeAnswerHead,
} from './http_forwarding.js';
import { declaredLength, ReplayableBody } from './replayable_body.js';
import type { UpstreamPool } from './upstream_pools.js';
import { declaresBody } from './websocket_handshake.js';

/**
 * A request to an HTTP/1.1 upstream (the default): one exchange on the upstream's keep-alive mTLS pool, the answer
 * relayed as it comes. The breaker hears of it once the whole answer went through. A failed attempt goes again under
 * the upstream's retry policy (to the pool in force then: a reload may have replaced it), one with a body with the
 * copy kept while it streamed ({@link ReplayableBody}: up to 64 KiB); a request with a body is reset at the peer
 * once the app leaves.
 */
export async function forwardHttp1(
  side: ForwardSide,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  entry: UpstreamPool,
  permit: BreakerPermit,
): Promise<void> {
  const { logger } = side;
  const method = req.method ?? 'GET';
  const timeout = entry.upstream.timeoutMs ?? MESH_REQUEST_TIMEOUT_MS;
  // Nothing declared (`Content-Length: 0`, or neither field) is no body to stream: such a request can go again.
  const bodiless = !declaresBody(req);
  const body = bodiless ? null : forwardedBody(req);
  const { retry } = entry;
  const retriesLeft = retry.attempts;
  // A body is kept while it streams (up to 64 KiB): an attempt that failed once it had ended can go again. undici
  // reads the first attempt's body only once connected, from a pass-through fed beside the copy.
  const replay =
    body !== null && retriesLeft > 0 ? new ReplayableBody(body, { declaredLength: declaredLength(req) }) : undefined;
  const firstBody = replay?.lateReader() ?? body;
  /** The body for another attempt: none, the kept copy, or undefined when it cannot be sent again (yet). */
  const again = (): Buffer | null | undefined => (body === null ? null : replay?.bytes);
  // A request with a body is reset at the peer once the app leaves, mid-body or while the peer thinks (not left to
  // the timeout); a bodiless GET keeps the hot path.
  const gone = body === null ? undefined : abortWhenCallerLeaves(res);
  entry.inFlight += 1;
  let held = false; // a place in the retry budget
  const giveBack = () => {
    if (held) retry.settled();
    held = false;
  };
  try {
    for (let attempt = 0; ; attempt += 1) {
      // A retry goes to the upstream's pool in force now: a reload during the backoff may have replaced it (the
      // old one is closing) or removed the upstream (the app gets the last failure).
      const pool = attempt === 0 ? entry.pool : side.retryPool(name, false, permit, res);
      if (!(pool instanceof Pool)) return;
      let upstream: Dispatcher.ResponseData;
      try {
        upstream = await pool.request({
          method,
          path: req.url ?? '/',
          headers: forwardHeaders(req.headers, { host: name }),
          body: attempt === 0 ? firstBody : again(),
          headersTimeout: timeout,
          bodyTimeout: timeout,
          ...(gone === undefined ? {} : { signal: gone.signal }),
        });
      } catch (err) {
        giveBack();
        if (res.destroyed) {
          permit.release(); // the app left (mid-body, or while the peer thought): the peer was not judged
          return;
        }
        let reason = attempt < retriesLeft && !res.destroyed ? retry.reason(err as Error, method) : undefined;
        // Failed while a small body of a declared length was still arriving (a peer refusing the connection before
        // the upload is in): the retry waits for the rest of it (while bytes keep coming).
        if (reason !== undefined && replay?.pending === true) await new Promise((r) => replay.whenWhole(r));
        if (again() === undefined || res.destroyed) reason = undefined;
        if (reason !== undefined) {
          if (side.reserveRetry(entry)) {
            held = true;
            if (await side.backoff(entry, name, reason, attempt, res)) continue;
            permit.release(); // the app left while the retry waited
            return;
          }
        }
        side.failed(err, name, timeout, permit, res);
        return;
      }
      giveBack();
      // A status to retry: the answer is dropped unread for another attempt, if the budget has a place for one
      // (else it is relayed).
      if (attempt < retriesLeft && retry.retriesStatus(method, upstream.statusCode) && again() !== undefined) {
        if (side.reserveRetry(entry)) {
          held = true;
          await upstream.body.dump().catch(() => {});
          if (await side.backoff(entry, name, 'status', attempt, res)) continue;
          permit.release();
          return;
        }
      }
      if (res.destroyed) {
        // The app left before the answer's head: nothing to relay, and the breaker hears nothing (a half-open
        // trial slot must not stay taken).
        upstream.body.on('error', () => {}); // undici's body emits its AbortError on destroy
        upstream.body.destroy();
        permit.release();
        return;
      }
      const failedStatus = PEER_FAILURE_STATUSES.has(upstream.statusCode);
      if (!writeAnswerHead(res, upstream)) {
        // An answer the app's protocol cannot carry (HTTP/2: a status past 599, a repeated single-value field).
        permit.done(false);
        side.requests.failed++;
        logger.warn({ upstream: name, status: upstream.statusCode }, 'upstream sidecar answer cannot be relayed');
        sendProblem(res, 'ERR_MESH_UPSTREAM_FAILED', { upstream: name, detail: 'its answer cannot be relayed' });
        return;
      }
      side.requests.forwarded++;
      // The breaker hears of the exchange once the whole answer went through (as the gateway's does).
      relayBody(upstream.body, res, (outcome) => {
        if (outcome.ok) return permit.done(!failedStatus);
        if (outcome.clientGone) return permit.release();
        permit.done(false);
        const timedOut = upstreamFailureKind(outcome.error) === 'timeout';
        logger.warn(
          { err: outcome.error.message, upstream: name, ...(timedOut ? { timeoutMs: timeout } : {}) },
          timedOut
            ? 'upstream sidecar stalled mid-answer: answer cut'
            : 'upstream sidecar failed mid-answer: answer cut',
        );
      });
      return;
    }
  } finally {
    gone?.stop();
    giveBack();
    entry.inFlight -= 1;
  }
}
