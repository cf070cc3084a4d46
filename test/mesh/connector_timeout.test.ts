import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { TLSSocket } from 'node:tls';
import { systemClock, upstreamFailureKind } from '../../src/core/index.js';
import { PeerChecker, expectSpiffeId, mtlsConnector, type ConnectorStats } from '../../src/mesh/index.js';
import { TD, id, identityFor, meshCa, mtlsPair } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** Sockets accepted by the last {@link silentServer}. */
let accepted = 0;

/** A TCP server that accepts and never answers the TLS handshake (a peer sidecar hung or a black-holed port). */
async function silentServer(): Promise<number> {
  const sockets: Socket[] = [];
  accepted = 0;
  const server: Server = createServer((socket) => void (sockets.push(socket), (accepted += 1)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as { port: number }).port;
}

const peerChecker = () => new PeerChecker({ trustDomain: TD, clock: systemClock, denyList: () => [] });

/** A frontend's connector (its handshake bounded by `timeoutMs`) and the port of a server that never answers a byte. */
async function connectorToSilentServer(timeoutMs: number) {
  const ca = await meshCa();
  const identity = await identityFor(ca.client, id('frontend'));
  cleanups.push(() => identity.stop());
  const port = await silentServer();
  const connect = mtlsConnector({
    identity,
    checker: peerChecker(),
    expected: expectSpiffeId(id('backend')),
    timeoutMs,
  });
  return { connect, port };
}

describe('mTLS connector', () => {
  it('a handshake that never completes fails as a connect timeout (504 upstream), not as an unreachable peer', async () => {
    const { connect, port } = await connectorToSilentServer(100);
    const err = await new Promise<Error | null>((resolve) =>
      connect({ hostname: '127.0.0.1', host: '127.0.0.1', protocol: 'https:', port: String(port) }, (...args) =>
        resolve(args[0]),
      ),
    );
    expect((err as Error & { code?: string }).code).toBe('UND_ERR_CONNECT_TIMEOUT');
    expect(upstreamFailureKind(err)).toBe('timeout');
  });

  it('makes one full handshake per address and SVID: connections opened meanwhile wait for its session and resume', async () => {
    const { client, port } = await mtlsPair(cleanups, (_req, res) => res.end('ok'));
    const stats: ConnectorStats = { connected: 0, resumed: 0, refused: 0 };
    const connect = mtlsConnector({
      identity: client,
      checker: peerChecker(),
      expected: expectSpiffeId(id('backend')),
      stats,
    });
    const opts = { hostname: '127.0.0.1', host: '127.0.0.1', protocol: 'https:', port: String(port) };
    const open = () =>
      new Promise<TLSSocket>((resolve, reject) =>
        connect(opts, (...args) => (args[0] ? reject(args[0]) : resolve(args[1] as TLSSocket))),
      );
    const burst = async () => {
      const sockets = await Promise.all([open(), open(), open(), open()]);
      for (const socket of sockets) socket.destroy();
    };
    await burst();
    expect(stats).toEqual({ connected: 4, resumed: 3, refused: 0 });
    await burst(); // a session is cached: all four resume
    expect(stats).toEqual({ connected: 8, resumed: 7, refused: 0 });
    // A renewal: sessions of the old SVID are never resumed, and again only one connection makes a full handshake.
    await client.renewNow();
    await burst();
    expect(stats).toEqual({ connected: 12, resumed: 10, refused: 0 });
  });

  it('lets connections waiting for a full handshake that hangs go ahead on their own, once, not one after another', async () => {
    const { connect, port } = await connectorToSilentServer(3_000);
    const opts = { hostname: '127.0.0.1', host: '127.0.0.1', protocol: 'https:', port: String(port) };
    const attempt = () => new Promise<Error | null>((resolve) => connect(opts, (...args) => resolve(args[0])));
    const first = attempt();
    const others = [attempt(), attempt()];
    // When the first handshake gives up, the two others already made their own connections (after their one wait),
    // instead of each waiting for the one before to time out.
    expect(((await first) as Error & { code?: string }).code).toBe('UND_ERR_CONNECT_TIMEOUT');
    expect(accepted).toBe(3);
    for (const err of await Promise.all(others))
      expect((err as Error & { code?: string }).code).toBe('UND_ERR_CONNECT_TIMEOUT');
  });
});
