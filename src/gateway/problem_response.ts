import type { IncomingHttpHeaders } from 'node:http';
import { GatehouseError, isGatehouseError } from '../core/index.js';
import { CONNECTION_SPECIFIC } from '../mesh/index.js';
import { grpcWebCall } from './grpc_web.js';
import type { RequestContext } from './pipeline.js';

/** RFC 9457 problem types of draft-ietf-httpapi-ratelimit-headers-11 §5. */
export const QUOTA_EXCEEDED = 'https://iana.org/assignments/http-problem-types#quota-exceeded';
export const TEMPORARY_REDUCED_CAPACITY = 'https://iana.org/assignments/http-problem-types#temporary-reduced-capacity';

/** Extra parts of a problem answer. */
export interface ProblemExtras {
  headers?: Record<string, string>;
  /** Overrides the `type` URI. */
  type?: string;
  /** Extension members (snake_case). */
  members?: Record<string, unknown>;
}

/** What a problem answer needs of its request (`req` to answer a gRPC call in gRPC's terms). */
export type ProblemTarget = Pick<RequestContext, 'res' | 'requestId' | 'hsts'> &
  Partial<Pick<RequestContext, 'req' | 'grpcStatus'>>;

/**
 * gRPC status codes of the gateway's own refusals of a gRPC call, by HTTP status: gRPC's "HTTP to gRPC status code
 * mapping" as Envoy applies it to its local replies (400 INTERNAL, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED,
 * 404 UNIMPLEMENTED, 502/503/504 UNAVAILABLE), except that a rate limit (429), a body or header block too large (413,
 * 431) are RESOURCE_EXHAUSTED (Envoy's `rate_limited_as_resource_exhausted`: gRPC clients retry UNAVAILABLE, which
 * would spend a limited key's budget again at once) and a request timeout (408) is DEADLINE_EXCEEDED. Others: UNKNOWN.
 */
const GRPC_STATUS: Readonly<Record<number, number>> = {
  400: 13,
  401: 16,
  403: 7,
  404: 12,
  405: 12,
  408: 4,
  413: 8,
  429: 8,
  431: 8,
  501: 12,
  502: 14,
  503: 14,
  504: 14,
};
const GRPC_UNKNOWN = 2;

/**
 * Whether a request is a gRPC call: `Content-Type: application/grpc`, alone or with a `+format` or parameters
 * (gRPC over HTTP/2, PROTOCOL-HTTP2.md). gRPC-Web (`application/grpc-web`) is not: its status travels in the body.
 *
 * @example
 * isGrpcRequest({ 'content-type': 'application/grpc+proto' }); // true
 */
export function isGrpcRequest(headers: { 'content-type'?: string | undefined }): boolean {
  const type = headers['content-type'];
  if (type === undefined || type.length < 16 || type.slice(0, 16).toLowerCase() !== 'application/grpc') return false;
  const next = type.charCodeAt(16);
  return Number.isNaN(next) || next === 43 /* + */ || next === 59 /* ; */ || next === 32; /* space */
}

/**
 * The media type of a gRPC answer to a request: `application/grpc` for a gRPC call, the call's own gRPC-Web type for a
 * gRPC-Web one (`+proto` added when it names no format), undefined for anything else.
 *
 * @example
 * grpcAnswerType({ 'content-type': 'application/grpc-web-text' }); // 'application/grpc-web-text+proto'
 */
export function grpcAnswerType(headers: IncomingHttpHeaders): string | undefined {
  if (isGrpcRequest(headers)) return 'application/grpc';
  return grpcWebCall(headers)?.answerType;
}

/** gRPC's `grpc-message` encoding: UTF-8, bytes outside printable ASCII and `%` percent-encoded. */
function grpcMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out +=
      byte < 0x20 || byte > 0x7e || byte === 0x25
        ? '%' + byte.toString(16).toUpperCase().padStart(2, '0')
        : String.fromCharCode(byte);
  }
  return out;
}

/**
 * Answers a gRPC (or gRPC-Web) call the gateway refuses as gRPC clients expect (what Envoy does for its local replies): a
 * Trailers-Only response, HTTP status 200 with `grpc-status` and `grpc-message` in the one header block, which on
 * HTTP/2 ends the stream (END_STREAM on HEADERS: a client waits for trailers otherwise). The gateway's fields
 * (request id, Retry-After, RateLimit, WWW-Authenticate) go with it; the gRPC status goes to `ctx.grpcStatus`.
 */
function sendGrpcRefusal(ctx: ProblemTarget, type: string, e: GatehouseError, extras: ProblemExtras): void {
  const status = GRPC_STATUS[e.status] ?? GRPC_UNKNOWN;
  const fields: Record<string, string | number> = {
    'content-type': type,
    'grpc-status': status,
    'grpc-message': grpcMessage(`${e.code}: ${e.message}`),
    'x-request-id': ctx.requestId,
    ...(ctx.hsts === undefined ? undefined : { 'strict-transport-security': ctx.hsts }),
    ...extras.headers,
  };
  const stream = (ctx.res as { stream?: { respond(h: object, o: object): void } }).stream;
  if (stream !== undefined && ctx.req?.httpVersion === '2.0') {
    // stream.respond bypasses the HTTP/2 front's writeHead, which drops connection-specific fields (the WAF's
    // `Connection: close` for an unread body): dropped here as well, node throws on them.
    for (const name of CONNECTION_SPECIFIC) delete fields[name];
    stream.respond({ ':status': 200, ...fields }, { endStream: true });
  } else {
    ctx.res.writeHead(200, { ...fields, 'content-length': 0 });
    ctx.res.end();
  }
  ctx.grpcStatus = status;
}

/**
 * Answers with an application/problem+json body for `err` (its public message only; a non-GatehouseError is a 500
 * ERR_INTERNAL), with the request id and the request's Strict-Transport-Security; a gRPC call (given `req`) gets a
 * Trailers-Only gRPC answer instead (see {@link GRPC_STATUS}). Destroys the response instead when it has already
 * started.
 *
 * @example
 * sendProblem(ctx, new GatehouseError('ERR_RATE_LIMITED'), { headers: { 'retry-after': '1' } });
 */
export function sendProblem(ctx: ProblemTarget, err: unknown, extras: ProblemExtras = {}): number {
  const { res, requestId } = ctx;
  const e = isGatehouseError(err) ? err : new GatehouseError('ERR_INTERNAL');
  if (res.headersSent) {
    res.destroy();
    return e.status;
  }
  const grpcType = ctx.req === undefined ? undefined : grpcAnswerType(ctx.req.headers);
  if (grpcType !== undefined) {
    sendGrpcRefusal(ctx, grpcType, e, extras);
    return e.status;
  }
  const body = JSON.stringify({
    type: extras.type ?? `https://gatehouse.dev/errors#${e.code}`,
    title: e.message,
    status: e.status,
    code: e.code,
    request_id: requestId,
    ...extras.members,
  });
  res.writeHead(e.status, {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-request-id': requestId,
    ...(ctx.hsts === undefined ? undefined : { 'strict-transport-security': ctx.hsts }),
    ...extras.headers,
  });
  res.end(body);
  return e.status;
}
