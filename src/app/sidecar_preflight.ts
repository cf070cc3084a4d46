// What `gatehouse sidecar` checks before it spends its one-time join token: a mistake found after the bootstrap
// would cost the operator the token (docs/mesh.md, "Run a sidecar").
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Config } from '../config/index.js';
import { GatehouseError, unreadableReason } from '../core/index.js';
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
  if (section.spiffeId !== undefined) {
    try {
      parseWorkloadSpiffeId(section.spiffeId, td);
    } catch (err) {
      throw invalid(
        'sidecar.spiffeId',
        `${(err as Error).message} (trustDomain ${td}), got ${JSON.stringify(section.spiffeId)}`,
      );
    }
  }
  section.outbound.upstreams.forEach((upstream, i) => {
    const key = `sidecar.outbound.upstreams[${i}].spiffeId`;
    let domain: string;
    try {
      domain = parseSpiffeId(upstream.spiffeId).trustDomain;
    } catch {
      throw invalid(key, `expected spiffe://<trust-domain>/<path>, got ${JSON.stringify(upstream.spiffeId)}`);
    }
    if (domain !== td) {
      throw invalid(key, `${upstream.spiffeId} is not in trustDomain ${td} (peers of other trust domains are refused)`);
    }
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
  for (const [name, host, port] of wanted) if (port !== 0) await probe(name, host, port);
}
