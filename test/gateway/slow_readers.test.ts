// A client that never reads its response held the upstream's concurrency slot for ever (the proxy pauses the upstream
// while the client's socket is full, and nothing timed the client out): a few such clients made the upstream answer
// 503 overloaded to everyone. gateway.slowClients.sendTimeout closes them, as nginx's send_timeout does.
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, sendBigAnswer, startBackend, startGateway, type RunningGateway } from './support.js';

/** Sends a GET over TLS and never reads the answer. */
function unreadGet(port: number, path: string): TLSSocket {
  const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    socket.pause();
  });
  socket.on('error', () => {});
  return socket;
}

describe('gateway: clients that do not read their response (slow read)', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let gw: RunningGateway;

  beforeAll(async () => {
    backend = await startBackend((req, res) => {
      req.resume();
      if (req.url !== '/big') return void res.end('small');
      sendBigAnswer(res);
    });
    gw = await startGateway({
      upstreams: [{ name: 'app', hosts: [backend.url], maxConcurrent: 1, maxQueue: 0 }],
      routes: [{ name: 'app', pathPrefix: '/', upstream: 'app' }],
      slowClients: { sendTimeout: '1s' },
    });
  });
  afterAll(async () => {
    gw.server.server.closeAllConnections();
    await gw.close();
    await backend.close();
  });

  it('closes the connection after sendTimeout and frees its upstream slot', async () => {
    const reader = unreadGet(gw.port, '/big');
    try {
      // The one slot is held by the unread response: another caller is shed meanwhile.
      let status = (await call(gw, '/small')).status;
      for (let i = 0; i < 100 && status === 200; i += 1) status = (await call(gw, '/small')).status;
      expect(status).toBe(503);
      // Once the reader's connection is closed (sendTimeout, then the next sweep), the slot is free again. Before,
      // it stayed held for as long as the reader kept the connection open: 503 to the end of this loop.
      for (let i = 0; i < 200 && status === 503; i += 1) {
        await sleep(50);
        status = (await call(gw, '/small')).status;
      }
      expect(status).toBe(200);
    } finally {
      reader.destroy();
    }
  });
});
