import type { BlockList } from 'node:net';
import { inSubnets, subnets } from './client_address.js';
import type { RouteConfig } from './gateway_config.js';

/**
 * A route's source address lists (`sources.allow`, `sources.deny`), as Kong's ip-restriction plugin, nginx's
 * `allow`/`deny` and Istio's `remoteIpBlocks` judge a request: an address in `deny` is refused; with an `allow` list,
 * an address outside it is refused. The address is the client's as the gateway resolves it (the socket peer, or
 * X-Forwarded-For behind a trusted proxy), IPv4-mapped IPv6 read as IPv4.
 *
 * @example
 * const access = SourceAccess.of(route.sources, 'gateway.routes.0.sources');
 * access?.admits('203.0.113.9');
 */
export class SourceAccess {
  private constructor(
    private readonly allow: BlockList | undefined,
    private readonly deny: BlockList | undefined,
  ) {}

  /** The lists of a route, or undefined when it has none; ERR_CONFIG_INVALID naming the entry that is no CIDR. */
  static of(config: RouteConfig['sources'], key: string): SourceAccess | undefined {
    if (config.allow.length === 0 && config.deny.length === 0) return undefined;
    return new SourceAccess(
      config.allow.length === 0 ? undefined : subnets(config.allow, `${key}.allow`),
      config.deny.length === 0 ? undefined : subnets(config.deny, `${key}.deny`),
    );
  }

  /** Whether a request from `address` may go on (none known: never, on a route with lists). */
  admits(address: string): boolean {
    if (address === '') return false;
    if (this.deny !== undefined && inSubnets(this.deny, address)) return false;
    return this.allow === undefined || inSubnets(this.allow, address);
  }
}
