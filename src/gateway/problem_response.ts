import { GatehouseError, isGatehouseError } from '../core/index.js';
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

/** What a problem answer needs of its request. */
export type ProblemTarget = Pick<RequestContext, 'res' | 'requestId' | 'hsts'>;

/**
 * Answers with an application/problem+json body for `err` (its public message only; a non-GatehouseError is a 500
 * ERR_INTERNAL), with the request id and the request's Strict-Transport-Security. Destroys the response instead when
 * it has already started.
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
