import { formFields } from '../core/index.js';
import { oauthError } from './oauth_error.js';

const FORM = /^application\/x-www-form-urlencoded\s*(;.*)?$/i;

/** Parameters that may repeat in a token request (RFC 8707 `resource`); any other repeat is invalid_request. */
const REPEATABLE = new Set(['resource']);

/** A parsed token request body. */
export interface TokenRequestParams {
  params: Map<string, string>;
  resources: string[];
}

/**
 * Parses a token request body (RFC 6749 §3.2): `application/x-www-form-urlencoded` only, at most `maxParameters`
 * parameters, no repeated parameter, parameters without a value treated as omitted. Violations are invalid_request.
 *
 * @example
 * const { params, resources } = parseTokenRequest('application/x-www-form-urlencoded', body, 32);
 */
export function parseTokenRequest(
  contentType: string | undefined,
  body: string,
  maxParameters: number,
): TokenRequestParams {
  if (contentType === undefined || !FORM.test(contentType)) {
    throw oauthError('invalid_request', 'content type must be application/x-www-form-urlencoded');
  }
  const params = new Map<string, string>();
  const resources: string[] = [];
  let count = 0;
  for (const [name, value] of formFields(body)) {
    if (++count > maxParameters) throw oauthError('invalid_request', 'too many parameters');
    if (value === '') continue;
    if (REPEATABLE.has(name)) {
      resources.push(value);
      continue;
    }
    if (params.has(name)) throw oauthError('invalid_request', `parameter ${name.slice(0, 40)} is repeated`);
    params.set(name, value);
  }
  return { params, resources };
}
