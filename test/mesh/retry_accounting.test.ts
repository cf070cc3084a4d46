// What a retry costs and holds on the sidecar: an answer dropped for another attempt keeps its HTTP/1.1 connection
// when its body is small and declared; a retry's place in the budget, and the request's place in the budget's base,
// end with its answer's head (a long answer after it holds neither); a caller that leaves mid-answer still counts as
// forwarded.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sidecar } from '../../src/mesh/index.js';
import type { MeshUpstream, UpstreamPool } from '../../src/mesh/upstream_pools.js';
import { closeServer, id, meshCa, sidecarFor } from './helpers.js';

describe('retries: connections, budget and counters', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  const hits = new Map<string, number>();
  const held: ServerResponse[] = [];
  const agent = new Agent(); // the app's connections, closed before the sidecars stop
  let release: () => void = () => {};
  let gate = new Promise<void>((r) => (release = r));
  let backend: Sidecar;
  let frontend: Sidecar;
  let upstreams: MeshUpstream[];

  beforeAll(async () => {
    const { client } = await meshCa();
    const app = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://app');
      const n = (hits.get(req.url ?? '') ?? 0) + 1;
      hits.set(req.url ?? '', n);
      req.resume();
      req.on('end', () => {
        if (url.pathname === '/slow-503' && n === 1) {
          setTimeout(() => {
            res.writeHead(503, { 'content-length': 4 });
            res.end('busy');
          }, 300);
          return;
        }
        if (url.pathname === '/stall') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('first chunk\n');
          held.push(res);
          return;
        }
        if (n === 1) {
          // A 503 with a small body: of a declared length, or chunked (`/503-chunked`).
          const chunked = url.pathname === '/503-chunked';
          res.writeHead(503, { 'content-type': 'text/plain', ...(chunked ? {} : { 'content-length': 9 }) });
          res.end('try again');
          return;
        }
        if (url.pathname === '/503-then-stream') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('first\n');
          held.push(res);
          void gate.then(() => res.end('last\n'));
          return;
        }
        res.end(`ok ${n}`);
      });
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const appAddress = `127.0.0.1:${(app.address() as AddressInfo).port}`;
    cleanups.push(() => closeServer(app));
    ({ sidecar: backend } = await sidecarFor(client, 'backend', appAddress, {
      inbound: { host: '127.0.0.1', port: 0, app: appAddress, http2: true },
    }));
    cleanups.push(() => backend.stop());
    const address = `127.0.0.1:${backend.inboundAddress.port}`;
    const retries = { attempts: 2, on: ['connect-failure' as const, 'reset' as const, 503], budget: 0.2 };
    upstreams = [
      { name: 'up-http1', address, spiffeId: id('backend'), retries },
      { name: 'up-h2', address, spiffeId: id('backend'), protocol: 'h2', retries },
    ];
    ({ sidecar: frontend } = await sidecarFor(client, 'frontend', appAddress, {
      outbound: { host: '127.0.0.1', port: 0, upstreams },
    }));
    cleanups.push(() => frontend.stop());
  });
  afterAll(async () => {
    release();
    for (const res of held) res.destroy();
    await agent.destroy();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const out = () => `http://127.0.0.1:${frontend.outboundAddress!.port}`;
  /** The outbound side's entry of an upstream (its requests in flight and retry policy). */
  const entry = (name: string): UpstreamPool =>
    (
      frontend as unknown as { parts: { outbound: { pools: { get(n: string): UpstreamPool } } } }
    ).parts.outbound.pools.get(name);
  const call = async (service: string, path: string) => {
    const res = await request(`${out()}${path}`, { headers: { host: service }, dispatcher: agent });
    return { status: res.statusCode, text: await res.body.text() };
  };
  const requests = () => frontend.stats().outboundRequests!;

  it('an HTTP/1.1 answer of a retried status with a small declared body is read to its end: the connection stays', async () => {
    expect((await call('up-http1', '/warm')).status).toBe(200); // one warm connection
    const connected = frontend.stats().outbound!.connected;
    const retries = requests().retries.status;
    expect(await call('up-http1', '/503-once?a')).toEqual({ status: 200, text: 'ok 2' });
    expect(requests().retries.status - retries).toBe(1);
    expect(frontend.stats().outbound!.connected - connected).toBe(0);
  });

  it('an answer of a retried status without a declared length is cut, and the request still goes again', async () => {
    const retries = requests().retries.status;
    expect(await call('up-http1', '/503-chunked?b')).toEqual({ status: 200, text: 'ok 2' });
    expect(await call('up-h2', '/503-chunked?c')).toEqual({ status: 200, text: 'ok 2' });
    expect(requests().retries.status - retries).toBe(2);
  });

  for (const upstream of ['up-http1', 'up-h2'] as const) {
    it(`${upstream}: retried requests whose answers stream hold no place in the budget; a fourth retry goes`, async () => {
      gate = new Promise<void>((r) => (release = r));
      const overflow = requests().retryOverflow;
      // Three retries under way would fill the budget's floor (3) if a streaming answer kept its place.
      const streams = await Promise.all(
        [1, 2, 3].map((i) =>
          request(`${out()}/503-then-stream?${upstream}-${i}`, { headers: { host: upstream }, dispatcher: agent }),
        ),
      );
      for (const s of streams) expect(s.statusCode).toBe(200);
      expect(entry(upstream).retry.retriesInFlight).toBe(0);
      expect(entry(upstream).inFlight).toBe(0);
      expect(await call(upstream, `/503-once?${upstream}-4`)).toEqual({ status: 200, text: 'ok 2' });
      expect(requests().retryOverflow - overflow).toBe(0);
      release();
      for (const s of streams) expect(await s.body.text()).toBe('first\nlast\n');
    });
  }

  it('a reload with new retry settings while a request waits: its budget place goes back to the policy it came from', async () => {
    const pending = call('up-http1', '/slow-503?reload');
    await sleep(100); // the request is at the peer, its 503 not yet come
    const before = entry('up-http1').retry;
    upstreams = upstreams.map((u) => (u.name === 'up-http1' ? { ...u, retries: { ...u.retries!, budget: 0.3 } } : u));
    await frontend.reload({ policies: [], outbound: { host: '127.0.0.1', port: 0, upstreams } });
    const after = entry('up-http1').retry;
    expect(after).not.toBe(before);
    expect(await pending).toEqual({ status: 200, text: 'ok 2' });
    expect({ before: before.retriesInFlight, after: after.retriesInFlight }).toEqual({ before: 0, after: 0 });
  });

  it('a caller that leaves mid-answer counts as forwarded on both sidecars', async () => {
    for (const upstream of ['up-http1', 'up-h2'] as const) {
      const inbound = backend.stats().requests.forwarded;
      const outbound = requests().forwarded;
      const res = await request(`${out()}/stall?${upstream}`, { headers: { host: upstream }, dispatcher: agent });
      expect(res.statusCode).toBe(200);
      for await (const _chunk of res.body) break; // the first chunk, then leave
      await expect.poll(() => requests().forwarded - outbound).toBe(1);
      await expect.poll(() => backend.stats().requests.forwarded - inbound).toBe(1);
    }
  });
});
