import { constants, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';

/** What to answer when a request's body did not come in time (`detail` says what was waited for). */
export type RefuseLate = (res: Http2ServerResponse, detail: string) => void;

/**
 * Holds an HTTP/2 request's body to `ms` in all, counted from now: once it passes with the body incomplete, `refuse`
 * answers (a 408), or the stream is reset when the answer has already started. Nothing once the body ended or the
 * stream closed. HTTP/2's counterpart of node:http's `requestTimeout`, per stream.
 *
 * @example
 * if (!req.stream.endAfterHeaders) bodyDeadline(req, res, 60_000, (r, detail) => sendProblem(r, 'ERR_HTTP_REQUEST_TIMEOUT', { detail }));
 */
export function bodyDeadline(req: Http2ServerRequest, res: Http2ServerResponse, ms: number, refuse: RefuseLate): void {
  const stream = req.stream;
  const timer = setTimeout(() => bodyTimedOut(req, res, `body not received within ${ms} ms`, refuse), ms);
  timer.unref();
  stream.once('end', () => clearTimeout(timer));
  stream.once('close', () => clearTimeout(timer));
}

/**
 * Holds an HTTP/2 request's body to `ms` of inactivity (no frame either way) instead: a gRPC call's body is a stream
 * of messages that may last as long as the call (client-streaming, bidirectional).
 */
export function bodyInactivity(
  req: Http2ServerRequest,
  res: Http2ServerResponse,
  ms: number,
  refuse: RefuseLate,
): void {
  req.stream.setTimeout(ms, () => bodyTimedOut(req, res, `no frame for ${ms} ms`, refuse));
}

/** The bound passed: `refuse` answers, or the stream is reset once the answer has started; nothing if it is done. */
function bodyTimedOut(req: Http2ServerRequest, res: Http2ServerResponse, detail: string, refuse: RefuseLate): void {
  const stream = req.stream;
  if (stream.closed || stream.readableEnded) return;
  if (res.headersSent) {
    stream.close(constants.NGHTTP2_CANCEL);
    return;
  }
  refuse(res, detail);
}
