// What a mesh workload started alone (`gatehouse sidecar`, `gatehouse gateway` with `gateway.mesh`) checks before it
// spends its one-time join token: a mistake found after the bootstrap would cost the operator the token (docs/mesh.md,
// "Run a sidecar"; docs/gateway.md, "Upstreams over mTLS").
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Config } from '../config/index.js';
import { GatehouseError, isGatehouseError, unreadableReason } from '../core/index.js';
import { checkUpstreamMtlsHosts } from '../gateway/index.js';
import { parseSpiffeId, parseWorkloadSpiffeId } from '../pki/index.js';

type SidecarSection = NonNullable<Config['sidecar']>;

const invalid = (key: string, why: string) =>
  new GatehouseError('ERR_CONFIG_INVALID', { message: `config: ${key}: ${why}` });

/**
 * Reads a file a configuration key names; ERR_CONFIG_INVALID naming the key and the file (never its content).
 *
 * @example
 * const pem = readConfiguredFile(section.ca.bundleFile, 'sidecar.ca.bundleFile');
 */
export function readConfiguredFile(file: string, key: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw invalid(key, `cannot read ${file}: ${unreadableReason(err)}`);
  }
}

/**
 * The join token of a `joinTokenFile`: its first line (`gatehouse ca join-token ... > FILE` writes just that line).
 *
 * @example
 * const token = readJoinTokenFile(section.joinTokenFile, 'sidecar.joinTokenFile');
 */
export function readJoinTokenFile(file: string, key: string): string {
  return (readConfiguredFile(file, key).trim().split('\n')[0] ?? '').trim();
}

/** `spiffeId` is a workload ID of `td` (`spiffe://<td>/ns/<ns>/sa/<name>`, what join tokens are made for). */
function checkWorkloadId(spiffeId: string, td: string, key: string): void {
  try {
    parseWorkloadSpiffeId(spiffeId, td);
  } catch (err) {
    throw invalid(key, `${(err as Error).message} (trustDomain ${td}), got ${JSON.stringify(spiffeId)}`);
  }
}

/** `spiffeId` is a SPIFFE ID of `td` (the peer check refuses any other, so such a peer could never be reached). */
function checkPeerId(spiffeId: string, td: string, key: string): void {
  let domain: string;
  try {
    domain = parseSpiffeId(spiffeId).trustDomain;
  } catch {
    throw invalid(key, `expected spiffe://<trust-domain>/<path>, got ${JSON.stringify(spiffeId)}`);
  }
  if (domain !== td) {
    throw invalid(key, `${spiffeId} is not in trustDomain ${td} (peers of other trust domains are refused)`);
  }
}

/**
 * The SPIFFE IDs of the section are well formed and in `trustDomain`: `sidecar.spiffeId` a workload ID
 * (`spiffe://<td>/ns/<ns>/sa/<name>`, what join tokens are made for), every upstream's `spiffeId` a SPIFFE ID of the
 * trust domain (the peer check refuses any other, so such an upstream could never be reached).
 *
 * @example
 * checkSidecarIdentities(config);
 */
export function checkSidecarIdentities(config: Config): void {
  const section = config.sidecar as SidecarSection;
  const td = config.trustDomain;
  if (section.spiffeId !== undefined) checkWorkloadId(section.spiffeId, td, 'sidecar.spiffeId');
  section.outbound.upstreams.forEach((upstream, i) => {
    checkPeerId(upstream.spiffeId, td, `sidecar.outbound.upstreams.${i}.spiffeId`);
  });
}

/**
 * The same for a gateway section with `mesh`: `gateway.mesh.spiffeId` a workload ID of `trustDomain`, every `mtls`
 * upstream's `spiffeId` a SPIFFE ID of it, with https:// hosts (checkUpstreamMtlsHosts).
 *
 * @example
 * checkGatewayMeshIdentities(config.gateway, config.trustDomain);
 */
export function checkGatewayMeshIdentities(section: Config['gateway'], trustDomain: string): void {
  const id = section.mesh?.spiffeId;
  if (id !== undefined) checkWorkloadId(id, trustDomain, 'gateway.mesh.spiffeId');
  section.upstreams.forEach((upstream, i) => {
    if (upstream.mtls === undefined) return;
    checkPeerId(upstream.mtls.spiffeId, trustDomain, `gateway.upstreams.${i}.mtls.spiffeId`);
    checkUpstreamMtlsHosts(upstream, `gateway.upstreams.${i}`);
  });
}

/** Binds and releases `host:port` at once; ERR_PORT_IN_USE naming the listener when it cannot be bound. */
function probe(name: string, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'address already in use' : (err.code ?? err.message);
      reject(
        new GatehouseError('ERR_PORT_IN_USE', { message: `${name} listener cannot bind ${host}:${port}: ${why}` }),
      );
    });
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

/**
 * Checks that fixed ports (`[name, host, port]`) can be bound now, in order; port 0 needs no check.
 *
 * @example
 * await probePorts([['gateway', config.listen.host, config.listen.gateway.port]]);
 */
export async function probePorts(wanted: ReadonlyArray<readonly [string, string, number]>): Promise<void> {
  for (const [name, host, port] of wanted) if (port !== 0) await probe(name, host, port);
}

/**
 * Checks that the fixed ports the sidecar will listen on (inbound; outbound when there are upstreams; the metrics
 * port) can be bound now, before the join token is spent. Port 0 needs no check.
 *
 * @example
 * await probeSidecarPorts(config.sidecar, metricsPort);
 */
export async function probeSidecarPorts(section: SidecarSection, metricsPort?: number): Promise<void> {
  const wanted: Array<[string, string, number]> = [['sidecar inbound', section.inbound.host, section.inbound.port]];
  if (section.outbound.upstreams.length > 0) {
    wanted.push(['sidecar outbound', section.outbound.host, section.outbound.port]);
  }
  if (metricsPort !== undefined) wanted.push(['sidecar metrics', '127.0.0.1', metricsPort]);
  await probePorts(wanted);
}

/**
 * A bootstrap failure in words an operator can act on: the join token's refusals name the command to run, and a token
 * bound to another ID than `spiffeId` (the CA refused it without using it up) is a mistake of `key`.
 *
 * @example
 * throw bootstrapError(err, 'sidecar.spiffeId', section.spiffeId);
 */
export function bootstrapError(err: unknown, key: string, spiffeId: string | undefined): unknown {
  const make = `gatehouse ca join-token --spiffe-id ${spiffeId ?? 'ID'}`;
  if (isGatehouseError(err, 'ERR_PKI_JOIN_TOKEN_INVALID')) {
    return new GatehouseError('ERR_PKI_JOIN_TOKEN_INVALID', {
      message: `the CA refused the join token: unknown, expired, already used or voided by a revocation (tokens are single use); make a new one with ${make}`,
    });
  }
  if (isGatehouseError(err, 'ERR_PKI_FORBIDDEN') && spiffeId !== undefined) {
    return new GatehouseError('ERR_CONFIG_INVALID', {
      message: `config: ${key}: the join token is not bound to ${spiffeId} (it was not used up); fix spiffeId or make a token with ${make}`,
    });
  }
  return err;
}
