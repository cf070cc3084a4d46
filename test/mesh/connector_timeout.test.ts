import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock, upstreamFailureKind } from '../../src/core/index.js';
import { PeerChecker, expectSpiffeId, mtlsConnector } from '../../src/mesh/index.js';
import { TD, id, identityFor, meshCa } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** A TCP server that accepts and never answers the TLS handshake (a peer sidecar hung or a black-holed port). */
async function silentServer(): Promise<number> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => void sockets.push(socket));
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

describe('mTLS connector', () => {
  it('a handshake that never completes fails as a connect timeout (504 upstream), not as an unreachable peer', async () => {
    const ca = await meshCa();
    const identity = await identityFor(ca.client, id('frontend'));
    cleanups.push(() => identity.stop());
    const port = await silentServer();
    const connect = mtlsConnector({
      identity,
      checker: new PeerChecker({ trustDomain: TD, clock: systemClock, denyList: () => [] }),
      expected: expectSpiffeId(id('backend')),
      timeoutMs: 100,
    });
    const err = await new Promise<Error | null>((resolve) =>
      connect({ hostname: '127.0.0.1', host: '127.0.0.1', protocol: 'https:', port: String(port) }, (...args) =>
        resolve(args[0]),
      ),
    );
    expect((err as Error & { code?: string }).code).toBe('UND_ERR_CONNECT_TIMEOUT');
    expect(upstreamFailureKind(err)).toBe('timeout');
  });
});
