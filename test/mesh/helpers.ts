import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { MemoryRecordStore } from '../../src/adapters/index.js';
import { InProcessCaClient } from '../../src/app/mesh_ca_client.js';
import { MemoryLogger, silentLogger, systemClock } from '../../src/core/index.js';
import { Authority, Revocations } from '../../src/pki/index.js';
import {
  createMtlsServer,
  IdentitySource,
  Sidecar,
  type AuthorizationPolicy,
  type SidecarOptions,
} from '../../src/mesh/index.js';
import { MapVault } from '../pki/helpers.js';

export const TD = 'mesh.test';
export const DAY = 86_400_000;
export const id = (sa: string, ns = 'demo'): string => `spiffe://${TD}/ns/${ns}/sa/${sa}`;

/** A CA on a memory store with the real clock (TLS checks validity against real time), and its mesh client. */
export async function meshCa(options: { ttlMs?: number; trustDomain?: string } = {}) {
  const clock = systemClock;
  const store = new MemoryRecordStore({ clock });
  const vault = new MapVault();
  const authority = await Authority.open({
    store,
    vault,
    clock,
    trustDomain: options.trustDomain ?? TD,
    rootTtlMs: 3650 * DAY,
    intermediateTtlMs: 365 * DAY,
    logger: new MemoryLogger(),
  });
  const revocations = new Revocations(store, clock, DAY);
  // Test credentials: "join:<spiffe id>" entitles that ID (the real join tokens are tested in test/pki).
  const client = new InProcessCaClient({
    authority,
    revocations,
    clock,
    ...(options.ttlMs ? { ttlMs: options.ttlMs } : {}),
    redeem: async (credential) => credential.replace(/^join:/, ''),
  });
  return { authority, revocations, client, store, vault };
}

/** A started IdentitySource for `spiffeId`. */
export async function identityFor(client: InProcessCaClient, spiffeId: string): Promise<IdentitySource> {
  const identity = new IdentitySource({
    client,
    credential: () => `join:${spiffeId}`,
    clock: systemClock,
    logger: new MemoryLogger(),
  });
  await identity.start();
  return identity;
}

/** A local app that echoes what it received (method, path, headers) as JSON; `status` query param sets the status. */
export async function echoApp(name: string): Promise<{ server: Server; address: string; requests: IncomingMessage[] }> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    const status = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('status') ?? 200);
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ app: name, method: req.method, url: req.url, headers: req.headers, body }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

export const frontendOnly: AuthorizationPolicy[] = [
  { name: 'frontend-only', action: 'ALLOW', rules: [{ from: [{ principals: [id('frontend')] }] }] },
];

/** Starts a sidecar for `sa` in front of `app`. */
export async function sidecarFor(
  client: InProcessCaClient,
  sa: string,
  app: string,
  extra: Partial<SidecarOptions> = {},
): Promise<{ sidecar: Sidecar; logger: MemoryLogger }> {
  const logger = new MemoryLogger();
  const sidecar = await Sidecar.start({
    client,
    credential: () => `join:${id(sa)}`,
    trustDomain: TD,
    clock: systemClock,
    logger,
    mode: 'STRICT',
    policies: [],
    inbound: { host: '127.0.0.1', port: 0, app },
    ...extra,
  });
  return { sidecar, logger };
}

export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Sends raw bytes to a port and returns everything it answers until it closes (or 3 s pass). */
export function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let answer = '';
    const timer = setTimeout(() => socket.destroy(), 3_000);
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}

/**
 * A `backend` identity serving `handler` over mTLS on 127.0.0.1 (createMtlsServer) and a `frontend` identity to call
 * it with, from one CA; `cleanups` gets what stops them.
 */
export async function mtlsPair(
  cleanups: Array<() => Promise<void> | void>,
  handler: Parameters<typeof createMtlsServer>[0]['handler'],
): Promise<{ client: IdentitySource; server: IdentitySource; port: number }> {
  const ca = await meshCa();
  const server = await identityFor(ca.client, id('backend'));
  const client = await identityFor(ca.client, id('frontend'));
  cleanups.push(
    () => server.stop(),
    () => client.stop(),
  );
  const listener = createMtlsServer({ identity: server, trustDomain: TD, logger: silentLogger, handler });
  const { port } = await listener.listen('127.0.0.1', 0);
  cleanups.push(() => listener.close(0));
  return { client, server, port };
}
