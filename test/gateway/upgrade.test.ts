// On a route without `websocket: true`, WebSocket and other protocol switches, and CONNECT everywhere, are refused with
// 501 problem+json; before, an Upgrade request reached the upstream as a plain request without its Upgrade and a
// CONNECT lost its connection without a word. Carried WebSocket: test/gateway/websocket.test.ts.
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawGet, startBackend, startGateway, testCertificate, type RunningGateway } from './support.js';

describe('gateway: protocol upgrades and tunnels', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let gw: RunningGateway;
  const seen: string[] = [];

  beforeAll(async () => {
    backend = await startBackend((req, res) => {
      seen.push(req.url ?? '');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true }));
    });
    gw = await startGateway({
      upstreams: [{ name: 'app', hosts: [backend.url] }],
      routes: [{ name: 'app', pathPrefix: '/', upstream: 'app' }],
    });
  });
  afterAll(async () => {
    await gw.close();
    await backend.close();
  });

  it('refuses a WebSocket handshake with 501 ERR_GATEWAY_UPGRADE_UNSUPPORTED, and nothing reaches the upstream', async () => {
    const res = await rawGet(gw, '/chat', {
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    });
    expect(res.status).toBe(501);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body.code).toBe('ERR_GATEWAY_UPGRADE_UNSUPPORTED');
    expect(seen).not.toContain('/chat');
  });

  it('serves a request offering only h2c as plain HTTP/1.1 (HTTP lets a server ignore the offer)', async () => {
    const res = await rawGet(gw, '/plain', {
      connection: 'Upgrade, HTTP2-Settings',
      upgrade: 'h2c',
      'http2-settings': '',
    });
    expect(res.status).toBe(200);
    expect(seen).toContain('/plain');
  });

  it('refuses Upgrade: websocket without Connection: upgrade (no handshake: it reaches the request path) with 501', async () => {
    const res = await rawGet(gw, '/chat-no-connection', { upgrade: 'websocket' });
    expect(res.status).toBe(501);
    expect(res.body.code).toBe('ERR_GATEWAY_UPGRADE_UNSUPPORTED');
    expect(seen).not.toContain('/chat-no-connection');
  });

  it('refuses an h2c offer with a body with 400 (its bytes would follow the upgrade; h2c is never spoken over TLS)', async () => {
    const answer = await rawExchange(
      gw,
      'POST /h2c-body HTTP/1.1\r\nhost: localhost\r\nconnection: Upgrade, HTTP2-Settings\r\nupgrade: h2c\r\n' +
        'http2-settings: \r\ncontent-length: 5\r\n\r\nhello',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('"code":"ERR_HTTP_BAD_REQUEST"');
    expect(seen).not.toContain('/h2c-body');
  });

  it('answers CONNECT with 501 problem+json instead of dropping the connection', async () => {
    const answer = await rawExchange(gw, 'CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 501 /);
    expect(answer).toContain('"code":"ERR_GATEWAY_UPGRADE_UNSUPPORTED"');
  });
});

/** Writes `request` over TLS to the gateway and returns everything it answers until it closes the connection. */
function rawExchange(gw: RunningGateway, request: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port: gw.port,
      ca: testCertificate().certPem,
      servername: 'localhost',
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('secureConnect', () => socket.write(request));
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}
