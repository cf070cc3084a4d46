import type { Dispatcher } from 'undici';
import { GatehouseError } from '../core/index.js';
import { fetchJson } from './http_client.js';

/** How to call the issuer's RFC 7662 introspection endpoint (client_secret_basic). */
export interface IntrospectionEndpoint {
  url: string;
  clientId: string;
  clientSecret: string;
}

/**
 * Asks the issuer about one token (RFC 7662). Resolves the answer when `active` is true, undefined when inactive;
 * throws ERR_VERIFIER_UNAVAILABLE when the endpoint cannot answer. The token is sent only in the POST body.
 *
 * @example
 * const answer = await introspect(dispatcher, endpoint, token, 'access_token', 5000);
 */
export async function introspect(
  dispatcher: Dispatcher,
  endpoint: IntrospectionEndpoint,
  token: string,
  hint: string,
  timeoutMs: number,
): Promise<Record<string, unknown> | undefined> {
  const basic = Buffer.from(
    `${encodeURIComponent(endpoint.clientId)}:${encodeURIComponent(endpoint.clientSecret)}`,
  ).toString('base64');
  const res = await fetchJson(dispatcher, endpoint.url, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, token_type_hint: hint }).toString(),
    timeoutMs,
    maxBytes: 64 * 1024,
  });
  const body = res.json as Record<string, unknown> | undefined;
  if (res.status !== 200 || body === null || typeof body !== 'object' || typeof body['active'] !== 'boolean') {
    throw new GatehouseError('ERR_VERIFIER_UNAVAILABLE', { detail: `introspection answered ${res.status}` });
  }
  return body['active'] ? body : undefined;
}
