import { GatehouseError } from '../core/index.js';
import { API_KEY_PREFIX } from './api_key.js';

/** Request headers as node:http gives them (lowercase names). */
export type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

/** The one credential a request carries. */
export interface Credential {
  kind: 'jwt' | 'api_key';
  value: string;
}

const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

function invalidRequest(detail: string): GatehouseError {
  return new GatehouseError('ERR_TOKEN_REQUEST_INVALID', { oauthError: 'invalid_request', detail });
}

function single(value: string | string[] | undefined, name: string): string | undefined {
  if (Array.isArray(value)) {
    if (value.length > 1) throw invalidRequest(`repeated ${name} header`);
    return value[0];
  }
  return value;
}

/**
 * Finds the credential of a request: `Authorization: Bearer <token>` (an API key when it starts with
 * {@link API_KEY_PREFIX}) or, when `apiKeyHeader` is set, an API key in that header. No credential (or another
 * scheme such as Basic) throws ERR_TOKEN_MISSING; a malformed Bearer header, a repeated header or two credentials at
 * once throws ERR_TOKEN_REQUEST_INVALID (RFC 6750 `invalid_request`).
 *
 * @example
 * const credential = extractCredential(req.headers, 'x-api-key');
 */
export function extractCredential(headers: HeaderBag, apiKeyHeader?: string): Credential {
  const authorization = single(headers['authorization'], 'authorization');
  const apiKey = apiKeyHeader === undefined ? undefined : single(headers[apiKeyHeader], apiKeyHeader);
  let bearer: string | undefined;
  if (authorization !== undefined && /^bearer(?: |$)/i.test(authorization)) {
    const value = authorization.slice(6).trim();
    if (value.length === 0 || !TOKEN68.test(value)) throw invalidRequest('malformed Bearer header');
    bearer = value;
  }
  if (bearer !== undefined && apiKey !== undefined) throw invalidRequest('two credentials');
  if (bearer !== undefined) {
    return { kind: bearer.startsWith(API_KEY_PREFIX) ? 'api_key' : 'jwt', value: bearer };
  }
  if (apiKey !== undefined) {
    if (apiKey.trim().length === 0) throw invalidRequest('empty API key header');
    return { kind: 'api_key', value: apiKey.trim() };
  }
  throw new GatehouseError('ERR_TOKEN_MISSING');
}

/**
 * The Bearer value of the common request shape, without validating it: one `Authorization: Bearer <value>` header
 * (scheme as `Bearer` or `bearer`, one space) and no API-key header. Undefined for anything else. Only for a lookup of
 * credentials already verified (their syntax was checked then); every other use goes through
 * {@link extractCredential}.
 *
 * @example
 * const quick = plainBearer(req.headers, 'x-api-key'); // then look it up; on a miss, extractCredential()
 */
export function plainBearer(headers: HeaderBag, apiKeyHeader?: string): string | undefined {
  const authorization = headers['authorization'];
  if (typeof authorization !== 'string' || authorization.length < 8) return undefined;
  if (!authorization.startsWith('Bearer ') && !authorization.startsWith('bearer ')) return undefined;
  if (apiKeyHeader !== undefined && headers[apiKeyHeader] !== undefined) return undefined;
  return authorization.slice(7);
}
