import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { GatehouseError, isGatehouseError, type Logger } from '../core/index.js';

/** An RFC 9457 problem document as gatehouse's own HTTP APIs return it. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  instance?: string;
}

/** Builds the problem document for an error: the public message only, never internal detail. */
export function problemFor(err: GatehouseError, instance?: string): Problem {
  return {
    type: `https://gatehouse.dev/errors#${err.code}`,
    title: err.message,
    status: err.status,
    code: err.code,
    ...(instance === undefined ? {} : { instance }),
  };
}

/** Maps anything thrown inside a route to a GatehouseError: fastify's own errors keep their 4xx meaning. */
export function toGatehouseError(err: unknown): GatehouseError {
  if (isGatehouseError(err)) return err;
  const fe = err as Partial<FastifyError> & { statusCode?: number };
  const status = fe.statusCode ?? 500;
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) {
    return new GatehouseError('ERR_HTTP_PAYLOAD_TOO_LARGE');
  }
  if (status === 405) return new GatehouseError('ERR_HTTP_METHOD_NOT_ALLOWED');
  if (status >= 400 && status < 500) {
    return new GatehouseError('ERR_HTTP_BAD_REQUEST', { message: publicFastifyMessage(fe), detail: fe.message });
  }
  return new GatehouseError('ERR_INTERNAL', { detail: (err as Error)?.message, cause: err });
}

function publicFastifyMessage(fe: Partial<FastifyError>): string {
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'Unsupported content type';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'Empty JSON body';
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'Malformed request body';
    case 'FST_ERR_BAD_URL':
      return 'Malformed percent-escape in the path';
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return 'A path segment is too long';
    case 'FST_ERR_VALIDATION':
      return `Invalid request: ${fe.message ?? ''}`.slice(0, 300);
    default:
      return 'Bad request';
  }
}

/**
 * Sends `err` as application/problem+json, logging 5xx with their private detail. An error carrying
 * `retryAfterSeconds` (a throttle's refusal) is answered with that Retry-After.
 */
export function sendProblem(reply: FastifyReply, request: FastifyRequest, err: unknown, logger: Logger): void {
  const gh = toGatehouseError(err);
  const retry = (err as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  if (typeof retry === 'number' && Number.isSafeInteger(retry) && retry > 0) {
    void reply.header('retry-after', String(retry));
  }
  if (gh.status >= 500) {
    logger.error(
      { code: gh.code, detail: gh.detail, err: (gh.cause as Error)?.stack, reqId: request.id },
      'request failed',
    );
  }
  void reply
    .code(gh.status)
    .type('application/problem+json')
    .send(problemFor(gh, request.url.split('?')[0]));
}
