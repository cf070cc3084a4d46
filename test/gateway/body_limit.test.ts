// http.bodyLimit holds for chunked bodies too (a body without Content-Length was forwarded whole on routes whose WAF
// does not read it: mode off or log), and an oversized body is the client's fault, never the upstream's.
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, startGateway, type RunningGateway } from './support.js';

const LIMIT = 4096;

/** A chunked request body of `size` bytes (undici sends a stream without Content-Length as chunked). */
function chunked(size: number): Readable {
  const chunk = Buffer.alloc(1024, 'a');
  return Readable.from(
    (function* () {
      for (let sent = 0; sent < size; sent += chunk.length)
        yield chunk.subarray(0, Math.min(chunk.length, size - sent));
    })(),
  );
}

describe('gateway: http.bodyLimit on chunked request bodies', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let gw: RunningGateway;
  /** Bodies the backend read to the end, by length. */
  const complete: number[] = [];

  beforeAll(async () => {
    backend = await startBackend((req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => (n += d.length));
      req.on('end', () => {
        complete.push(n);
        res.end(String(n));
      });
      req.on('error', () => {});
    });
    gw = await startGateway(
      {
        upstreams: [{ name: 'app', hosts: [backend.url], breaker: { consecutiveFailures: 2 } }],
        routes: [
          { name: 'off', pathPrefix: '/off', upstream: 'app', waf: { mode: 'off' } },
          { name: 'log', pathPrefix: '/log', upstream: 'app', waf: { mode: 'log' } },
          { name: 'block', pathPrefix: '/block', upstream: 'app', waf: { maxBody: 1 << 20 } },
        ],
      },
      { bodyLimit: LIMIT },
    );
  });
  afterAll(async () => {
    await gw.close();
    await backend.close();
  });

  const post = async (path: string, size: number) => {
    const res = await request(`${gw.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: chunked(size),
      dispatcher: gw.agent,
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text };
  };

  it('answers 413 problem+json to a chunked body over the limit whatever the WAF mode, and the upstream never gets it whole', async () => {
    for (const path of ['/off/x', '/log/x', '/block/x']) {
      const r = await post(path, 4 * LIMIT);
      expect(r.status, path).toBe(413);
      expect(r.headers['content-type']).toBe('application/problem+json');
      expect(JSON.parse(r.text)).toMatchObject({ code: 'ERR_HTTP_PAYLOAD_TOO_LARGE', status: 413 });
    }
    expect(complete.filter((n) => n > LIMIT)).toEqual([]);
  });

  it('forwards a chunked body within the limit, and oversized bodies do not open the breaker', async () => {
    for (let i = 0; i < 3; i += 1) expect((await post('/off/x', 2 * LIMIT)).status).toBe(413);
    const r = await post('/off/x', LIMIT);
    expect(r).toMatchObject({ status: 200, text: String(LIMIT) });
    expect((await post('/log/x', 100)).text).toBe('100');
  });
});
