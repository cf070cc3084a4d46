import { readFileSync } from 'node:fs';
import type { Config } from '../config/index.js';
import { GatehouseError, type Clock, type Logger, type RecordStore } from '../core/index.js';
import type { UpstreamMesh } from '../gateway/index.js';
import { IdentitySource } from '../mesh/index.js';
import { JoinTokens, Revocations, type Authority } from '../pki/index.js';
import { InProcessCaClient } from './mesh_ca_client.js';
import { HttpCaClient } from './mesh_http_ca_client.js';

/** The gateway's mesh identity and how to stop it. */
export interface GatewayMesh {
  mesh: UpstreamMesh;
  close(): Promise<void>;
}

/** The SPIFFE ID of the gateway inside `gatehouse up` (path `/ns/gatehouse/sa/gateway` of the trust domain). */
export function upGatewaySpiffeId(trustDomain: string): string {
  return `spiffe://${trustDomain}/ns/gatehouse/sa/gateway`;
}

/**
 * The SVID of the gateway inside `gatehouse up`, for upstreams with `mtls`: issued by the in-process CA against a
 * one-time join token for `spiffe://<trustDomain>/ns/gatehouse/sa/gateway`, renewed like a sidecar's.
 *
 * @example
 * const mesh = await openUpGatewayMesh({ authority: core.authority, records: core.records, clock, logger, renewAtFraction });
 */
export async function openUpGatewayMesh(o: {
  authority: Authority;
  records: RecordStore;
  clock: Clock;
  logger: Logger;
  renewAtFraction: number;
}): Promise<GatewayMesh> {
  const joinTokens = new JoinTokens(o.records, o.clock);
  const client = new InProcessCaClient({
    authority: o.authority,
    revocations: new Revocations(o.records, o.clock, o.authority.maxSvidTtlMs),
    clock: o.clock,
    redeem: (token) => joinTokens.consume(token),
  });
  const spiffeId = upGatewaySpiffeId(o.authority.trustDomain);
  const identity = new IdentitySource({
    client,
    credential: async () => (await joinTokens.create(spiffeId, 600_000)).token,
    clock: o.clock,
    logger: o.logger,
    renewAtFraction: o.renewAtFraction,
  });
  await identity.start();
  return { mesh: { identity, trustDomain: o.authority.trustDomain }, close: async () => identity.stop() };
}

/**
 * The SVID of a standalone gateway (`gateway.mesh` of `section`, at start or at the reload that adds it):
 * bootstrapped with its join token (config, GATEHOUSE_GATEWAY__MESH__JOIN_TOKEN or joinTokenFile) at the CA listener,
 * renewed over mTLS, like a sidecar. Undefined without a `gateway.mesh` section.
 *
 * @example
 * const mesh = await openStandaloneGatewayMesh({ section: config.gateway, trustDomain: config.trustDomain, clock, logger });
 */
export async function openStandaloneGatewayMesh(o: {
  section: Config['gateway'];
  trustDomain: string;
  clock: Clock;
  logger: Logger;
}): Promise<GatewayMesh | undefined> {
  const section = o.section.mesh;
  if (section === undefined) return undefined;
  const credential = () => {
    if (section.joinToken) return section.joinToken;
    if (section.joinTokenFile) return readFileSync(section.joinTokenFile, 'utf8').trim();
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message: 'config: gateway.mesh.joinToken or joinTokenFile (or GATEHOUSE_GATEWAY__MESH__JOIN_TOKEN) is required',
    });
  };
  const client = new HttpCaClient({ url: section.ca.url, bundlePem: readFileSync(section.ca.bundleFile, 'utf8') });
  const identity = new IdentitySource({ client, credential, clock: o.clock, logger: o.logger });
  const close = async () => {
    identity.stop();
    await client.close();
  };
  try {
    const material = await identity.start();
    if (section.spiffeId !== undefined && material.spiffeId !== section.spiffeId) {
      throw new GatehouseError('ERR_CONFIG_INVALID', {
        message: `config: gateway.mesh.spiffeId: the join token is bound to ${material.spiffeId}, not ${section.spiffeId}`,
      });
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { mesh: { identity, trustDomain: o.trustDomain }, close };
}
