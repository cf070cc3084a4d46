import type { Config } from '../config/index.js';
import { GatehouseError, type Clock, type Logger, type RecordStore } from '../core/index.js';
import type { UpstreamMesh } from '../gateway/index.js';
import { IdentitySource } from '../mesh/index.js';
import { JoinTokens, parseSpiffeId, Revocations, type Authority } from '../pki/index.js';
import { InProcessCaClient } from './mesh_ca_client.js';
import { HttpCaClient } from './mesh_http_ca_client.js';
import { bootstrapError, checkGatewayMeshIdentities, readConfiguredFile, readJoinTokenFile } from './mesh_preflight.js';

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
 * What can be checked before the one-time token is spent is checked first, as the sidecar does (app/mesh_preflight.ts):
 * the SPIFFE IDs of `gateway.mesh.spiffeId` and the `mtls` upstreams, their https:// hosts, the bundle and token files;
 * `spiffeId` goes to the CA with the token, and the CA refuses a token bound to another ID without using it up.
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
    if (section.joinTokenFile) return readJoinTokenFile(section.joinTokenFile, 'gateway.mesh.joinTokenFile');
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message: 'config: gateway.mesh.joinToken or joinTokenFile (or GATEHOUSE_GATEWAY__MESH__JOIN_TOKEN) is required',
    });
  };
  checkGatewayMeshIdentities(o.section, o.trustDomain);
  const bundlePem = readConfiguredFile(section.ca.bundleFile, 'gateway.mesh.ca.bundleFile');
  credential();
  const client = new HttpCaClient({ url: section.ca.url, bundlePem });
  const identity = new IdentitySource({
    client,
    credential,
    ...(section.spiffeId === undefined ? {} : { spiffeId: section.spiffeId }),
    clock: o.clock,
    logger: o.logger,
  });
  const close = async () => {
    identity.stop();
    await client.close();
  };
  try {
    const material = await identity.start().catch((err: unknown) => {
      throw bootstrapError(err, 'gateway.mesh.spiffeId', section.spiffeId);
    });
    const mismatch =
      section.spiffeId !== undefined && material.spiffeId !== section.spiffeId
        ? `gateway.mesh.spiffeId: the join token is bound to ${material.spiffeId}, not ${section.spiffeId}`
        : parseSpiffeId(material.spiffeId).trustDomain !== o.trustDomain
          ? `trustDomain: the CA issued ${material.spiffeId}, outside trust domain ${o.trustDomain}`
          : undefined;
    if (mismatch !== undefined) throw new GatehouseError('ERR_CONFIG_INVALID', { message: `config: ${mismatch}` });
  } catch (err) {
    await close();
    throw err;
  }
  return { mesh: { identity, trustDomain: o.trustDomain }, close };
}
