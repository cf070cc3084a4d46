import type { GatewayConfig } from '../gateway/index.js';

/** What a gateway section asks of the process besides its routes, limits and upstreams. */
export interface GatewayNeeds {
  /** Some route has `auth.kind: jwt`: the resource-server verifier (JWKS, revocation feed). */
  jwt: boolean;
  /** Some route has `auth.kind: api_key`: a key source (in process, or introspection at the issuer). */
  apiKeys: boolean;
  /** Some upstream has `mtls`, or the section declares `gateway.mesh`: the gateway's own SVID. */
  mesh: boolean;
}

/**
 * The one answer to "what does this gateway section need", asked at start and at every reload, so a reload that adds
 * the first JWT route or the first `mtls` upstream builds what a start with that section would have built.
 *
 * @example
 * if (gatewayNeeds(config.gateway).mesh) mesh = await openMesh(config.gateway);
 */
export function gatewayNeeds(section: GatewayConfig): GatewayNeeds {
  return {
    jwt: section.routes.some((r) => r.auth.kind === 'jwt'),
    apiKeys: section.routes.some((r) => r.auth.kind === 'api_key'),
    mesh: section.mesh !== undefined || section.upstreams.some((u) => u.mtls !== undefined),
  };
}
