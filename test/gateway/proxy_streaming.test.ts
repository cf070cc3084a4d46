import { connect } from 'node:tls';
import { once } from 'node:events';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, startGateway, testCertificate, type RunningGateway } from './support.js';

const MiB = 1024 * 1024;

describe('gateway proxy: streaming the upstream answer (ProxyExchange)', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let gw: RunningGateway;
  const events: string[] = [];

  beforeAll(async () => {
    backend = await startBackend((req, res) => {
      req.resume();
      const path = req.url ?? '/';
      if (path === '/big') {
        // 16 MiB in 64 KiB chunks, each written only when the socket takes it (so the gateway's pace decides).
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        let left = 256;
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': String(256 * chunk.length),
        });
        const pump = () => {
          while (left > 0) {
            left -= 1;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
        res.on('close', () => events.push(`big closed, ${left} chunks unsent`));
        return;
      }
      if (path === '/hints') {
        res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('after hints');
        return;
      }
      if (path === '/cut') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
        res.write('only part of it');
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes' });
      res.end(req.method === 'HEAD' ? undefined : 'plain body');
    });
    gw = await startGateway({
      upstreams: [{ name: 'b', hosts: [backend.url] }],
      routes: [{ name: 'all', pathPrefix: '/', upstream: 'b' }],
    });
  });
  afterAll(async () => {
    await gw.close();
    await backend.close();
  });

  it('streams a large answer whole to a client that reads it slowly', async () => {
    const res = await request(`${gw.url}/big`, { dispatcher: gw.agent });
    expect(res.statusCode).toBe(200);
    let bytes = 0;
    for await (const chunk of res.body) {
      bytes += (chunk as Buffer).length;
      if (bytes < 4 * MiB) await new Promise((r) => setTimeout(r, 2)); // slow reader at first: backpressure
    }
    expect(bytes).toBe(16 * MiB);
  });

  it('aborts the upstream request when the client leaves mid-answer', async () => {
    events.length = 0;
    const socket = connect({
      host: '127.0.0.1',
      port: gw.port,
      ca: testCertificate().certPem,
      servername: 'localhost',
    });
    await once(socket, 'secureConnect');
    socket.write('GET /big HTTP/1.1\r\nhost: localhost\r\n\r\n');
    await once(socket, 'data');
    socket.destroy();
    await expect.poll(() => events.length, { timeout: 5000 }).toBe(1);
    const unsent = Number(/(\d+) chunks unsent/.exec(events[0] as string)?.[1]);
    expect(unsent).toBeGreaterThan(0); // the backend stopped before sending all 256 chunks
    // The gateway still serves the next request.
    const after = await request(`${gw.url}/plain`, { dispatcher: gw.agent });
    expect(await after.body.text()).toBe('plain body');
  });

  it('does not forward 1xx informational answers, only the final one', async () => {
    const res = await request(`${gw.url}/hints`, { dispatcher: gw.agent });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('after hints');
  });

  it('answers HEAD with the upstream headers and no body', async () => {
    const res = await request(`${gw.url}/plain`, { method: 'HEAD', dispatcher: gw.agent });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-upstream']).toBe('yes');
    expect(res.headers['x-request-id']).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(await res.body.text()).toBe('');
  });

  it('cuts the client response when the upstream dies after its headers (no 502 after a 200 was sent)', async () => {
    const res = await request(`${gw.url}/cut`, { dispatcher: gw.agent });
    expect(res.statusCode).toBe(200);
    await expect(res.body.text()).rejects.toThrow();
  });
});
