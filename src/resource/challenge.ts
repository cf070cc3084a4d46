import { isGatehouseError, type GatehouseError } from '../core/index.js';
import { InsufficientScopeError } from './requirements.js';

/** An RFC 6750 §3 error response: status, headers (WWW-Authenticate, content type) and a problem+json body. */
export interface BearerChallenge {
  status: number;
  headers: Record<string, string>;
  body: { type: string; title: string; status: number; code: string };
}

/** Fixed `error_description`s: they never echo the token or say which check failed. */
const DESCRIPTIONS: Record<string, string> = {
  invalid_request: 'The request carries credentials in an unusable form',
  invalid_token: 'The access token is invalid',
  insufficient_scope: 'The access token lacks a required scope or role',
};

/**
 * A quoted-string of RFC 6750 §3 (`realm`, `scope`): only %x20-21 / %x23-5B / %x5D-7E survive. Everything else
 * (quote, backslash, control characters, non-ASCII) is dropped, so a realm taken from any audience string can never
 * break the header or make node:http refuse it.
 */
function quoted(value: string): string {
  return `"${value.replace(/[^\x20-\x7e]|["\\]/g, '')}"`;
}

/**
 * Maps a verifier or authorization error to its RFC 6750 §3.1 answer: no credentials → 401 with only
 * `Bearer realm`, `invalid_request` → 400, `invalid_token` → 401, `insufficient_scope` → 403 with `scope="…"`,
 * issuer unreachable → 503 with Retry-After. Anything else is a 500.
 *
 * @example
 * const { status, headers, body } = bearerChallenge(err, verifier.realm);
 */
export function bearerChallenge(err: unknown, realm: string): BearerChallenge {
  const gh = isGatehouseError(err) ? err : undefined;
  const code = gh?.code ?? 'ERR_INTERNAL';
  const headers: Record<string, string> = { 'content-type': 'application/problem+json', 'cache-control': 'no-store' };
  let error: string | undefined;
  if (code === 'ERR_TOKEN_REQUEST_INVALID') error = 'invalid_request';
  else if (code === 'ERR_TOKEN_INVALID' || code.startsWith('ERR_JWS_')) error = 'invalid_token';
  else if (code === 'ERR_TOKEN_INSUFFICIENT_SCOPE') error = 'insufficient_scope';
  const parts = [`Bearer realm=${quoted(realm)}`];
  if (error !== undefined) {
    parts.push(`error="${error}"`, `error_description="${DESCRIPTIONS[error] ?? ''}"`);
    if (err instanceof InsufficientScopeError && err.requiredScopes.length > 0) {
      parts.push(`scope=${quoted(err.requiredScopes.join(' '))}`);
    }
  }
  if (error !== undefined || code === 'ERR_TOKEN_MISSING') headers['www-authenticate'] = parts.join(', ');
  if (code === 'ERR_VERIFIER_UNAVAILABLE') headers['retry-after'] = '5';
  const status = error === 'invalid_token' ? 401 : ((gh as GatehouseError | undefined)?.status ?? 500);
  const title =
    gh !== undefined && status < 500 ? gh.message : status === 503 ? (gh as GatehouseError).message : 'Internal error';
  return { status, headers, body: { type: `https://gatehouse.dev/errors#${code}`, title, status, code } };
}
