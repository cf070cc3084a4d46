import type { GatewayPrincipal } from './authenticator.js';
import { addressKey } from '../ratelimit/index.js';
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
 * part of the key, so two routes or two limits never share counters (the gateway's `limit` also holds the limit's
 * parameters, `per-key@1000:1000:100`, so a reload that changes them starts the limit afresh).
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

/**
 * {@link limitKey} of one compiled limit, remembered per principal when the limit does not count by address: the
 * principal of a cached token or API key is one object across requests, and a remembered key string is hashed once,
 * where a freshly built one is hashed again by every lookup in the limiter store (about a microsecond a request).
 *
 * @example
 * const keys = new LimitKeys('per-client', ['client']);
 * keys.of('orders', subject); // 'orders/per-client/client=svc-a', the same string for the same principal
 */
export class LimitKeys {
  private byPrincipal = new WeakMap<GatewayPrincipal, string>();
  private route: string | undefined;
  private readonly byAddress: boolean;

  constructor(
    private readonly limit: string,
    private readonly parts: readonly LimitKeyPart[],
  ) {
    this.byAddress = parts.includes('ip');
  }

  of(route: string, s: LimitSubject): string {
    const principal = s.principal;
    if (this.byAddress || principal === undefined) return limitKey(route, this.limit, this.parts, s);
    if (route !== this.route) {
      this.route = route;
      this.byPrincipal = new WeakMap();
    }
    let key = this.byPrincipal.get(principal);
    if (key === undefined) {
      key = limitKey(route, this.limit, this.parts, s);
      this.byPrincipal.set(principal, key);
    }
    return key;
  }
}
