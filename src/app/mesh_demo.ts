import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { isGatehouseError, type Clock, type Logger, type RecordStore } from '../core/index.js';
import { Sidecar, XFCC_HEADER, type SidecarOptions } from '../mesh/index.js';
import { JoinTokens, Revocations, type Authority } from '../pki/index.js';
import { InProcessCaClient } from './mesh_ca_client.js';

/** The demo mesh as the admin API shows it. */
export interface DemoMesh {
  /** Inbound address of each sidecar (`mesh` in endpoints.json). */
  endpoints: { frontend: string; backend: string };
  /** Forced renewal of both sidecars' SVIDs (POST /v1/mesh/renew). */
  renew(): Promise<Array<Record<string, unknown>>>;
  status(): Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function callerOf(req: IncomingMessage): string | null {
  const xfcc = req.headers[XFCC_HEADER];
  return typeof xfcc === 'string' ? (/;URI=(.+)$/.exec(xfcc)?.[1] ?? null) : null;
}

async function startSidecar(options: SidecarOptions, logger: Logger): Promise<Sidecar> {
  try {
    return await Sidecar.start(options);
  } catch (err) {
    if ((err as { code?: string }).code !== 'EADDRINUSE' || options.inbound.port === 0) throw err;
    logger.warn({ port: options.inbound.port }, 'demo mesh: port in use, using a free port (see endpoints.json)');
    return Sidecar.start({ ...options, inbound: { ...options.inbound, port: 0 } });
  }
}

/**
 * The demo mesh of `gatehouse up`: two tiny apps on loopback, `frontend` (calls `backend` through its sidecar) and
 * `backend` (answers with the caller's SPIFFE ID), each behind its own sidecar bootstrapped with a real join token
 * from the in-process CA. The backend sidecar is STRICT with a policy that admits only the frontend; the frontend
 * sidecar is PERMISSIVE so that `curl http://127.0.0.1:15001/` shows the whole path.
 *
 * @example
 * const mesh = await startDemoMesh({ authority, records, clock, logger, frontendPort: 15001, backendPort: 15002 });
 */
export async function startDemoMesh(options: {
  authority: Authority;
  records: RecordStore;
  clock: Clock;
  logger: Logger;
  frontendPort: number;
  backendPort: number;
  renewAtFraction: number;
}): Promise<DemoMesh> {
  const { authority, records, clock, logger } = options;
  const td = authority.trustDomain;
  const ids = { frontend: `spiffe://${td}/ns/demo/sa/frontend`, backend: `spiffe://${td}/ns/demo/sa/backend` };
  const joinTokens = new JoinTokens(records, clock);
  const client = new InProcessCaClient({
    authority,
    revocations: new Revocations(records, clock, authority.maxSvidTtlMs),
    clock,
    redeem: (token) => joinTokens.consume(token),
  });
  const credential = (spiffeId: string) => async () => (await joinTokens.create(spiffeId, 600_000)).token;
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.reverse())
      await s().catch((err: unknown) => logger.warn({ err: String(err) }, 'demo mesh stop'));
  };
  try {
    let frontendOutbound = '';
    const backendApp = createServer((req, res) =>
      json(res, 200, { service: 'backend', caller: callerOf(req), path: req.url }),
    );
    const frontendApp = createServer((req, res) => {
      request(`http://${frontendOutbound}${req.url ?? '/'}`, { headers: { host: 'backend' } })
        .then(async (answer) =>
          json(res, answer.statusCode, { service: 'frontend', backend: await answer.body.json() }),
        )
        .catch((err: unknown) =>
          json(res, 502, { service: 'frontend', error: isGatehouseError(err) ? err.code : 'backend unreachable' }),
        );
    });
    for (const app of [backendApp, frontendApp]) {
      stops.push(() => new Promise((resolve) => (app.closeAllConnections(), app.close(() => resolve()))));
    }
    const [backendAddress, frontendAddress] = [await listen(backendApp), await listen(frontendApp)];
    const common = { client, trustDomain: td, clock, renewAtFraction: options.renewAtFraction };
    const backend = await startSidecar(
      {
        ...common,
        credential: credential(ids.backend),
        logger: logger.child({ sidecar: 'backend' }),
        mode: 'STRICT',
        policies: [{ name: 'frontend-only', action: 'ALLOW', rules: [{ from: [{ principals: [ids.frontend] }] }] }],
        inbound: { host: '127.0.0.1', port: options.backendPort, app: backendAddress },
      },
      logger,
    );
    stops.push(() => backend.stop());
    const backendInbound = `127.0.0.1:${backend.inboundAddress.port}`;
    const frontend = await startSidecar(
      {
        ...common,
        credential: credential(ids.frontend),
        logger: logger.child({ sidecar: 'frontend' }),
        mode: 'PERMISSIVE',
        policies: [],
        inbound: { host: '127.0.0.1', port: options.frontendPort, app: frontendAddress },
        outbound: {
          host: '127.0.0.1',
          port: 0,
          upstreams: [{ name: 'backend', address: backendInbound, spiffeId: ids.backend }],
        },
      },
      logger,
    );
    stops.push(() => frontend.stop());
    frontendOutbound = `127.0.0.1:${frontend.outboundAddress!.port}`;
    const sidecars = { frontend, backend };
    const describe = (name: string, sidecar: Sidecar) => {
      const svid = sidecar.identity.current;
      const stats = sidecar.stats();
      return {
        sidecar: name,
        spiffe_id: svid?.spiffeId ?? null,
        serial_number: svid?.serialNumber ?? null,
        not_after: svid ? new Date(svid.notAfter).toISOString() : null,
        inbound: `127.0.0.1:${sidecar.inboundAddress.port}`,
        connections: stats.inbound,
        tunnels: stats.tunnels,
      };
    };
    return {
      endpoints: { frontend: `127.0.0.1:${frontend.inboundAddress.port}`, backend: backendInbound },
      renew: async () => {
        await Promise.all([frontend.renewNow(), backend.renewNow()]);
        return Object.entries(sidecars).map(([name, sidecar]) => describe(name, sidecar));
      },
      status: () => Object.entries(sidecars).map(([name, sidecar]) => describe(name, sidecar)),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
