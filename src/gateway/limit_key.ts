import type { GatewayPrincipal } from './authenticator.js';
import { addressKey } from './client_address.js';
import type { LimitKeyPart } from './gateway_config.js';

/** What a request can be counted by. */
export interface LimitSubject {
  route: string;
  clientIp: string;
  principal: GatewayPrincipal | undefined;
}

/** One part's value; `-` when the request has none (e.g. no principal on a public route). */
function part(p: LimitKeyPart, s: LimitSubject): string {
  switch (p) {
    case 'ip':
      return addressKey(s.clientIp);
    case 'route':
      return s.route;
    case 'client':
      return s.principal?.clientId || '-';
    case 'user':
      return s.principal?.sub || '-';
    case 'api_key':
      return s.principal?.apiKeyId ?? '-';
  }
}

/**
 * The store key of one limit for one request: `<route>/<limit>/<part>=<value>|...`. The route and limit names are
 * part of the key, so two routes or two limits never share counters.
 *
 * @example
 * limitKey('demo', 'per-key', ['api_key'], subject); // 'demo/per-key/api_key=key_123'
 */
export function limitKey(route: string, limit: string, parts: readonly LimitKeyPart[], s: LimitSubject): string {
  let key = `${route}/${limit}/`;
  for (let i = 0; i < parts.length; i += 1) {
    const p = parts[i] as LimitKeyPart;
    key += `${i === 0 ? '' : '|'}${p}=${part(p, s)}`;
  }
  return key;
}
