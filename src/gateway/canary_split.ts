import type { RouteConfig } from './gateway_config.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { GatewayPrincipal } from './authenticator.js';
import type { Upstream } from './upstream.js';

type CanaryConfig = NonNullable<RouteConfig['canary']>;

/** Buckets a request is drawn into: `percent` with two decimals. */
const BUCKETS = 10_000;

/**
 * A route's canary: `percent` of its requests go to the canary upstream instead of the primary. The draw is random
 * per request (`hashOn: none`), or a hash of the caller (`client`) or of the client address (`address`), so that one
 * caller stays on one side while the percent holds; a request carrying `header` with its value always goes to the
 * canary. The same caller lands on the canary at every percent above its bucket: raising the percent only adds callers.
 *
 * @example
 * const split = new CanarySplit(upstreams.get('orders-v2'), { upstream: 'orders-v2', percent: 5, hashOn: 'client' });
 * const upstream = split.choose(primary, req.headers, principal, clientIp);
 */
export class CanarySplit {
  private readonly threshold: number;

  constructor(
    readonly upstream: Upstream,
    private readonly config: CanaryConfig,
  ) {
    this.threshold = Math.round(config.percent * (BUCKETS / 100));
  }

  /** The upstream for a request: the canary or `primary`. */
  choose(
    primary: Upstream,
    headers: IncomingHttpHeaders,
    principal: GatewayPrincipal | undefined,
    clientIp: string,
  ): Upstream {
    const { header } = this.config;
    if (header !== undefined && headers[header.name] === header.value) return this.upstream;
    if (this.threshold === 0) return primary;
    if (this.threshold >= BUCKETS) return this.upstream;
    return this.bucket(principal, clientIp) < this.threshold ? this.upstream : primary;
  }

  private bucket(p: GatewayPrincipal | undefined, clientIp: string): number {
    switch (this.config.hashOn) {
      case 'none':
        return Math.floor(Math.random() * BUCKETS);
      case 'client': {
        // The user of a JWT (its client is one application, shared by all its users), the key of an API key.
        const caller =
          p === undefined
            ? `ip:${clientIp}`
            : p.kind === 'jwt'
              ? `jwt:${p.sub || p.clientId}`
              : `api_key:${p.apiKeyId ?? (p.clientId || p.sub)}`;
        return fnv1a(caller) % BUCKETS;
      }
      case 'address':
        return fnv1a(`ip:${clientIp}`) % BUCKETS;
    }
  }
}

/** 32-bit FNV-1a of a string's UTF-16 code units: a spread for buckets, not a secret. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
