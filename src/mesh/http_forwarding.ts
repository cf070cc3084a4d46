import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import {
  GatehouseError,
  normalizeRequestTarget,
  REQUEST_TARGET_RULE,
  type ErrorCode,
  type Logger,
} from '../core/index.js';

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
  'host',
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
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs)) {
    headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
  }
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
