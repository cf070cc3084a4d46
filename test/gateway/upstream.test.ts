import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { Bulkhead, OutlierDetector } from '../../src/gateway/index.js';
import { call, gatewayConfig, startBackend, startGateway, type RunningGateway } from './support.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function backend(handler?: Parameters<typeof startBackend>[0]) {
  const b = await startBackend(handler);
  closers.push(() => b.close());
  return b;
}
async function gateway(...args: Parameters<typeof startGateway>): Promise<RunningGateway> {
  const gw = await startGateway(...args);
  closers.push(() => gw.close());
  return gw;
}

describe('bulkhead', () => {
  it('admits maxConcurrent, queues maxQueue FIFO, refuses the rest', async () => {
    const b = new Bulkhead(2, 1);
    expect(b.acquire()).toBe(true);
    expect(b.acquire()).toBe(true);
    const queued = b.acquire();
    expect(queued).toBeInstanceOf(Promise);
    expect(b.acquire()).toBe(false);
    b.release();
    await queued;
    expect(b.inFlight).toBe(2);
    expect(b.queued).toBe(0);
  });
});

describe('per-upstream concurrency and queue', () => {
  it('answers 503 with x-gatehouse-overloaded past max concurrent + max queue', async () => {
    const held: ServerResponse[] = [];
    const slow = await backend((req, res) => {
      req.resume();
      held.push(res);
    });
    const gw = await gateway({
      upstreams: [{ name: 'slow', hosts: [slow.url], maxConcurrent: 2, maxQueue: 1 }],
      routes: [{ name: 'r', pathPrefix: '/', upstream: 'slow' }],
    });
    const inflight = [call(gw, '/1'), call(gw, '/2'), call(gw, '/3')];
    while (held.length < 2) await new Promise((r) => setTimeout(r, 5));
    const shed = await call(gw, '/4');
    expect(shed.status).toBe(503);
    expect(shed.headers['x-gatehouse-overloaded']).toBe('true');
    expect(shed.body.code).toBe('ERR_GATEWAY_OVERLOADED');
    for (const res of held) res.end('ok');
    while (held.length < 3) await new Promise((r) => setTimeout(r, 5));
    held[2]!.end('ok');
    expect((await Promise.all(inflight)).map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await gw.gateway.metrics.text()).toContain(
      'gatehouse_gateway_shed_total{upstream="slow",reason="overloaded"} 1',
    );
  });
});

describe('client aborts', () => {
  it('a request abandoned while queued is neither proxied nor counted as an upstream failure', async () => {
    const held: ServerResponse[] = [];
    const slow = await backend((req, res) => {
      req.resume();
      held.push(res);
    });
    const gw = await gateway({
      upstreams: [{ name: 's', hosts: [slow.url], maxConcurrent: 1, maxQueue: 5, breaker: { consecutiveFailures: 1 } }],
      routes: [{ name: 'r', pathPrefix: '/', upstream: 's' }],
    });
    const first = call(gw, '/first');
    while (held.length < 1) await new Promise((r) => setTimeout(r, 5));
    const { request } = await import('undici');
    const controller = new AbortController();
    const abandoned = request(`${gw.url}/abandoned`, { dispatcher: gw.agent, signal: controller.signal }).catch(
      () => 'aborted',
    );
    await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    expect(await abandoned).toBe('aborted');
    await new Promise((r) => setTimeout(r, 50));
    held[0]!.end('ok');
    expect((await first).status).toBe(200);
    const next = call(gw, '/next');
    while (held.length < 2) await new Promise((r) => setTimeout(r, 5));
    held[1]!.end('ok');
    expect((await next).status).toBe(200); // the breaker stayed closed
    expect(slow.hits).toBe(2); // the abandoned request never reached the upstream
  });
});

describe('client leaves while the upstream works', () => {
  it('aborts the upstream request, frees the slot and counts no failure', async () => {
    const held: ServerResponse[] = [];
    let upstreamClosed = 0;
    const slow = await backend((req, res) => {
      req.resume();
      res.on('close', () => {
        if (!res.writableFinished) upstreamClosed += 1;
      });
      held.push(res);
    });
    const gw = await gateway({
      upstreams: [{ name: 's', hosts: [slow.url], maxConcurrent: 1, maxQueue: 0, breaker: { consecutiveFailures: 1 } }],
      routes: [{ name: 'r', pathPrefix: '/', upstream: 's' }],
    });
    const { request } = await import('undici');
    const controller = new AbortController();
    const left = request(`${gw.url}/leaves`, { dispatcher: gw.agent, signal: controller.signal }).catch(
      () => 'aborted',
    );
    while (held.length < 1) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    expect(await left).toBe('aborted');
    while (upstreamClosed < 1) await new Promise((r) => setTimeout(r, 5)); // the gateway dropped the upstream request
    const next = call(gw, '/next'); // the only slot is free again (maxQueue 0 would refuse otherwise)
    while (held.length < 2) await new Promise((r) => setTimeout(r, 5));
    held[1]!.end('ok');
    expect((await next).status).toBe(200); // and the breaker (1 failure opens it) stayed closed
  });
});

describe('circuit breaker', () => {
  it('opens after consecutive failures (503 + Retry-After), then admits a half-open trial that closes it', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    let failing = true;
    const flaky = await backend((req, res) => {
      req.resume();
      res.writeHead(failing ? 500 : 200).end(failing ? 'down' : 'up');
    });
    const gw = await gateway(
      {
        upstreams: [
          {
            name: 'flaky',
            hosts: [flaky.url],
            breaker: { consecutiveFailures: 3, openDuration: '10s', minimumRequests: 100 },
            outlier: { maxEjectionPercent: 0 },
          },
        ],
        routes: [{ name: 'r', pathPrefix: '/', upstream: 'flaky' }],
      },
      { clock },
    );
    for (let i = 0; i < 3; i += 1) expect((await call(gw, '/')).status).toBe(500);
    const hits = flaky.hits;
    const open = await call(gw, '/');
    expect(open.status).toBe(503);
    expect(open.body.code).toBe('ERR_CIRCUIT_OPEN');
    expect(open.headers['retry-after']).toBe('10');
    expect(flaky.hits).toBe(hits);
    expect(await gw.gateway.metrics.text()).toContain('gatehouse_gateway_breaker_state{upstream="flaky"} 2');
    clock.advance(10_000);
    failing = false;
    expect((await call(gw, '/')).status).toBe(200); // the trial
    expect((await call(gw, '/')).status).toBe(200); // closed again
    expect(await gw.gateway.metrics.text()).toContain('gatehouse_gateway_breaker_state{upstream="flaky"} 0');
  });

  it('a failed half-open trial re-opens the circuit', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const down = await backend((req, res) => {
      req.resume();
      res.writeHead(502).end();
    });
    const gw = await gateway(
      {
        upstreams: [{ name: 'd', hosts: [down.url], breaker: { consecutiveFailures: 1, openDuration: '5s' } }],
        routes: [{ name: 'r', pathPrefix: '/', upstream: 'd' }],
      },
      { clock },
    );
    expect((await call(gw, '/')).status).toBe(502);
    expect((await call(gw, '/')).status).toBe(503);
    clock.advance(5000);
    expect((await call(gw, '/')).status).toBe(502); // trial fails
    const again = await call(gw, '/');
    expect(again.status).toBe(503);
    expect(again.headers['retry-after']).toBe('5');
  });

  it('answers 504 when the upstream does not answer within its timeout, and counts it as a failure', async () => {
    const silent = await backend((req) => {
      req.resume(); // never answers
    });
    const gw = await gateway({
      upstreams: [{ name: 'silent', hosts: [silent.url], timeout: '200ms', breaker: { consecutiveFailures: 1 } }],
      routes: [{ name: 'r', pathPrefix: '/', upstream: 'silent' }],
    });
    const res = await call(gw, '/');
    expect(res.status).toBe(504);
    expect(res.body.code).toBe('ERR_GATEWAY_UPSTREAM_TIMEOUT');
    expect((await call(gw, '/')).status).toBe(503); // the timeout opened the breaker
  });

  it('answers 502 problem+json when the upstream is unreachable', async () => {
    const gone = await startBackend();
    await gone.close();
    const gw = await gateway({
      upstreams: [{ name: 'gone', hosts: [gone.url] }],
      routes: [{ name: 'r', pathPrefix: '/', upstream: 'gone' }],
    });
    const res = await call(gw, '/');
    expect(res.status).toBe(502);
    expect(res.body.code).toBe('ERR_GATEWAY_UPSTREAM_FAILED');
  });
});

describe('outlier ejection', () => {
  it('ejects a failing host for baseEjection × ejections, never all hosts', () => {
    const clock = new ManualClock(0);
    const ejected: number[] = [];
    const d = new OutlierDetector(
      3,
      { consecutiveFailures: 2, baseEjection: 1000, maxEjection: 300_000, maxEjectionPercent: 100 },
      clock,
      (h) => ejected.push(h),
    );
    d.report(1, false);
    d.report(1, false);
    expect(ejected).toEqual([1]);
    const picks = new Set(Array.from({ length: 6 }, () => d.pick()));
    expect(picks).toEqual(new Set([0, 2]));
    d.report(0, false);
    d.report(0, false);
    d.report(2, false);
    d.report(2, false);
    expect(ejected).toEqual([1, 0]); // the last host is never ejected
    clock.advance(1000);
    expect(d.isEjected(1)).toBe(false);
    expect(d.isEjected(0)).toBe(false);
  });

  it('caps an ejection at maxEjection and lets the ejection count decay while a host stays healthy', () => {
    const clock = new ManualClock(0);
    const d = new OutlierDetector(
      2,
      { consecutiveFailures: 1, baseEjection: 1000, maxEjection: 3500, maxEjectionPercent: 50 },
      clock,
    );
    /** Ejects host 0 now; returns how long it stays out. */
    const eject = () => {
      const start = clock.now();
      d.report(0, false);
      expect(d.isEjected(0)).toBe(true);
      return d.hosts[0]!.ejectedUntil - start;
    };
    expect(eject()).toBe(1000);
    clock.advance(1000);
    expect(eject()).toBe(2000);
    clock.advance(2000);
    expect(eject()).toBe(3000);
    clock.advance(3000);
    expect(eject()).toBe(3500); // 4 × 1000, capped
    clock.advance(3500);
    expect(eject()).toBe(3500); // still capped: no healthy time in between
    expect(d.hosts[0]!.ejections).toBe(5);
    // Back in the rotation for 2.5 base periods: the count drops by two (5 → 3), then this ejection makes it 4.
    clock.advance(3500 + 2500);
    expect(eject()).toBe(3500);
    expect(d.hosts[0]!.ejections).toBe(4);
    // A week later the host starts again from one base period.
    clock.advance(7 * 86_400_000);
    expect(eject()).toBe(1000);
    expect(d.hosts[0]!.ejections).toBe(1);
  });

  it('over HTTP: traffic moves off a host that keeps failing', async () => {
    const bad = await backend((req, res) => {
      req.resume();
      res.writeHead(503).end();
    });
    const good = await backend();
    const gw = await gateway({
      upstreams: [
        {
          name: 'pair',
          hosts: [bad.url, good.url],
          outlier: { consecutiveFailures: 2, baseEjection: '1m' },
          breaker: { consecutiveFailures: 100, minimumRequests: 1000 },
        },
      ],
      routes: [{ name: 'r', pathPrefix: '/', upstream: 'pair' }],
    });
    const statuses = [];
    for (let i = 0; i < 12; i += 1) statuses.push((await call(gw, '/')).status);
    expect(bad.hits).toBe(2);
    expect(statuses.slice(4)).toEqual(new Array(8).fill(200));
    expect(await gw.gateway.metrics.text()).toContain('gatehouse_gateway_outlier_ejections_total{upstream="pair"} 1');
  });
});

describe('load gauges', () => {
  it('show the requests in flight and queued per upstream, and throttled requests waiting, at each scrape', async () => {
    const held: ServerResponse[] = [];
    const slow = await backend((req, res) => {
      req.resume();
      held.push(res);
    });
    const config = (withSlow: boolean) => ({
      upstreams: [
        { name: 'fast', hosts: [slow.url] },
        ...(withSlow ? [{ name: 'slow', hosts: [slow.url], maxConcurrent: 1, maxQueue: 5 }] : []),
      ],
      routes: [
        { name: 'r', pathPrefix: '/', upstream: withSlow ? 'slow' : 'fast' },
        {
          name: 't',
          pathPrefix: '/throttled/',
          upstream: 'fast',
          limits: [{ name: 'one', key: ['ip' as const], rate: 1, per: '1h', throttle: { maxWait: '1h' } }],
        },
      ],
    });
    const gw = await gateway(config(true));
    const text = () => gw.gateway.metrics.text();
    const until = async (line: string) => {
      while (!(await text()).includes(line)) await new Promise((r) => setTimeout(r, 5));
    };
    const answers = [call(gw, '/a'), call(gw, '/b'), call(gw, '/c')];
    await until('gatehouse_gateway_upstream_queued{upstream="slow"} 2');
    expect(await text()).toContain('gatehouse_gateway_upstream_in_flight{upstream="slow"} 1');
    expect(await text()).toContain('gatehouse_gateway_upstream_in_flight{upstream="fast"} 0');
    for (let i = 0; i < 3; i += 1) {
      while (held.length <= i) await new Promise((r) => setTimeout(r, 5));
      held[i]!.end('ok');
    }
    expect((await Promise.all(answers)).map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await text()).toContain('gatehouse_gateway_upstream_in_flight{upstream="slow"} 0');
    expect(await text()).toContain('gatehouse_gateway_upstream_queued{upstream="slow"} 0');

    expect(await text()).toContain('gatehouse_gateway_throttle_waiting 0');
    const first = call(gw, '/throttled/1');
    while (held.length < 4) await new Promise((r) => setTimeout(r, 5));
    held[3]!.end('ok');
    expect((await first).status).toBe(200);
    const { request } = await import('undici');
    const leaving = new AbortController();
    const waiting = request(`${gw.url}/throttled/2`, { dispatcher: gw.agent, signal: leaving.signal }).catch(
      () => 'aborted',
    );
    await until('gatehouse_gateway_throttle_waiting 1');
    leaving.abort();
    expect(await waiting).toBe('aborted');
    await until('gatehouse_gateway_throttle_waiting 0');

    // An upstream a reload removed leaves the exposition.
    gw.gateway.reload(gatewayConfig(config(false)));
    expect(await text()).not.toContain('upstream_in_flight{upstream="slow"}');
    expect(await text()).toContain('gatehouse_gateway_upstream_in_flight{upstream="fast"} 0');
  });
});
