import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import { silentLogger, systemClock } from '../../src/core/index.js';
import { Gateway, createGatewayServer, type GatewayServer } from '../../src/gateway/index.js';
import { startBackend, testCertificate } from './support.js';

// eslint-disable-next-line no-control-regex -- slowhttptest colours its report
const ANSI = /\x1b\[[0-9;]*m/g;

type Backend = Awaited<ReturnType<typeof startBackend>>;

/** Runs slowhttptest (loopback only, bounded length and connections); resolves with its exit code and output. */
function slowhttptest(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('slowhttptest', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('slow clients: slowhttptest against the gateway (loopback, ≤ 8 s each)', () => {
  let backend: Backend;
  let server: GatewayServer;
  let url: string;

  beforeAll(async () => {
    backend = await startBackend();
    const config = configSchema.parse({
      http: { headersTimeout: '10s', requestTimeout: '30s', connectionsCheckingInterval: '1s' },
      gateway: {
        upstreams: [{ name: 'app', hosts: [backend.url] }],
        routes: [{ name: 'app', pathPrefix: '/', upstream: 'app', waf: { maxBody: 1_000_000 } }],
        slowClients: { maxConnections: 100, minBodyRate: 1024, bodyGrace: '2s' },
      },
    });
    const gateway = new Gateway({ config: config.gateway, clock: systemClock, logger: silentLogger });
    const { certPem, keyPem } = testCertificate();
    server = createGatewayServer({
      gateway,
      http: config.http,
      certPem,
      keyPem,
      logger: silentLogger,
      slowClients: config.gateway.slowClients,
    });
    const { port } = await server.listen('127.0.0.1', 0);
    url = `https://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    server?.server.closeAllConnections();
    await server?.close();
    await backend?.close();
  });

  /** A normal client on a fresh connection during the attack. */
  async function normalRequest(): Promise<{ status: number; ms: number }> {
    const agent = new Agent({ connect: { ca: testCertificate().certPem, servername: 'localhost' } });
    const started = performance.now();
    try {
      const res = await request(`${url}/normal`, { dispatcher: agent, headersTimeout: 10_000 });
      await res.body.text();
      return { status: res.statusCode, ms: performance.now() - started };
    } finally {
      await agent.close();
    }
  }

  for (const [mode, flag, extra] of [
    ['slowloris (slow headers)', '-H', []],
    ['slow body (R-U-Dead-Yet)', '-B', ['-s', '100000']],
  ] as const) {
    it(`answers a normal request during ${mode}`, async () => {
      // Server-side evidence that the attack really ran (slowhttptest's own report can read "connected: 0" when it
      // started late on a loaded machine): TLS connections accepted while it lasts.
      let accepted = 0;
      const count = () => (accepted += 1);
      server.server.on('secureConnection', count);
      const attack = slowhttptest([
        flag,
        '-c',
        '300',
        '-r',
        '150',
        '-i',
        '2',
        '-l',
        '8',
        '-p',
        '3',
        ...extra,
        '-u',
        `${url}/slow`,
      ]);
      await sleep(3000); // connections opened and the cap reached
      const answers = [];
      for (let i = 0; i < 3; i += 1) answers.push(await normalRequest());
      const result = await attack;
      console.log(
        `${mode}: normal requests answered ${answers.map((a) => `${a.status} in ${a.ms.toFixed(0)} ms`).join(', ')}; ` +
          `slowhttptest exit ${result.code}: ${result.output
            .replace(ANSI, '')
            .split('\n')
            .filter((l) => /service available|closed|connected/i.test(l))
            .slice(-3)
            .join(' | ')}`,
      );
      server.server.off('secureConnection', count);
      for (const a of answers) expect(a.status).toBe(200);
      expect(accepted).toBeGreaterThan(100); // the attack's connections (at most 100 open at once: the cap), plus ours
    }, 30_000);
  }
});
