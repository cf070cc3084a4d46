import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { Sidecar } from '../../src/mesh/index.js';
import { exec } from '../pki/helpers.js';
import { tempDir } from '../support/tmp.js';
import { closeServer, echoApp, id, meshCa, raw, sidecarFor } from './helpers.js';

type Echo = { app: string; method: string; url: string; headers: Record<string, string>; body: string };

// HTTP features a client of the outbound port uses that the sidecars passed on wrongly: `Expect: 100-continue`
// (curl's uploads over 1 MB) failed with 502 and counted against the upstream's breaker; a GET body was dropped;
// a WebSocket handshake reached the app as a plain GET (refused since, then carried: test/mesh/websocket.test.ts); CONNECT closed the connection without an answer.
describe('sidecar HTTP semantics through both sidecars (frontend outbound -> backend inbound)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  let backend: Sidecar;
  let frontend: Sidecar;
  let outboundPort: number;
  let requests: Array<{ headers: Record<string, unknown> }>;

  beforeAll(async () => {
    const { client } = await meshCa();
    const app = await echoApp('backend');
    requests = app.requests as unknown as typeof requests;
    cleanups.push(() => closeServer(app.server));
    ({ sidecar: backend } = await sidecarFor(client, 'backend', app.address, {
      mode: 'PERMISSIVE',
      breaker: { consecutiveFailures: 2, openDurationMs: 60_000 },
    }));
    const upstreams = [
      { name: 'backend', address: `127.0.0.1:${backend.inboundAddress.port}`, spiffeId: id('backend') },
    ];
    ({ sidecar: frontend } = await sidecarFor(client, 'frontend', app.address, {
      outbound: { host: '127.0.0.1', port: 0, upstreams },
      breaker: { consecutiveFailures: 2, openDurationMs: 60_000 },
    }));
    cleanups.push(
      () => backend.stop(),
      () => frontend.stop(),
    );
    outboundPort = frontend.outboundAddress!.port;
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('carries uploads that curl sends with Expect: 100-continue; the app never sees Expect; the breaker stays closed', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const file = join(tmp.dir, 'upload.bin');
    const data = randomBytes(1536 * 1024).toString('hex'); // 3 MB of text: curl adds Expect: 100-continue
    writeFileSync(file, data);
    for (let i = 0; i < 3; i++) {
      const answer = join(tmp.dir, `answer-${i}.json`);
      const res = await exec('curl', [
        '-sS',
        '-H',
        'Host: backend',
        '-H',
        'Content-Type: text/plain',
        '--data-binary',
        `@${file}`,
        '-o',
        answer,
        '-w',
        '%{http_code}',
        `http://127.0.0.1:${outboundPort}/upload`,
      ]);
      expect(res.code, res.output.slice(0, 300)).toBe(0);
      expect(res.output).toBe('200');
      const echo = JSON.parse(readFileSync(answer, 'utf8')) as Echo;
      expect(echo.body.length).toBe(data.length);
      expect(echo.body === data).toBe(true);
      expect(echo.headers.expect).toBeUndefined();
    }
    expect(frontend.stats().breakers).toEqual([{ upstream: 'backend', state: 'closed' }]);
  });

  it('forwards the body of a GET that has one, and sends none (no chunked encoding) for a GET without', async () => {
    const res = await request(`http://127.0.0.1:${outboundPort}/search`, {
      method: 'GET',
      headers: { host: 'backend', 'content-type': 'application/json' },
      body: '{"query":{"match_all":{}}}',
    });
    expect(res.statusCode).toBe(200);
    const echo = (await res.body.json()) as Echo;
    expect(echo).toMatchObject({ method: 'GET', url: '/search', body: '{"query":{"match_all":{}}}' });
    const plain = await request(`http://127.0.0.1:${outboundPort}/plain`, { headers: { host: 'backend' } });
    const echoed = (await plain.body.json()) as Echo;
    expect(echoed.body).toBe('');
    expect(echoed.headers['transfer-encoding']).toBeUndefined();
  });

  it('drops a bare Proxy header (httpoxy) like the other hop-by-hop fields', async () => {
    const res = await request(`http://127.0.0.1:${outboundPort}/p`, {
      headers: { host: 'backend', proxy: 'http://evil.example:8080' },
    });
    const echo = (await res.body.json()) as Echo;
    expect(echo.headers.proxy).toBeUndefined();
  });

  it('refuses an upgrade to another protocol than WebSocket with 501 problem+json on both sides, relays an app that does not switch, serves h2c as HTTP/1.1', async () => {
    const seen = requests.length;
    const handshake = (host: string, protocol: string) =>
      `GET /ws HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\nSec-WebSocket-Version: 13\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
    for (const [port, host] of [
      [outboundPort, 'backend'],
      [backend.inboundAddress.port, 'x'], // PERMISSIVE: plaintext reaches the inbound side
    ] as const) {
      const answer = await raw(port, handshake(host, 'IRC/6.9'));
      expect(answer).toMatch(/^HTTP\/1\.1 501 /);
      expect(answer).toContain('application/problem+json');
      expect(answer).toContain('"code":"ERR_MESH_UPGRADE_UNSUPPORTED"');
    }
    expect(requests.length).toBe(seen); // nothing reached the app
    // WebSocket is carried (test/mesh/websocket.test.ts); this app does not switch, so its answer comes back as is.
    const plain = await raw(outboundPort, handshake('backend', 'websocket'));
    expect(plain).toMatch(/^HTTP\/1\.1 200 /);
    expect(plain).toContain('"url":"/ws"');
    const h2c = await raw(
      outboundPort,
      'GET /h2c HTTP/1.1\r\nHost: backend\r\nConnection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\n' +
        'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
    );
    expect(h2c).toMatch(/^HTTP\/1\.1 200 /);
    expect(h2c).toContain('"url":"/h2c"');
  });

  it('answers CONNECT with 501 problem+json instead of dropping the connection, on both sides', async () => {
    for (const port of [outboundPort, backend.inboundAddress.port]) {
      const answer = await raw(port, 'CONNECT backend:443 HTTP/1.1\r\nHost: backend:443\r\n\r\n');
      expect(answer).toMatch(/^HTTP\/1\.1 501 /);
      expect(answer).toContain('"code":"ERR_MESH_UPGRADE_UNSUPPORTED"');
    }
  });
});
