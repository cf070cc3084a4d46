import type { GatewayPrincipal } from './authenticator.js';
import { addressKey } from '../ratelimit/index.js';
import type { LimitKeyPart } from './gateway_config.js';

/** What a request can be counted by. */
export interface LimitSubject {
  route: string;
  clientIp: string;
  principal: GatewayPrincipal | undefined;
}

/**
 * The parts a route's `auth.kind` can fill: a limit keyed by another part would count every request under `-`, in one
 * counter shared by all callers, so it is refused at load.
 */
const FILLED: Readonly<Record<'none' | 'jwt' | 'api_key', readonly LimitKeyPart[]>> = {
  none: ['ip', 'route'],
  jwt: ['ip', 'route', 'client', 'user'],
  api_key: ['ip', 'route', 'client', 'user', 'api_key'],
};

/**
 * The first part of `parts` that a route authenticating with `kind` never fills, or undefined when it fills them all.
 *
 * @example
 * unfilledPart(['api_key'], 'jwt'); // 'api_key': JWT callers carry no API key
 */
export function unfilledPart(
  parts: readonly LimitKeyPart[],
  kind: 'none' | 'jwt' | 'api_key',
): LimitKeyPart | undefined {
  return parts.find((p) => !FILLED[kind].includes(p));
}

/** One part's value; `-` when the request has none (e.g. no principal on a public route). */
function part(p: LimitKeyPart, s: LimitSubject): string {
  switch (p) {
    case 'ip':
      return addressKey(s.clientIp);
    case 'route':
      return s.route;
    case 'client':
      // An API key without an owner has no client: it is its own (as Kong's consumer falls back to the credential),
      // so unowned keys never share one counter.
      return s.principal?.clientId || s.principal?.apiKeyId || '-';
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
