// Routing on the normalized request target: a protected prefix cannot be reached through another route by escaping
// its letters, doubling slashes or walking back with dot segments, and the upstream receives what was routed.
import { connect } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startBackend, startGateway, type RunningGateway } from './support.js';

type Backend = Awaited<ReturnType<typeof startBackend>>;

/** One raw HTTP/1.1 request over TLS (undici would normalize some targets itself); resolves with the status. */
function rawStatus(gw: RunningGateway, target: string, hosts = ['localhost']): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: gw.port, rejectUnauthorized: false }, () => {
      const host = hosts.map((h) => `host: ${h}\r\n`).join('');
      socket.write(`GET ${target} HTTP/1.1\r\n${host}connection: close\r\n\r\n`);
    });
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
    socket.on('error', reject);
  });
}

describe('gateway routing on the normalized request target', () => {
  let backend: Backend;
  let gw: RunningGateway;
  const seen: string[] = [];

  beforeAll(async () => {
    backend = await startBackend((req: IncomingMessage, res: ServerResponse) => {
      seen.push(req.url ?? '');
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(req.url);
    });
    gw = await startGateway({
      upstreams: [{ name: 'app', hosts: [backend.url] }],
      routes: [
        // WAF off on both routes: routing alone must keep the protected prefix protected (the WAF would refuse the
        // dot-segment forms with 403 path_traversal before authentication anyway).
        {
          name: 'admin',
          pathPrefix: '/admin/',
          upstream: 'app',
          auth: { kind: 'jwt', scopes: ['admin'] },
          waf: { mode: 'off' },
        },
        { name: 'public', pathPrefix: '/', upstream: 'app', waf: { mode: 'off' } },
      ],
    });
  });
  afterAll(async () => {
    await gw?.close();
    await backend?.close();
  });

  it('routes escaped, doubled and dotted forms of a protected path to the protected route', async () => {
    for (const target of ['/%61dmin/x', '//admin/x', '/./admin/x', '/public/../admin/x', '/%2e%2e/admin/x']) {
      expect(await rawStatus(gw, target), target).toBe(401);
    }
    expect(seen).toEqual([]);
  });

  it('forwards the normalized target upstream', async () => {
    const r = await call(gw, '/a//b/./c/%7Ed?q=%7e');
    expect(r.status).toBe(200);
    expect(r.body).toBe('/a/b/c/~d?q=%7e');
  });

  it('answers 400 to a target that is not origin-form or has a malformed escape', async () => {
    expect(await rawStatus(gw, '/a%zz')).toBe(400);
    // Upstreams that read `\\` as `/` or drop a fragment would see /admin... where routing saw another route.
    for (const target of ['/admin#', '/admin#/x', '/admin\\users', '/public\\..\\admin/x']) {
      expect(await rawStatus(gw, target), target).toBe(400);
    }
    expect(await rawStatus(gw, 'http://evil.example/admin/x')).toBe(400);
  });

  it('answers 400 to a request with two Host fields (RFC 9112 §3.2), whichever comes first', async () => {
    const before = seen.length;
    expect(await rawStatus(gw, '/x', ['localhost', 'other.example'])).toBe(400);
    expect(await rawStatus(gw, '/x', ['other.example', 'LOCALHOST'])).toBe(400);
    expect(await rawStatus(gw, '/x', ['localhost'])).toBe(200);
    expect(seen.length).toBe(before + 1);
  });
});
