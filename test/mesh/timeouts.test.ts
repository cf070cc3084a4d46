import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startStandaloneSidecar } from '../../src/app/index.js';
import { configSchema, loadConfig } from '../../src/config/index.js';
import { MemoryLogger, systemClock } from '../../src/core/index.js';
import { createMtlsAgent, createMtlsServer, IdentitySource } from '../../src/mesh/index.js';
import { caService } from './ca_service.js';
import { closeServer, echoApp, id, meshCa, sidecarFor, TD } from './helpers.js';

type Problem = { code: string; status: number; upstream?: string };

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/**
 * A local app that never answers (`hang`), or sends its headers and a first chunk and then stalls (`stall`). It holds
 * the responses until the test ends.
 */
async function stuckApp(
  how: 'hang' | 'stall',
): Promise<{ address: string; seen: () => number; aborted: () => number }> {
  const held: ServerResponse[] = [];
  let aborted = 0;
  const server: Server = createServer((req, res) => {
    held.push(res);
    res.on('close', () => aborted++); // the sidecar in front closed the connection before the answer ended
    req.resume();
    if (how === 'stall') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first chunk\n');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => closeServer(server));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen: () => held.length,
    aborted: () => aborted,
  };
}

/** The backend sidecar in front of `app` and a frontend sidecar whose outbound side calls it as `backend`. */
async function pair(o: { app: string; inboundTimeoutMs: number; upstreamTimeoutMs: number }) {
  const { client } = await meshCa();
  const { sidecar: backend } = await sidecarFor(client, 'backend', o.app, {
    drainMs: 50,
    inbound: { host: '127.0.0.1', port: 0, app: o.app, timeoutMs: o.inboundTimeoutMs },
  });
  cleanups.push(() => backend.stop());
  const upstreams = [
    {
      name: 'backend',
      address: `127.0.0.1:${backend.inboundAddress.port}`,
      spiffeId: id('backend'),
      timeoutMs: o.upstreamTimeoutMs,
    },
  ];
  const frontendApp = await echoApp('frontend');
  cleanups.push(() => closeServer(frontendApp.server));
  const { sidecar: frontend, logger } = await sidecarFor(client, 'frontend', frontendApp.address, {
    drainMs: 50,
    outbound: { host: '127.0.0.1', port: 0, upstreams },
    breaker: { consecutiveFailures: 2, openDurationMs: 60_000 },
  });
  cleanups.push(() => frontend.stop());
  const call = async () => {
    const res = await request(`http://127.0.0.1:${frontend.outboundAddress!.port}/orders/7`, {
      headers: { host: 'backend' },
    });
    return { status: res.statusCode, type: res.headers['content-type'], body: (await res.body.json()) as Problem };
  };
  return { backend, frontend, logger, call };
}

describe('sidecar timeouts (inbound.timeout, outbound.upstreams[].timeout)', () => {
  it('a caller that leaves mid-answer ends the request at every hop at once, not at the timeouts', async () => {
    const app = await stuckApp('stall');
    const { frontend } = await pair({ app: app.address, inboundTimeoutMs: 60_000, upstreamTimeoutMs: 60_000 });
    const res = await request(`http://127.0.0.1:${frontend.outboundAddress!.port}/orders/7`, {
      headers: { host: 'backend' },
    });
    expect(res.statusCode).toBe(200);
    for await (const chunk of res.body) {
      expect(String(chunk)).toContain('first chunk');
      break; // leaves: the body is destroyed, its connection closed
    }
    const until = Date.now() + 10_000;
    while (app.aborted() === 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(app.aborted()).toBe(1); // both sidecars passed the abort on, well before their 60 s timeouts
  });

  it('inbound: an app that never answers gets the caller 504 ERR_MESH_UPSTREAM_TIMEOUT, counted as app_timeout', async () => {
    const app = await stuckApp('hang');
    const { backend, call } = await pair({ app: app.address, inboundTimeoutMs: 200, upstreamTimeoutMs: 60_000 });
    const res = await call();
    expect(res.status).toBe(504);
    expect(res.type).toBe('application/problem+json');
    expect(res.body).toMatchObject({ code: 'ERR_MESH_UPSTREAM_TIMEOUT', status: 504 });
    expect(app.seen()).toBe(1);
    const stats = backend.stats().requests;
    expect(stats).toMatchObject({ appTimedOut: 1, appFailed: 0, forwarded: 0 });
    expect(backend.metricsText()).toContain('gatehouse_sidecar_inbound_requests_total{outcome="app_timeout"} 1\n');
  });

  it('outbound: a peer that sends no headers in time is 504 naming the upstream, and opens its breaker', async () => {
    const app = await stuckApp('hang');
    const { frontend, logger, call } = await pair({
      app: app.address,
      inboundTimeoutMs: 60_000,
      upstreamTimeoutMs: 200,
    });
    for (let i = 0; i < 2; i++) {
      const res = await call();
      expect(res.status).toBe(504);
      expect(res.body).toMatchObject({ code: 'ERR_MESH_UPSTREAM_TIMEOUT', status: 504, upstream: 'backend' });
    }
    // Two timeouts in a row (consecutiveFailures 2): the breaker is open and the peer is spared.
    const shed = await call();
    expect(shed.status).toBe(503);
    expect(shed.body.code).toBe('ERR_CIRCUIT_OPEN');
    expect(app.seen()).toBe(2);
    expect(frontend.stats().outboundRequests).toMatchObject({ timedOut: 2, circuitOpen: 1, failed: 0, forwarded: 0 });
    expect(frontend.stats().breakers).toEqual([{ upstream: 'backend', state: 'open' }]);
    const text = frontend.metricsText();
    expect(text).toContain('gatehouse_sidecar_outbound_requests_total{outcome="upstream_timeout"} 2\n');
    expect(text).toContain('gatehouse_sidecar_outbound_requests_total{outcome="circuit_open"} 1\n');
    expect(logger.lines.filter((l) => l['msg'] === 'upstream sidecar timed out')).toMatchObject([
      { upstream: 'backend', timeoutMs: 200 },
      { upstream: 'backend', timeoutMs: 200 },
    ]);
  });

  it('outbound: a peer that stalls between body chunks has the answer cut, and it counts as a breaker failure', async () => {
    const app = await stuckApp('stall');
    const { frontend, logger } = await pair({ app: app.address, inboundTimeoutMs: 60_000, upstreamTimeoutMs: 200 });
    const url = `http://127.0.0.1:${frontend.outboundAddress!.port}/feed`;
    for (let i = 0; i < 2; i++) {
      const res = await request(url, { headers: { host: 'backend' } });
      expect(res.statusCode).toBe(200); // the headers came in time
      await expect(res.body.text()).rejects.toThrow(); // the body never completes: the connection is closed
    }
    const shed = await request(url, { headers: { host: 'backend' } });
    expect(shed.statusCode).toBe(503);
    expect(((await shed.body.json()) as Problem).code).toBe('ERR_CIRCUIT_OPEN');
    expect(frontend.stats().outboundRequests).toMatchObject({ forwarded: 2, circuitOpen: 1 });
    expect(logger.lines.filter((l) => l['msg'] === 'upstream sidecar stalled mid-answer: answer cut')).toHaveLength(2);
  });

  it('a caller that leaves mid-answer does not count against the breaker', async () => {
    const app = await stuckApp('stall');
    const { frontend } = await pair({ app: app.address, inboundTimeoutMs: 60_000, upstreamTimeoutMs: 60_000 });
    const url = `http://127.0.0.1:${frontend.outboundAddress!.port}/feed`;
    for (let i = 0; i < 3; i++) {
      const controller = new AbortController();
      const res = await request(url, { headers: { host: 'backend' }, signal: controller.signal });
      expect(res.statusCode).toBe(200);
      controller.abort();
      await expect(res.body.text()).rejects.toThrow();
    }
    // Three callers gone, no failure counted: the breaker stays closed and the next call reaches the app.
    const next = await request(url, { headers: { host: 'backend' }, signal: AbortSignal.timeout(5_000) });
    expect(next.statusCode).toBe(200);
    next.body.destroy();
    expect(frontend.stats().breakers).toEqual([{ upstream: 'backend', state: 'closed' }]);
  });

  it('gatehouse sidecar takes inbound.timeout and upstreams[].timeout from its config; SIGHUP changes an upstream timeout', async () => {
    const ca = await caService();
    cleanups.push(() => ca.close());
    const source = async (sa: string) => {
      const identity = new IdentitySource({
        client: ca.client(),
        credential: () => ca.joinToken(id(sa)),
        clock: systemClock,
        logger: new MemoryLogger(),
      });
      await identity.start();
      cleanups.push(async () => identity.stop());
      return identity;
    };
    // A peer in library mode that never answers, and a local app that never answers either.
    const peer = createMtlsServer({
      identity: await source('payments'),
      trustDomain: TD,
      logger: new MemoryLogger(),
      handler: (req) => void req.resume(),
    });
    const { port: peerPort } = await peer.listen('127.0.0.1', 0);
    cleanups.push(() => peer.close(0));
    const app = await stuckApp('hang');
    const section = (upstreamTimeout: string) => ({
      trustDomain: TD,
      sidecar: {
        spiffeId: id('orders'),
        joinToken: '',
        ca: { url: ca.url, bundleFile: ca.bundleFile },
        inbound: { port: 0, app: app.address, timeout: '200ms' },
        outbound: {
          port: 0,
          upstreams: [
            { name: 'payments', address: `127.0.0.1:${peerPort}`, spiffeId: id('payments'), timeout: upstreamTimeout },
          ],
        },
      },
    });
    const first = section('60s');
    first.sidecar.joinToken = await ca.joinToken(id('orders'));
    const running = await startStandaloneSidecar({
      config: loadConfig({ overrides: first }),
      clock: systemClock,
      logger: new MemoryLogger(),
    });
    cleanups.push(() => running.stop());
    const { sidecar } = running;

    // Inbound: a caller with an SVID meets the app's 200 ms.
    const caller = createMtlsAgent({ identity: await source('web'), trustDomain: TD, expect: id('orders') });
    cleanups.push(() => caller.close());
    const inbound = await request(`https://127.0.0.1:${sidecar.inboundAddress.port}/orders`, { dispatcher: caller });
    expect(inbound.statusCode).toBe(504);
    expect(((await inbound.body.json()) as Problem).code).toBe('ERR_MESH_UPSTREAM_TIMEOUT');

    // Outbound: the reload brings the upstream's timeout down to 200 ms (same peer: its pool is kept).
    const reloaded = section('200ms');
    reloaded.sidecar.joinToken = first.sidecar.joinToken;
    await running.reload(loadConfig({ overrides: reloaded }));
    const outbound = await request(`http://127.0.0.1:${sidecar.outboundAddress!.port}/pay`, {
      headers: { host: 'payments' },
    });
    expect(outbound.statusCode).toBe(504);
    expect(await outbound.body.json()).toMatchObject({ code: 'ERR_MESH_UPSTREAM_TIMEOUT', upstream: 'payments' });
    expect(sidecar.stats()).toMatchObject({ requests: { appTimedOut: 1 }, outboundRequests: { timedOut: 1 } });
  });

  it('config: 15 s by default for the app and each upstream; a zero timeout is refused', () => {
    const parsed = configSchema.parse({
      sidecar: {
        ca: { url: 'https://127.0.0.1:8445', bundleFile: '/dev/null' },
        outbound: { upstreams: [{ name: 'payments', address: '10.0.0.1:15001', spiffeId: id('payments') }] },
      },
    });
    expect(parsed.sidecar?.inbound.timeout).toBe(15_000);
    expect(parsed.sidecar?.outbound.upstreams[0]?.timeout).toBe(15_000);
    const zero = configSchema.safeParse({
      sidecar: { ca: { url: 'https://127.0.0.1:8445', bundleFile: '/dev/null' }, inbound: { timeout: '0s' } },
    });
    expect(zero.success).toBe(false);
  });
});
