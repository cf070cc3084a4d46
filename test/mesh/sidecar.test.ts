import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { sha256Base64url } from '../../src/crypto/index.js';
import { createMtlsAgent, type Sidecar } from '../../src/mesh/index.js';
import { closeServer, DAY, echoApp, frontendOnly, id, meshCa, sidecarFor, TD } from './helpers.js';

type Echo = { app: string; url: string; headers: Record<string, string> };

describe('sidecar: two sidecars, frontend calling backend', () => {
  const cleanups: Array<() => Promise<void>> = [];
  let backend: Sidecar;
  let frontend: Sidecar;
  let intruder: Sidecar;
  let outbound: string;

  beforeAll(async () => {
    const { client } = await meshCa();
    const backendApp = await echoApp('backend');
    const frontendApp = await echoApp('frontend');
    cleanups.push(
      () => closeServer(backendApp.server),
      () => closeServer(frontendApp.server),
    );
    ({ sidecar: backend } = await sidecarFor(client, 'backend', backendApp.address, { policies: frontendOnly }));
    const upstreams = [
      { name: 'backend', address: `127.0.0.1:${backend.inboundAddress.port}`, spiffeId: id('backend') },
    ];
    ({ sidecar: frontend } = await sidecarFor(client, 'frontend', frontendApp.address, {
      outbound: { host: '127.0.0.1', port: 0, upstreams },
    }));
    ({ sidecar: intruder } = await sidecarFor(client, 'intruder', frontendApp.address, {
      outbound: { host: '127.0.0.1', port: 0, upstreams },
    }));
    cleanups.push(
      () => backend.stop(),
      () => frontend.stop(),
      () => intruder.stop(),
    );
    outbound = `http://127.0.0.1:${frontend.outboundAddress!.port}`;
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('sends no request on a connection made with the old certificate once the SVID is renewed', async () => {
    const hashNow = () => sha256Base64url(new X509Certificate(frontend.identity.current!.chainPem).raw);
    const callerHash = async () => {
      const res = await request(`${outbound}/renewal`, { headers: { host: 'backend' } });
      const echo = (await res.body.json()) as Echo;
      return /Hash=([^;]+)/.exec(echo.headers['x-forwarded-client-cert'] ?? '')?.[1];
    };
    expect(await callerHash()).toBe(hashNow());
    const connected = frontend.stats().outbound!.connected;
    await frontend.renewNow();
    // The kept-alive connection of the call before is not used again: the peer sees the new certificate at once
    // (a connection busy all the time would otherwise carry the old one until the peer refuses it as expired).
    expect(await callerHash()).toBe(hashNow());
    expect(frontend.stats().outbound!.connected).toBe(connected + 1);
  });

  it('carries a call from the frontend app to the backend app with the verified caller in XFCC', async () => {
    const res = await request(`${outbound}/hello?x=1`, {
      headers: { host: 'backend', 'x-forwarded-client-cert': 'By=evil;URI=spiffe://mesh.test/ns/demo/sa/admin' },
    });
    expect(res.statusCode).toBe(200);
    const echo = (await res.body.json()) as Echo;
    expect(echo.app).toBe('backend');
    expect(echo.url).toBe('/hello?x=1');
    const leaf = new X509Certificate(frontend.identity.current!.chainPem).raw;
    expect(echo.headers['x-forwarded-client-cert']).toBe(
      `By=${id('backend')};Hash=${sha256Base64url(leaf)};URI=${id('frontend')}`,
    );
  });

  it('refuses an identity outside the policy with 403 problem+json', async () => {
    const before = backend.stats().requests;
    const res = await request(`http://127.0.0.1:${intruder.outboundAddress!.port}/hello`, {
      headers: { host: 'backend' },
    });
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toBe('application/problem+json');
    const body = (await res.body.json()) as { code: string; reason: string; status: number };
    expect(body).toMatchObject({ code: 'ERR_MESH_FORBIDDEN', reason: 'no_allow_matched', status: 403 });
    const after = backend.stats().requests;
    expect(after.denied - before.denied).toBe(1);
    expect(after.forwarded).toBe(before.forwarded);
    expect(backend.metricsText()).toContain(
      `gatehouse_sidecar_inbound_requests_total{outcome="denied"} ${after.denied}\n`,
    );
  });

  it('answers 404 problem+json for an unknown service name', async () => {
    const res = await request(`${outbound}/`, { headers: { host: 'nowhere' } });
    expect(res.statusCode).toBe(404);
    expect(((await res.body.json()) as { code: string }).code).toBe('ERR_MESH_UNKNOWN_SERVICE');
  });

  it('keeps connections alive both ways', async () => {
    const before = backend.stats().inbound.admitted;
    for (let i = 0; i < 20; i++) {
      const res = await request(`${outbound}/k${i}`, { headers: { host: 'backend' } });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
    }
    expect(backend.stats().inbound.admitted - before).toBeLessThanOrEqual(1);
  });
});

describe('sidecar local limits', () => {
  it('answers 429 over the per-caller burst and 503 once the upstream breaker opens', async () => {
    const { client } = await meshCa();
    const app = await echoApp('backend');
    const { sidecar: backend } = await sidecarFor(client, 'backend', app.address, {
      callerLimit: { rate: 1, period: 60_000, burst: 2 },
    });
    const upstreams = [
      { name: 'backend', address: `127.0.0.1:${backend.inboundAddress.port}`, spiffeId: id('backend') },
    ];
    const { sidecar: frontend } = await sidecarFor(client, 'frontend', app.address, {
      outbound: { host: '127.0.0.1', port: 0, upstreams },
      breaker: { consecutiveFailures: 3, openDurationMs: 60_000 },
    });
    try {
      const url = `http://127.0.0.1:${frontend.outboundAddress!.port}/`;
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await request(url, { headers: { host: 'backend' } });
        statuses.push(res.statusCode);
        if (res.statusCode === 429) {
          expect(res.headers['retry-after']).toBeDefined();
          expect(((await res.body.json()) as { code: string }).code).toBe('ERR_RATE_LIMITED');
        } else await res.body.dump();
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect(backend.stats().requests).toMatchObject({ forwarded: 3, limited: 1, denied: 0, appFailed: 0 });
      // 429 is not an upstream failure; a 503 from the app is. Three of them open the breaker.
      await backend.stop();
      const failures: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await request(url, { headers: { host: 'backend' } });
        failures.push(res.statusCode);
        const body = (await res.body.json()) as { code: string };
        if (i >= 3) expect(body.code).toBe('ERR_CIRCUIT_OPEN');
      }
      expect(failures).toEqual([502, 502, 502, 503, 503]);
      expect(frontend.stats().breakers).toEqual([{ upstream: 'backend', state: 'open' }]);
      expect(frontend.metricsText()).toContain('gatehouse_sidecar_breaker_state{upstream="backend"} 2\n');
    } finally {
      await frontend.stop();
      await backend.stop().catch(() => {});
      await closeServer(app.server);
    }
  });
});

describe('sidecar request counters', () => {
  it('counts a request the local app does not answer as app_failed, not forwarded', async () => {
    const { client } = await meshCa();
    const app = await echoApp('frontend');
    // The backend's app address refuses connections (the app is down).
    const { sidecar: backend } = await sidecarFor(client, 'backend', '127.0.0.1:1');
    const upstreams = [
      { name: 'backend', address: `127.0.0.1:${backend.inboundAddress.port}`, spiffeId: id('backend') },
    ];
    const { sidecar: frontend } = await sidecarFor(client, 'frontend', app.address, {
      outbound: { host: '127.0.0.1', port: 0, upstreams },
    });
    try {
      const res = await request(`http://127.0.0.1:${frontend.outboundAddress!.port}/x`, {
        headers: { host: 'backend' },
      });
      expect(res.statusCode).toBe(502);
      await res.body.dump();
      expect(backend.stats().requests).toMatchObject({ forwarded: 0, appFailed: 1, denied: 0, limited: 0 });
      expect(backend.metricsText()).toContain('gatehouse_sidecar_inbound_requests_total{outcome="app_failed"} 1\n');
    } finally {
      await frontend.stop();
      await backend.stop();
      await closeServer(app.server);
    }
  });
});

describe('sidecar after its own SVID expired', () => {
  it('stops serving: 503 on open connections, refused new connections with a logged reason, 503 outbound', async () => {
    const { client } = await meshCa();
    const app = await echoApp('backend');
    // Moving a sidecar's clock past its notAfter is "the CA stayed down until expiry" (renewal is 40 s away).
    const backendClock = { offset: 0, now: () => Date.now() + backendClock.offset };
    const frontendClock = { offset: 0, now: () => Date.now() + frontendClock.offset };
    const { sidecar: backend, logger } = await sidecarFor(client, 'backend', app.address, { clock: backendClock });
    // No retries: the backend's own 503 is what this test reads (a retry would meet its refused handshake: a 502).
    const upstreams = [
      {
        name: 'backend',
        address: `127.0.0.1:${backend.inboundAddress.port}`,
        spiffeId: id('backend'),
        retries: { attempts: 0, on: [], budget: 0.2 },
      },
    ];
    const { sidecar: frontend } = await sidecarFor(client, 'frontend', app.address, {
      clock: frontendClock,
      outbound: { host: '127.0.0.1', port: 0, upstreams },
    });
    const agent = createMtlsAgent({ identity: frontend.identity, trustDomain: TD, expect: id('backend') });
    try {
      const url = `http://127.0.0.1:${frontend.outboundAddress!.port}/`;
      const ok = await request(url, { headers: { host: 'backend' } });
      expect(ok.statusCode).toBe(200);
      await ok.body.dump();
      backendClock.offset = 2 * DAY;
      const open = await request(url, { headers: { host: 'backend' } });
      expect(open.statusCode).toBe(503);
      expect(((await open.body.json()) as { code: string }).code).toBe('ERR_MESH_IDENTITY_UNAVAILABLE');
      await expect(
        request(`https://127.0.0.1:${backend.inboundAddress.port}/`, { dispatcher: agent }),
      ).rejects.toThrow();
      expect(logger.lines.some((l) => l.reason === 'own_svid_expired')).toBe(true);
      frontendClock.offset = 2 * DAY;
      const outbound = await request(url, { headers: { host: 'backend' } });
      expect(outbound.statusCode).toBe(503);
      expect(((await outbound.body.json()) as { code: string }).code).toBe('ERR_MESH_IDENTITY_UNAVAILABLE');
    } finally {
      await agent.close();
      await frontend.stop();
      await backend.stop();
      await closeServer(app.server);
    }
  });
});
