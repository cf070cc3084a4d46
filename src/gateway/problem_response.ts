import type { ServerResponse } from 'node:http';
import { GatehouseError, isGatehouseError } from '../core/index.js';

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

/**
 * Answers with an application/problem+json body for `err` (its public message only; a non-GatehouseError is a 500
 * ERR_INTERNAL). Does nothing when the response has already started.
 *
 * @example
 * sendProblem(res, new GatehouseError('ERR_RATE_LIMITED'), requestId, { headers: { 'retry-after': '1' } });
 */
export function sendProblem(res: ServerResponse, err: unknown, requestId: string, extras: ProblemExtras = {}): number {
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
    ...extras.headers,
  });
  res.end(body);
  return e.status;
}
