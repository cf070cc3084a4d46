import type { OutgoingHttpHeaders } from 'node:http';
import type { Logger } from '../core/index.js';
import type { GatewayConfig } from './gateway_config.js';

/**
 * The Strict-Transport-Security value of `gateway.hsts` (RFC 6797 §6.1), undefined when `maxAge` is 0.
 *
 * @example
 * strictTransportSecurity({ maxAge: 31_536_000_000, includeSubDomains: true, preload: false });
 * // 'max-age=31536000; includeSubDomains'
 */
export function strictTransportSecurity(hsts: GatewayConfig['hsts']): string | undefined {
  if (hsts.maxAge <= 0) return undefined;
  let value = `max-age=${Math.floor(hsts.maxAge / 1000)}`;
  if (hsts.includeSubDomains) value += '; includeSubDomains';
  if (hsts.preload) value += '; preload';
  return value;
}

/**
 * The value the gateway adds to its answers for `config` (start and each reload). Turning HSTS off is a weaker
 * setting, so it is said in the log (`gateway_hsts_off`, warn).
 *
 * @example
 * this.hsts = hstsOf(config, logger);
 */
export function hstsOf(config: GatewayConfig, logger: Logger): string | undefined {
  const value = strictTransportSecurity(config.hsts);
  if (value === undefined) {
    logger.warn(
      { event: 'gateway_hsts_off' },
      'gateway.hsts.maxAge is 0: gateway responses carry no Strict-Transport-Security',
    );
  }
  return value;
}

/**
 * Adds the gateway's Strict-Transport-Security (`hsts`, undefined when off) to an answer's fields unless the upstream
 * sent its own: one field, the upstream's winning (Envoy's ADD_IF_ABSENT).
 *
 * @example
 * addHsts(headers, ctx.hsts);
 */
export function addHsts(headers: OutgoingHttpHeaders, hsts: string | undefined): void {
  if (hsts !== undefined && headers['strict-transport-security'] === undefined) {
    headers['strict-transport-security'] = hsts;
  }
}
