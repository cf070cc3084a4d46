import { ERROR_CODES, GatehouseError, type ErrorCode } from '../core/index.js';

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/**
 * The error a CLI command reports for an HTTP error answer of gatehouse: the problem document's code and title when
 * the code is one of ours; otherwise (a body that is not a problem document, or a code this CLI does not know, e.g.
 * from a server of another version) a code chosen by the status, with the title or `HTTP <status>` as message.
 * A `Retry-After` in seconds (a 429 or 503) is added to the message. Never throws while reading the body.
 *
 * @example
 * if (response.statusCode >= 400) throw errorFromAnswer(response.statusCode, await response.body.text());
 */
export function errorFromAnswer(status: number, text: string, retryAfter?: string | string[]): GatehouseError {
  let problem: { title?: unknown; code?: unknown } = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) problem = parsed as typeof problem;
  } catch {
    // not a problem document: keep the status
  }
  const wait = typeof retryAfter === 'string' && /^\d{1,9}$/.test(retryAfter.trim()) ? Number(retryAfter) : undefined;
  const title = typeof problem.title === 'string' ? problem.title : `HTTP ${status}`;
  // a throttled or unavailable answer says when to try again (Retry-After, delay-seconds)
  const message = wait === undefined ? title : `${title} (try again in ${wait} s)`;
  if (isErrorCode(problem.code)) return new GatehouseError(problem.code, { message });
  const fallback: ErrorCode =
    status === 404 ? 'ERR_HTTP_NOT_FOUND' : status >= 400 && status < 500 ? 'ERR_HTTP_BAD_REQUEST' : 'ERR_INTERNAL';
  const detail = typeof problem.code === 'string' ? `code ${problem.code.slice(0, 64)}` : undefined;
  return new GatehouseError(fallback, { message, ...(detail === undefined ? {} : { detail }) });
}
