// What the listener answers to requests that never reach the handler: 408 when the headers arrive too slowly, 431
// when they are over http.maxHeaderSize, 400 for malformed or smuggling forms; the connection is closed each time.
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import { silentLogger, systemClock } from '../../src/core/index.js';
import { Gateway, createGatewayServer, type GatewayServer } from '../../src/gateway/index.js';
import { startBackend, testCertificate } from './support.js';

/** Writes `head` over TLS (and nothing more); resolves with the status line once the gateway closes. */
function statusLine(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => socket.write(head));
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('close', () => resolve(text.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
}

describe('gateway listener: answers to unparseable or too slow requests', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let server: GatewayServer;
  let port: number;

  beforeAll(async () => {
    backend = await startBackend();
    const config = configSchema.parse({
      http: { headersTimeout: '1s', requestTimeout: '2s', connectionsCheckingInterval: '100ms', maxHeaderSize: 2048 },
      gateway: {
        upstreams: [{ name: 'app', hosts: [backend.url] }],
        routes: [{ name: 'app', pathPrefix: '/', upstream: 'app' }],
      },
    });
    const gateway = new Gateway({ config: config.gateway, clock: systemClock, logger: silentLogger });
    const { certPem, keyPem } = testCertificate();
    server = createGatewayServer({
      gateway,
      http: config.http,
      slowClients: config.gateway.slowClients,
      certPem,
      keyPem,
      logger: silentLogger,
    });
    ({ port } = await server.listen('127.0.0.1', 0));
  });
  afterAll(async () => {
    await server?.close();
    await backend?.close();
  });

  it('answers 408 when the headers do not arrive within http.headersTimeout', async () => {
    expect(await statusLine(port, 'GET / HTTP/1.1\r\nhost: localhost\r\n')).toBe('HTTP/1.1 408 Request Timeout');
  });

  it('answers 431 to a header block over http.maxHeaderSize', async () => {
    const head = `GET / HTTP/1.1\r\nhost: localhost\r\nx-big: ${'a'.repeat(4096)}\r\n\r\n`;
    expect(await statusLine(port, head)).toBe('HTTP/1.1 431 Request Header Fields Too Large');
  });

  it('answers 400 to Content-Length with Transfer-Encoding, and the upstream sees nothing', async () => {
    const before = backend.hits;
    const head =
      'POST / HTTP/1.1\r\nhost: localhost\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n';
    expect(await statusLine(port, head)).toBe('HTTP/1.1 400 Bad Request');
    expect(backend.hits).toBe(before);
  });
});
