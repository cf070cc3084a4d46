import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer as createTcpServer, connect, type Server as TcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomId } from '../../src/core/index.js';
import { CLI, exitOf, waitForOutput } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';
import { startBackend, testCertificate } from './support.js';

const REDIS_URL = process.env['REDIS_URL'];
if (!REDIS_URL) throw new Error('REDIS_URL must be set for the two-process gateway test');

/**
 * The shared limit: 100 req/s per client address with a burst of 100, on the global (Redis) tier. The count is exact
 * whatever the rate (test/gateway/accuracy.test.ts shows 1000 req/s on a ManualClock); here time is the real clock of
 * a shared, often loaded machine, where ±2 % of rate × time + burst is about ±2 % of the time (200 ms over 10 s)
 * whatever the rate, so a modest rate keeps the load (and the timing noise) small.
 */
const RATE = 100;
/** A second of burst: a gateway stalled by the loaded machine for less than that loses no tokens. */
const BURST = 100;
/** Offered load: 3× the limit, for 10 s, split evenly over the two gateways. */
const OFFERED = 3 * RATE;
const SECONDS = 10;

/** A TCP relay in front of Redis that the test can cut and restore, so one gateway loses Redis and the other not. */
class Relay {
  private server: TcpServer | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    const server = createTcpServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

interface GatewayProcess {
  child: ChildProcess;
  url: string;
  metricsUrl: string;
  agent: Agent;
  output(): string;
}

describe('two gatehouse gateway processes sharing one Redis', () => {
  const tmp = tempDir('gh-gw2p-');
  const keyPrefix = `gh-test:gw2p:${randomId(6)}:`;
  const redisTarget = new URL(REDIS_URL);
  const relay = new Relay({ host: redisTarget.hostname, port: Number(redisTarget.port || 6379) });
  let backend: Awaited<ReturnType<typeof startBackend>>;
  /** When the backend received each admitted request of the measured route. */
  const admittedAt: number[] = [];
  let a: GatewayProcess;
  let b: GatewayProcess;

  async function startGatewayProcess(name: string, redisUrl: string): Promise<GatewayProcess> {
    const { certPem, keyPem } = testCertificate();
    const cert = join(tmp.dir, 'cert.pem');
    const key = join(tmp.dir, 'key.pem');
    writeFileSync(cert, certPem);
    writeFileSync(key, keyPem, { mode: 0o600 });
    const config = join(tmp.dir, `${name}.json`);
    writeFileSync(
      config,
      JSON.stringify({
        log: { level: 'info' },
        redis: { url: redisUrl, keyPrefix },
        listen: { host: '127.0.0.1', gateway: { port: 0 } },
        gateway: {
          // Generous: on this shared machine a slow Redis answer must not turn into a fail-open admission.
          redisTimeout: '10s',
          redisRetry: '200ms',
          upstreams: [{ name: 'backend', hosts: [backend.url] }],
          routes: [
            {
              name: 'r',
              pathPrefix: '/',
              upstream: 'backend',
              limits: [{ name: 'shared', key: ['ip'], rate: RATE, per: '1s', burst: BURST, tier: 'global' }],
            },
            // Its own counter: warms each process's Redis connection before the measured run.
            {
              name: 'warm',
              pathPrefix: '/warm',
              upstream: 'backend',
              limits: [{ name: 'warm', key: ['ip'], rate: 1000, per: '1s', burst: 1000, tier: 'global' }],
            },
            // One request a minute, shared: every later request is over the limit for a long while.
            ...['once', 'cut'].map((name) => ({
              name,
              pathPrefix: `/${name}`,
              upstream: 'backend',
              limits: [{ name, key: ['ip'], rate: 1, per: '1m', burst: 0, tier: 'global' }],
            })),
          ],
        },
      }),
    );
    const child = spawn(
      process.execPath,
      [CLI, 'gateway', '--config', config, '--cert', cert, '--key', key, '--metrics-port', '0'],
      { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    const keep = (d: Buffer) => {
      out += d.toString();
      if (out.length > 4_000_000) out = out.slice(-2_000_000); // access lines: keep the tail
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const [, url, metricsUrl] = await waitForOutput(
      () => out,
      /listening on (https:\/\/\S+) \(metrics (http:\/\/\S+)\)/,
      `gateway ${name} to listen`,
    );
    const agent = new Agent({
      connect: { ca: certPem, servername: 'localhost' },
      connections: 8,
      keepAliveTimeout: 1000,
    });
    return { child, url: url!, metricsUrl: metricsUrl!, agent, output: () => out };
  }

  async function get(gw: GatewayProcess, path = '/x'): Promise<number> {
    const res = await request(`${gw.url}${path}`, { dispatcher: gw.agent });
    await res.body.dump();
    return res.statusCode;
  }

  async function metric(gw: GatewayProcess, line: RegExp): Promise<number> {
    const text = await (await request(gw.metricsUrl)).body.text();
    const m = line.exec(text);
    return m ? Number(m[1]) : 0;
  }

  beforeAll(async () => {
    backend = await startBackend((req, res) => {
      if (req.url === '/x') admittedAt.push(performance.now());
      req.resume();
      res.end('ok');
    });
    backend.server.keepAliveTimeout = 60_000; // the gateways' pools close idle connections first (no reuse race)
    await relay.open();
    const relayed = new URL(REDIS_URL);
    relayed.hostname = '127.0.0.1';
    relayed.port = String(relay.port);
    a = await startGatewayProcess('a', REDIS_URL);
    b = await startGatewayProcess('b', relayed.toString());
    // Redis connections are opened in the background: wait until each process decides in Redis (no fail-open).
    for (const gw of [a, b]) {
      for (let i = 0; i < 100; i += 1) {
        expect(await get(gw, '/warm')).toBe(200);
        if ((await metric(gw, /gatehouse_gateway_limiter_fail_open_total\{route="warm",limit="warm"\} (\d+)/)) === 0) {
          if ((await metric(gw, /gatehouse_gateway_requests_total\{route="warm",status="200"\} (\d+)/)) > i) break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      // Open the client's keep-alive connections and warm the code paths before anything is measured.
      for (let round = 0; round < 5; round += 1) await Promise.all(Array.from({ length: 16 }, () => get(gw, '/warm')));
    }
  }, 60_000);

  afterAll(async () => {
    for (const gw of [a, b]) {
      if (!gw) continue;
      gw.child.kill('SIGTERM');
      await exitOf(gw.child);
      await gw.agent.close();
    }
    await relay.cut();
    await backend?.close();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    tmp.remove();
  });

  it(`admits rate × time + burst (±2 %) offered ${OFFERED} req/s for ${SECONDS} s over both`, async () => {
    const warmHits = backend.hits;
    const statuses = new Map<number, number>();
    const pending: Array<Promise<void>> = [];
    let sent = 0;
    const started = performance.now();
    // Paced by a timer: each tick sends what is due by now, alternating between the gateways.
    while (sent < OFFERED * SECONDS) {
      const due = Math.min(OFFERED * SECONDS, Math.floor(((performance.now() - started) / 1000) * OFFERED) + 1);
      for (; sent < due; sent += 1) {
        pending.push(
          get(sent % 2 === 0 ? a : b).then((status) => void statuses.set(status, (statuses.get(status) ?? 0) + 1)),
        );
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    const offeredFor = (performance.now() - started) / 1000;
    await Promise.all(pending);
    const ok = statuses.get(200) ?? 0;
    const limited = statuses.get(429) ?? 0;
    expect(ok + limited, JSON.stringify([...statuses])).toBe(OFFERED * SECONDS); // nothing else: no 5xx
    expect(backend.hits - warmHits).toBe(ok); // the backend saw exactly the admitted ones
    for (const gw of [a, b]) {
      expect(await metric(gw, /gatehouse_gateway_limiter_fail_open_total\{route="r",limit="shared"\} (\d+)/)).toBe(0);
    }
    // The GCRA admits burst + 1 at once, then one every 1/rate: over the span in which the gateways decided (from the
    // first to the last admitted request, as the backend saw them), rate × span + burst + 1. The span is measured at
    // the backend because on a loaded machine the gateways may decide later than the test sends.
    const span = ((admittedAt.at(-1) as number) - (admittedAt[0] as number)) / 1000;
    const expected = BURST + 1 + RATE * span;
    console.info(
      `two gateways: offered ${OFFERED * SECONDS} in ${offeredFor.toFixed(2)} s, decided over ${span.toFixed(2)} s, admitted ${ok} (expected ${expected.toFixed(0)}), limited ${limited}`,
    );
    expect(OFFERED * SECONDS).toBeGreaterThanOrEqual(2 * RATE * span); // the premise: well over the limit throughout
    expect(span).toBeGreaterThan(0.9 * SECONDS);
    expect(Math.abs(ok - expected)).toBeLessThanOrEqual(0.02 * expected);
    // Both gateways admitted and refused: the counter was shared, not split.
    const limitedA = await metric(a, /gatehouse_gateway_limited_total\{route="r",limit="shared"\} (\d+)/);
    const limitedB = await metric(b, /gatehouse_gateway_limited_total\{route="r",limit="shared"\} (\d+)/);
    expect(limitedA).toBeGreaterThan(0);
    expect(limitedB).toBeGreaterThan(0);
    expect(limitedA + limitedB).toBe(limited);
  }, 60_000);

  it("shares a counter that is over its limit, and answers it from each process's cache without Redis", async () => {
    expect(await get(a, '/once')).toBe(200); // the one request of this minute
    expect(await get(b, '/once')).toBe(429); // decided in Redis: the other process spent it
    expect(await get(a, '/once')).toBe(429);
    for (const gw of [a, b]) {
      const before = await metric(gw, /gatehouse_gateway_over_limit_cache_hits_total (\d+)/);
      const refused = await Promise.all(Array.from({ length: 20 }, () => get(gw, '/once')));
      expect(refused.every((s) => s === 429)).toBe(true);
      // Every one of them answered from the over-limit cache: the code path returns before any Redis call.
      expect(await metric(gw, /gatehouse_gateway_over_limit_cache_hits_total (\d+)/)).toBe(before + 20);
    }
  }, 30_000);

  it('fails open in the process that lost Redis while the other keeps limiting, and recovers by itself', async () => {
    expect(await get(a, '/cut')).toBe(200); // spends this minute's request
    await relay.cut();
    const cutB = await Promise.all(Array.from({ length: 20 }, () => get(b, '/cut')));
    expect(cutB.every((s) => s === 200)).toBe(true); // failure: open (the default), so everyone is admitted
    await waitForOutput(b.output, /"event":"gateway_redis_down"/, 'gateway_redis_down in b');
    expect(await metric(b, /gatehouse_gateway_limiter_fail_open_total\{route="cut",limit="cut"\} (\d+)/)).toBe(20);
    const stillA = await Promise.all(Array.from({ length: 20 }, () => get(a, '/cut')));
    expect(stillA.every((s) => s === 429)).toBe(true); // the other process still decides in Redis
    expect(await metric(a, /gatehouse_gateway_limiter_fail_open_total\{route="cut",limit="cut"\} (\d+)/)).toBe(0);
    expect(a.output()).not.toContain('"event":"gateway_redis_down"');

    await relay.open(); // the same port: ioredis reconnects in the background
    let status = 200;
    for (let i = 0; i < 200 && status === 200; i += 1) {
      status = await get(b, '/cut');
      if (status === 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(429); // back on the shared counter, which the other process spent
    await waitForOutput(b.output, /"event":"gateway_redis_recovered"/, 'gateway_redis_recovered in b');
  }, 60_000);
});
