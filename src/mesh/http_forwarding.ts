import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { retryAfterSeconds } from '../ratelimit/index.js';
import type { Duplex } from 'node:stream';
import { declaresBody } from './websocket_handshake.js';
import {
  GatehouseError,
  normalizeRequestTarget,
  REQUEST_TARGET_RULE,
  upstreamFailureKind,
  type ErrorCode,
  type Logger,
} from '../core/index.js';

/** A peer's answers that count as failures for its circuit breaker (its own 502, 503, 504). */
export const PEER_FAILURE_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

/**
 * The time a sidecar gives the local app (inbound) or a peer (outbound) for its response headers, and between body
 * chunks, unless configured (`sidecar.inbound.timeout`, `sidecar.outbound.upstreams[].timeout`): Envoy's route timeout.
 */
export const MESH_REQUEST_TIMEOUT_MS = 15_000;

/** The XFCC-style header carrying the caller's verified identity to the app. */
export const XFCC_HEADER = 'x-forwarded-client-cert';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // HTTP/1.1's upgrade-to-h2c field; node throws on it in an HTTP/2 message (and in a trailer section).
  'http2-settings',
  'host',
  // Answered by Node's server itself (100 Continue; 417 for any other expectation), never forwarded: undici refuses
  // to send it, which failed every upload curl makes with `Expect: 100-continue` (bodies over 1 MB) as a 502.
  'expect',
  // A bare `Proxy` is read by CGI-style apps as HTTP_PROXY (httpoxy), as the gateway drops it.
  'proxy',
]);

/**
 * Request headers to forward: hop-by-hop headers (and those named in Connection) dropped, the caller's own
 * `x-forwarded-client-cert` stripped (only the sidecar may set it), `extra` added.
 *
 * @example
 * const headers = forwardHeaders(req.headers, { [XFCC_HEADER]: xfcc });
 */
export function forwardHeaders(
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
  extra: Record<string, string> = {},
  keepHost = false,
): Record<string, string | string[]> {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name === XFCC_HEADER || named.includes(name)) continue;
    // X-Forwarded_Client-Cert reaches a CGI-style app (WSGI, PHP, Rack) as the XFCC field: a forged identity.
    if (name.includes('_') && name.replaceAll('_', '-') === XFCC_HEADER) continue;
    if (HOP_BY_HOP.has(name) && !(keepHost && name === 'host')) continue;
    out[name] = value;
  }
  return { ...out, ...extra };
}

/**
 * The XFCC value: `By=<our id>;Hash=<base64url SHA-256 of the peer leaf>;URI=<peer id>`.
 *
 * @example
 * xfccValue('spiffe://td/ns/demo/sa/backend', peer); // 'By=spiffe://...;Hash=...;URI=spiffe://...'
 */
export function xfccValue(ourId: string, peer: { fingerprint: string; spiffeId: string }): string {
  return `By=${ourId};Hash=${peer.fingerprint};URI=${peer.spiffeId}`;
}

/**
 * The body to forward: none for HEAD, and none for a GET that declares none (a stream body would make undici send
 * `transfer-encoding: chunked` on every plain GET); any other request's, GETs with a body included (search APIs
 * such as Elasticsearch's send them; they used to be dropped silently).
 *
 * @example
 * await pool.request({ method, path, headers, body: forwardedBody(req) });
 */
export function forwardedBody(req: IncomingMessage): IncomingMessage | null {
  const method = req.method ?? 'GET';
  if (method === 'HEAD') return null;
  return method === 'GET' && !declaresBody(req) ? null : req;
}

/**
 * True for a request asking to switch protocols that the sidecar would otherwise pass on as a plain request (a
 * WebSocket handshake would reach the app without its `Upgrade` and get an answer the client cannot use). `h2c` alone
 * is ignored as HTTP allows: the request is served over HTTP/1.1.
 *
 * @example
 * if (wantsUpgrade(req)) return sendProblem(res, 'ERR_MESH_UPGRADE_UNSUPPORTED');
 */
export function wantsUpgrade(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  if (upgrade === undefined) return false;
  const protocols = upgrade
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean);
  return protocols.some((p) => p !== 'h2c');
}

/**
 * Answers a `CONNECT` (Node's `connect` event, which otherwise drops the socket without a word) with 501 problem+json
 * (ERR_MESH_UPGRADE_UNSUPPORTED, or the caller's code: the gateway says ERR_GATEWAY_UPGRADE_UNSUPPORTED), then closes
 * the connection.
 *
 * @example
 * server.on('connect', (_req, socket) => refuseTunnel(socket));
 */
export function refuseTunnel(
  socket: Duplex,
  code: 'ERR_MESH_UPGRADE_UNSUPPORTED' | 'ERR_GATEWAY_UPGRADE_UNSUPPORTED' = 'ERR_MESH_UPGRADE_UNSUPPORTED',
): void {
  const err = new GatehouseError(code);
  const body = JSON.stringify({ type: 'about:blank', title: err.message, status: err.status, code });
  socket.on('error', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${err.status} Not Implemented\r\ncontent-type: application/problem+json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * Answers with an application/problem+json body for a gatehouse error code.
 *
 * @example
 * sendProblem(res, 'ERR_MESH_FORBIDDEN', { detail: 'no ALLOW policy matched' });
 */
export function sendProblem(
  res: ServerResponse,
  code: ErrorCode,
  extra: { detail?: string; retryAfterMs?: number; [key: string]: unknown } = {},
): void {
  const err = new GatehouseError(code);
  const { retryAfterMs, ...fields } = extra;
  const body = JSON.stringify({ type: 'about:blank', title: err.message, status: err.status, code, ...fields });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = {
    'content-type': 'application/problem+json',
    'content-length': String(Buffer.byteLength(body)),
  };
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs))
    headers['retry-after'] = String(retryAfterSeconds(retryAfterMs));
  res.writeHead(err.status, headers);
  res.end(body);
}

/**
 * The request's target normalized (normalizeRequestTarget: what policies judge and the app receives), or undefined
 * after answering 400 ERR_HTTP_BAD_REQUEST (`reason: "invalid_target"`) for a target it refuses: not origin-form
 * (absolute-form, `*`), a fragment, a raw backslash or a malformed escape in the path. The refusal is logged at info
 * level.
 *
 * @example
 * const target = normalizedTarget(req, res, logger, peer);
 * if (target === undefined) return;
 */
export function normalizedTarget(
  req: IncomingMessage,
  res: ServerResponse,
  logger: Logger,
  peer: { spiffeId: string } | undefined,
): string | undefined {
  const target = normalizeRequestTarget(req.url ?? '/');
  if (target !== undefined) return target;
  logger.info(
    { spiffeId: peer?.spiffeId, method: req.method, reason: 'invalid_target', length: req.url?.length ?? 0 },
    'request target refused',
  );
  sendProblem(res, 'ERR_HTTP_BAD_REQUEST', {
    reason: 'invalid_target',
    detail: REQUEST_TARGET_RULE,
  });
  return undefined;
}

/** Response headers from undici, minus hop-by-hop ones. */
export function responseHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || (HOP_BY_HOP.has(name) && name !== 'host')) continue;
    out[name] = value;
  }
  return out;
}

/**
 * Fields a trailer section must not carry (RFC 9110 §6.5.1: framing, routing, authentication, response control and
 * content metadata), besides the hop-by-hop ones: dropped when trailers are relayed, so a trailer cannot rewrite what
 * the header section said.
 */
const NOT_IN_TRAILERS = new Set([
  'content-length',
  'content-type',
  'content-encoding',
  'content-range',
  'cache-control',
  'expires',
  'location',
  'retry-after',
  'vary',
  'set-cookie',
  'www-authenticate',
  'authorization',
  'strict-transport-security',
]);

/**
 * Whether a field may travel in a relayed trailer section (not hop-by-hop, not one of RFC 9110 §6.5.1's framing,
 * routing, authentication, response-control or content fields).
 *
 * @example
 * isTrailerField('grpc-status'); // true
 * isTrailerField('set-cookie'); // false
 */
export function isTrailerField(name: string): boolean {
  return !HOP_BY_HOP.has(name) && !NOT_IN_TRAILERS.has(name);
}

/**
 * The trailer fields of an answer that are relayed (gRPC's `grpc-status` and `grpc-message`, checksums, timings),
 * or undefined when there are none.
 *
 * @example
 * const t = relayedTrailers({ 'grpc-status': '0' }); // { 'grpc-status': '0' }
 */
export function relayedTrailers(
  trailers: Record<string, string | string[] | undefined> | null | undefined,
): Record<string, string | string[]> | undefined {
  let out: Record<string, string | string[]> | undefined;
  for (const name in trailers) {
    const value = trailers[name];
    if (value === undefined || !isTrailerField(name)) continue;
    (out ??= {})[name] = value;
  }
  return out;
}

/** A gRPC call (`application/grpc`, `application/grpc+proto`, ...; not gRPC-Web): it needs HTTP/2 end to end. */
export function isGrpc(req: IncomingMessage): boolean {
  return isGrpcType(req.headers['content-type']);
}

/** A gRPC media type (`application/grpc`, `application/grpc+proto`, ...; not gRPC-Web). */
export function isGrpcType(type: string | string[] | undefined): boolean {
  return typeof type === 'string' && /^application\/grpc(?:$|[+;])/i.test(type);
}

/**
 * An answer the next hop failed after its head went out: the caller's response is destroyed (a cut answer, never a
 * complete-looking one) and a warning says whether the next hop stalled (`stalled mid-answer`, with the timeout) or
 * failed, e.g. `upstream sidecar stalled mid-answer: answer cut`.
 */
export function cutAnswer(
  res: ServerResponse,
  error: Error,
  logger: Logger,
  who: 'upstream sidecar' | 'local app',
  fields: Record<string, unknown>,
  timeoutMs: number,
): void {
  const timedOut = upstreamFailureKind(error) === 'timeout';
  logger.warn(
    { err: error.message, ...fields, ...(timedOut ? { timeoutMs } : {}) },
    `${who} ${timedOut ? 'stalled' : 'failed'} mid-answer: answer cut`,
  );
  res.destroy();
}
