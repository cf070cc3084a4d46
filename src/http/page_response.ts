import type { FastifyReply } from 'fastify';
import { isGatehouseError, type Logger } from '../core/index.js';
import { FORBIDDEN_REDIRECT_SCHEMES } from '../identity/index.js';
import { messageView } from './identity_pages_views.js';

/** A CSP source naming where a form's answer may redirect: an http(s) origin or a native app's scheme (`com.example.app:`). */
const FORM_TARGET = /^(?:https?:\/\/[^\s;,'/]+|[a-z][a-z0-9+.-]*:)$/;

/**
 * The strict Content-Security-Policy of every page: nothing but our own stylesheet; forms post only to us (and, when
 * the form's answer redirects to a client, to that client's origin, or to its scheme for a native app's private-use
 * redirect URI: browsers apply form-action to redirects, so without it "Allow" would do nothing).
 *
 * @example
 * reply.header('content-security-policy', pageCsp('https://app.example'));
 */
export function pageCsp(formTarget?: string): string {
  const allowed =
    formTarget !== undefined && FORM_TARGET.test(formTarget) && !FORBIDDEN_REDIRECT_SCHEMES.has(formTarget);
  const targets = ["'self'", ...(allowed ? [formTarget] : [])];
  return [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self'",
    `form-action ${targets.join(' ')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/**
 * The page for a failure that is not the person's: 503 "Temporarily unavailable" (logged as a warning) when what the
 * page needs is away (storage unreachable, a root key not adopted yet: a GatehouseError registered with 503), so the
 * person knows a retry may work; anything else 500 "Something went wrong", logged as an error with `what`.
 *
 * @example
 * return serverFailurePage(reply, err, logger, 'sign-in page failed');
 */
export function serverFailurePage(reply: FastifyReply, err: unknown, logger: Logger, what: string): FastifyReply {
  if (isGatehouseError(err) && err.status === 503) {
    logger.warn({ code: err.code, err: err.message }, what);
    return page(reply, 503, messageView('Temporarily unavailable', 'Please try again in a moment.', 'alert'));
  }
  logger.error({ err: (err as Error)?.message }, what);
  return page(reply, 500, messageView('Something went wrong', 'Please try again later.', 'alert'));
}

/** Sends a page with the headers every sign-in page carries (strict CSP, no framing, no caching). */
export function page(reply: FastifyReply, status: number, html: string, formTarget?: string): FastifyReply {
  return reply
    .code(status)
    .header('content-security-policy', pageCsp(formTarget))
    .header('x-frame-options', 'DENY')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(html);
}

/** A string field of a parsed form body, or undefined. */
export const field = (body: unknown, name: string): string | undefined => {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : undefined;
};
