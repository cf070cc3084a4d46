import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

/**
 * A WebSocket echo server on plain HTTP (127.0.0.1:0, or the given server) that also answers plain requests, and what
 * it saw: handshakes to a path ending in `/deny` are refused with 403 `no entry`; every 101 carries `x-backend: ws`.
 */
export async function wsBackend(server: Server = createServer()) {
  const handshakes: IncomingMessage[] = [];
  let connections = 0;
  server.on('connection', () => (connections += 1));
  server.on('request', (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ plain: true }));
  });
  const wss = new WebSocketServer({
    server,
    verifyClient: (info, done) => (info.req.url?.endsWith('/deny') ? done(false, 403, 'no entry') : done(true)),
  });
  wss.on('headers', (headers) => headers.push('x-backend: ws'));
  wss.on('connection', (ws, req) => {
    handshakes.push(req);
    ws.on('message', (data, binary) => ws.send(data, { binary }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    handshakes,
    wss,
    get connections() {
      return connections;
    },
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
