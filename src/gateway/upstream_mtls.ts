import { GatehouseError, type Clock } from '../core/index.js';
import { PeerChecker, expectSpiffeId, mtlsConnector, type IdentitySource, type MtlsConnect } from '../mesh/index.js';
import type { UpstreamConfig } from './gateway_config.js';

/** The gateway's own workload identity in the mesh: its SVID (kept fresh by the source) and the trust domain. */
export interface UpstreamMesh {
  identity: IdentitySource;
  trustDomain: string;
}

/**
 * Checks an upstream's `mtls` against what the gateway has: a mesh identity, and https:// hosts. Throws
 * ERR_CONFIG_INVALID naming the key below `key`, the upstream's own path (so a reload is refused before anything is
 * built).
 *
 * @example
 * checkUpstreamMtls(config.upstreams[0], mesh, 'gateway.upstreams.0');
 */
export function checkUpstreamMtls(config: UpstreamConfig, mesh: UpstreamMesh | undefined, key: string): void {
  if (config.mtls === undefined) return;
  if (mesh === undefined) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message: `config: ${key}.mtls: upstream ${config.name} uses mtls but this gateway has no mesh identity (gateway.mesh)`,
    });
  }
  checkUpstreamMtlsHosts(config, key);
}

/**
 * An upstream with `mtls` has https:// hosts only; ERR_CONFIG_INVALID naming `<key>.hosts.<i>` otherwise (also checked
 * before a standalone gateway spends its join token).
 *
 * @example
 * checkUpstreamMtlsHosts(config.upstreams[0], 'gateway.upstreams.0');
 */
export function checkUpstreamMtlsHosts(config: UpstreamConfig, key: string): void {
  if (config.mtls === undefined) return;
  const plain = config.hosts.findIndex((h) => !h.startsWith('https://'));
  if (plain !== -1) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message: `config: ${key}.hosts.${plain}: upstream ${config.name} uses mtls, so its hosts must be https:// origins`,
    });
  }
}

/**
 * The undici `connect` function of an upstream with `mtls`: TLS 1.3 presenting the gateway's current SVID (a renewed
 * one is used for new connections), accepting only a server whose SVID chains to the mesh bundle, is not revoked and
 * names `mtls.spiffeId` (re-checked on resumed sessions); ALPN `h2` for `protocol: h2`. Undefined for a plain upstream.
 *
 * @example
 * const connect = upstreamConnector(config, mesh, clock);
 * const pool = new Pool(origin, { ...(connect ? { connect } : {}) });
 */
export function upstreamConnector(
  config: UpstreamConfig,
  mesh: UpstreamMesh | undefined,
  clock: Clock,
): MtlsConnect | undefined {
  // Checked by buildGatewayState with the upstream's key path already; again here for an Upstream built directly.
  checkUpstreamMtls(config, mesh, `gateway.upstreams (${config.name})`);
  if (config.mtls === undefined || mesh === undefined) return undefined;
  const checker = new PeerChecker({ trustDomain: mesh.trustDomain, clock, denyList: () => mesh.identity.denyList });
  return mtlsConnector({
    identity: mesh.identity,
    checker,
    expected: expectSpiffeId(config.mtls.spiffeId),
    timeoutMs: config.timeout,
    alpn: config.protocol === 'h2' ? ['h2'] : ['http/1.1'],
  });
}
