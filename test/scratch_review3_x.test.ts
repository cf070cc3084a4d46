import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { errors, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RetryPolicy, type Sidecar, type MeshUpstream } from '../src/mesh/index.js';
import { SIDECAR_RETRIES } from '../src/mesh/upstream_pools.js';
import { closeServer, id, meshCa, sidecarFor } from './mesh/helpers.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

describe('review3: sidecar outbound retries', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  let ca: Awaited<ReturnType<typeof meshCa>>;
  let frontend: Sidecar;
  let backend: Sidecar;
  let app: Server;
  let handler: Handler = (_req, res) => res.end('ok');
  const seen: string[] = [];
  let upstreams: MeshUpstream[];

  beforeAll(async () => {
    ca = await meshCa();
    app = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} te=${req.headers['transfer-encoding'] ?? '-'} cl=${req.headers['content-length'] ?? '-'}`);
      handler(req, res);
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const appAddress = `127.0.0.1:${(app.address() as AddressInfo).port}`;
    cleanups.push(() => closeServer(app));
    ({ sidecar: backend } = await sidecarFor(ca.client, 'backend', appAddress));
    cleanups.push(() => backend.stop());
    upstreams = [{ name: 'backend', address: `127.0.0.1:${backend.inboundAddress.port}`, spiffeId: id('backend') }];
    ({ sidecar: frontend } = await sidecarFor(ca.client, 'frontend', appAddress, {
      outbound: { host: '127.0.0.1', port: 0, upstreams },
      breaker: { consecutiveFailures: 1, openDurationMs: 300 },
    }));
    cleanups.push(() => frontend.stop());
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const url = (path: string) => `http://127.0.0.1:${frontend.outboundAddress!.port}${path}`;
  const call = async (path: string, method = 'GET', extra: Record<string, unknown> = {}) => {
    const res = await request(url(path), { method: method as 'GET', headers: { host: 'backend' }, ...extra });
    return { status: res.statusCode, text: await res.body.text() };
  };

  it('bodies on the wire: DELETE without body, POST Content-Length 0, GET chunked, Expect', async () => {
    handler = (req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    };
    seen.length = 0;
    await call('/del', 'DELETE');
    await call('/post0', 'POST', { body: '' });
    await call('/chunked', 'POST', { body: (async function* () { yield 'a'; })() });
    console.log('WIRE', seen);
  });

  it('a reload that retires the pool while a retry waits its backoff turns a retried GET into 502', async () => {
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.99); // backoff 24 ms
    try {
      let first = true;
      handler = (req, res) => {
        req.resume();
        if (first) {
          first = false;
          res.writeHead(503).end('busy');
          // Same peer, address written differently: the pool is retired (pool.close()) by the reload.
          setImmediate(() =>
            void frontend.reload({
              policies: [],
              outbound: {
                host: '127.0.0.1',
                port: 0,
                upstreams: [{ ...upstreams[0]!, address: `localhost:${backend.inboundAddress.port}` }],
              },
              breaker: { consecutiveFailures: 1000, openDurationMs: 300 },
            }),
          );
          return;
        }
        res.end('second');
      };
      seen.length = 0;
      const out = await call('/reload');
      console.log('RELOAD', out, seen, frontend.stats().outboundRequests);
      expect(out.status).toBe(200);
    } finally {
      random.mockRestore();
    }
  });
});

describe('review3: classification', () => {
  it('connect timeout (the mTLS connector 10 s) is a retried connect-failure in the sidecar', () => {
    const p = new RetryPolicy(SIDECAR_RETRIES);
    console.log('CONNECT_TIMEOUT reason', p.reason(new errors.ConnectTimeoutError('x'), 'GET'));
    const refused = Object.assign(new Error('server SVID refused: x'), { code: 'ERR_MESH_PEER_REFUSED' });
    console.log('PEER_REFUSED reason', p.reason(refused, 'GET'));
    console.log('SOCKET reason', p.reason(new errors.SocketError('other side closed'), 'GET'));
    console.log('CLOSED reason', p.reason(new errors.ClientClosedError(), 'GET'));
  });
});

describe('review3: breaker and identity refusal', () => {
  it('half-open trial whose caller leaves before the answer head: permit never settled, breaker stuck', async () => {
    const ca = await meshCa();
    let mode = 'fail';
    const app = createServer((req, res) => {
      req.resume();
      if (mode === 'fail') return void res.writeHead(502).end('bad');
      if (mode === 'slow') return void setTimeout(() => res.end('late'), 300);
      res.end('ok');
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const appAddress = `127.0.0.1:${(app.address() as AddressInfo).port}`;
    const { sidecar: backend } = await sidecarFor(ca.client, 'backend', appAddress);
    const { sidecar: frontend } = await sidecarFor(ca.client, 'frontend', appAddress, {
      outbound: {
        host: '127.0.0.1',
        port: 0,
        upstreams: [{ name: 'backend', address: `127.0.0.1:${backend.inboundAddress.port}`, spiffeId: id('backend') }],
      },
      breaker: { consecutiveFailures: 1, openDurationMs: 200 },
    });
    const u = `http://127.0.0.1:${frontend.outboundAddress!.port}/`;
    try {
      const r1 = await request(u, { headers: { host: 'backend' } });
      await r1.body.dump();
      console.log('first', r1.statusCode, frontend.stats().breakers);
      await sleep(250);
      mode = 'slow';
      const ac = new AbortController();
      const trial = request(u, { headers: { host: 'backend' }, signal: ac.signal }).catch((e: Error) => e.name);
      await sleep(50);
      ac.abort();
      console.log('trial', await trial);
      await sleep(700);
      mode = 'ok';
      const r3 = await request(u, { headers: { host: 'backend' } });
      const t3 = await r3.body.text();
      console.log('after', r3.statusCode, t3.slice(0, 80), frontend.stats().breakers);
      expect(r3.statusCode).toBe(200);
    } finally {
      await frontend.stop();
      await backend.stop();
      await closeServer(app);
    }
  });

  it('a peer refusing our identity: the GET is sent three times', async () => {
    const ca = await meshCa();
    const app = createServer((req, res) => {
      req.resume();
      res.end('ok');
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const appAddress = `127.0.0.1:${(app.address() as AddressInfo).port}`;
    const { sidecar: backend } = await sidecarFor(ca.client, 'backend', appAddress);
    const { sidecar: frontend } = await sidecarFor(ca.client, 'frontend', appAddress, {
      outbound: {
        host: '127.0.0.1',
        port: 0,
        upstreams: [{ name: 'backend', address: `127.0.0.1:${backend.inboundAddress.port}`, spiffeId: id('backend') }],
      },
      breaker: { consecutiveFailures: 1000, openDurationMs: 200 },
    });
    const u = `http://127.0.0.1:${frontend.outboundAddress!.port}/`;
    try {
      await ca.revocations.revoke(id('frontend'));
      await backend.identity.refreshDenyList();
      const before = backend.stats().inbound.refused;
      const r = await request(u, { headers: { host: 'backend' } });
      console.log('refused-identity', r.statusCode, await r.body.text());
      console.log('backend refused connections', backend.stats().inbound.refused - before, frontend.stats().outboundRequests);
    } finally {
      await frontend.stop();
      await backend.stop();
      await closeServer(app);
    }
  });

  it('a peer that accepts TCP and never speaks TLS: attempts and wall time', async () => {
    const ca = await meshCa();
    const sockets = new Set<import('node:net').Socket>();
    let accepted = 0;
    const hole = createNetServer((s) => {
      accepted++;
      sockets.add(s);
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', resolve));
    const { sidecar: frontend } = await sidecarFor(ca.client, 'frontend', '127.0.0.1:1', {
      outbound: {
        host: '127.0.0.1',
        port: 0,
        upstreams: [
          { name: 'hole', address: `127.0.0.1:${(hole.address() as AddressInfo).port}`, spiffeId: id('hole'), timeoutMs: 2000 },
        ],
      },
    });
    try {
      const t0 = Date.now();
      const r = await request(`http://127.0.0.1:${frontend.outboundAddress!.port}/`, {
        headers: { host: 'hole' },
        headersTimeout: 60_000,
      });
      console.log('hole', r.statusCode, await r.body.text(), 'ms', Date.now() - t0, 'accepted', accepted, frontend.stats().outboundRequests);
    } finally {
      for (const s of sockets) s.destroy();
      await frontend.stop();
      await new Promise<void>((resolve) => hole.close(() => resolve()));
    }
  }, 60_000);
});
