import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { exitOf, runCli, startUp } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';
import { exec } from '../pki/helpers.js';
import { closeServer, echoApp } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** One `gatehouse up` (demo mesh off) on `<tmp>/data` for the whole file: each test bootstraps its own sidecar on it. */
let platform: Promise<Awaited<ReturnType<typeof startUp>>> | undefined;
const platformDir = tempDir();
afterAll(async () => {
  const up = await platform?.catch(() => undefined);
  if (up) {
    up.child.kill('SIGTERM');
    await exitOf(up.child);
  }
  platformDir.remove();
});

/** The file's platform (started on first use) and a new temp directory of the test's own, removed by `cleanups`. */
async function startPlatform() {
  const dir = join(platformDir.dir, 'data');
  platform ??= startUp(dir, { GATEHOUSE_MESH__DEMO__ENABLED: 'false' });
  const up = await platform;
  const tmp = tempDir();
  cleanups.push(tmp.remove);
  const endpoints = up.endpoints as typeof up.endpoints & { ca: string; trustDomain: string };
  return { tmp, dir, endpoints, ordersId: `spiffe://${endpoints.trustDomain}/ns/prod/sa/orders` };
}

describe('gatehouse sidecar --config FILE (built CLI)', () => {
  it('bootstraps with a join token file from gatehouse ca join-token, serves curl with a client SVID, stops on SIGTERM', async () => {
    const { tmp, dir, endpoints, ordersId } = await startPlatform();
    const webId = `spiffe://${endpoints.trustDomain}/ns/prod/sa/web`;
    const made = await runCli(['ca', 'join-token', '--spiffe-id', ordersId, '--data-dir', dir, '--json']);
    expect(made.code, made.stderr).toBe(0);
    writeFileSync(join(tmp.dir, 'orders.join'), (JSON.parse(made.stdout) as { token: string }).token, { mode: 0o600 });
    const issued = await runCli([
      'ca',
      'issue',
      '--spiffe-id',
      webId,
      '--out',
      join(tmp.dir, 'web'),
      '--data-dir',
      dir,
    ]);
    expect(issued.code, issued.stderr).toBe(0);

    const app = await echoApp('orders');
    cleanups.push(() => closeServer(app.server));
    const config = join(tmp.dir, 'sidecar.json');
    writeFileSync(
      config,
      JSON.stringify({
        trustDomain: endpoints.trustDomain,
        log: { level: 'warn' },
        sidecar: {
          spiffeId: ordersId,
          joinTokenFile: join(tmp.dir, 'orders.join'),
          ca: { url: endpoints.ca, bundleFile: endpoints.trustBundle },
          inbound: { port: 0, app: app.address },
          policies: [{ name: 'web-only', action: 'ALLOW', rules: [{ from: [{ principals: [webId] }] }] }],
        },
      }),
    );
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, '../../dist/cli/main.js'), 'sidecar', '--config', config, '--metrics-port', '0'],
      {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    cleanups.push(() => void child.kill('SIGKILL'));
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sidecar did not start: ${output}`)), 30_000);
      const check = () => {
        const match = /inbound \(mTLS\)\s+[\d.]+:(\d+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      };
      child.stdout.on('data', check);
      child.once('exit', (code) => reject(new Error(`sidecar exited ${code}: ${output}`)));
    });
    expect(output).toContain(`gatehouse sidecar is up as ${ordersId}`);

    const web = join(tmp.dir, 'web');
    const res = await exec('curl', [
      '-sS',
      '-k',
      '--tlsv1.3',
      '--cert',
      join(web, 'cert.pem'),
      '--key',
      join(web, 'key.pem'),
      `https://127.0.0.1:${port}/orders`,
    ]);
    expect(res.code, res.output).toBe(0);
    const echo = JSON.parse(res.output) as { url: string; headers: Record<string, string> };
    expect(echo.url).toBe('/orders');
    expect(echo.headers['x-forwarded-client-cert']).toContain(`URI=${webId}`);

    // --metrics-port: the sidecar's counters and its SVID's time to expiry (a 24 h certificate).
    const metricsUrl = /metrics\s+(http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(output)?.[1];
    expect(metricsUrl, output).toBeDefined();
    const text = await (await fetch(metricsUrl!)).text();
    expect(text).toMatch(/^gatehouse_sidecar_inbound_connections_total\{outcome="admitted"\} [1-9]/m);
    expect(text).toContain('gatehouse_sidecar_inbound_requests_total{outcome="forwarded"} 1\n');
    expect(text).toContain('gatehouse_sidecar_inbound_requests_total{outcome="denied"} 0\n');
    const expiry = Number(/^gatehouse_sidecar_svid_expiry_seconds (\d+)$/m.exec(text)?.[1]);
    expect(expiry).toBeGreaterThan(23 * 3600);
    expect(expiry).toBeLessThanOrEqual(24 * 3600 + 60);
    expect(text).toMatch(/^gatehouse_sidecar_bundle_sequence [1-9]\d*$/m);

    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
  }, 90_000);

  // Each of these mistakes used to be found only after the bootstrap had used up the one-time join token (or, for a
  // wrong upstream SPIFFE ID, not at all), and the CA's refusals printed as "Bad request" or "The mesh upstream failed".
  it('refuses start-up mistakes with a clear line before the join token is spent; the token then still works', async () => {
    const { tmp, dir, endpoints, ordersId } = await startPlatform();
    const td = endpoints.trustDomain;
    // As docs/mesh.md does it: `gatehouse ca join-token --spiffe-id ID > FILE`.
    const made = await runCli(['ca', 'join-token', '--spiffe-id', ordersId, '--data-dir', dir]);
    expect(made.code, made.stderr).toBe(0);
    const tokenFile = join(tmp.dir, 'orders.join');
    writeFileSync(tokenFile, made.stdout, { mode: 0o600 });

    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => taken.close(() => resolve())));
    const takenPort = (taken.address() as { port: number }).port;
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const config = join(tmp.dir, 'sidecar.json');
    const upstream = (spiffeId: string) => ({ upstreams: [{ name: 'payments', address: '127.0.0.1:1', spiffeId }] });
    const sidecar = (section: Record<string, unknown>) => {
      writeFileSync(
        config,
        JSON.stringify({
          trustDomain: td,
          log: { level: 'warn' },
          sidecar: {
            spiffeId: ordersId,
            joinTokenFile: tokenFile,
            ca: { url: endpoints.ca, bundleFile: endpoints.trustBundle },
            inbound: { port: 0, app: '127.0.0.1:9' },
            outbound: { port: 0 },
            ...section,
          },
        }),
      );
      return runCli(['sidecar', '--config', config]);
    };
    const refusals: Array<[Record<string, unknown>, string]> = [
      [
        { inbound: { port: takenPort } },
        `sidecar inbound listener cannot bind 127.0.0.1:${takenPort}: address already in use`,
      ],
      [
        { spiffeId: `spiffe://${td}/ns/prod/sa/orderz` },
        `config: sidecar.spiffeId: the join token is not bound to spiffe://${td}/ns/prod/sa/orderz (it was not used up)`,
      ],
      [{ spiffeId: `${td}/ns/prod/sa/orders` }, 'config: sidecar.spiffeId: Invalid SPIFFE ID'],
      [
        { spiffeId: 'spiffe://example.org/ns/prod/sa/orders' },
        'config: sidecar.spiffeId: The SPIFFE ID is not in trust domain',
      ],
      [
        { outbound: upstream(`${td}/ns/prod/sa/payments`) },
        'config: sidecar.outbound.upstreams.0.spiffeId: expected spiffe://<trust-domain>/<path>',
      ],
      [
        { outbound: upstream('spiffe://example.org/ns/prod/sa/payments') },
        `config: sidecar.outbound.upstreams.0.spiffeId: spiffe://example.org/ns/prod/sa/payments is not in trustDomain ${td}`,
      ],
      [
        { ca: { url: endpoints.ca, bundleFile: join(tmp.dir, 'missing.pem') } },
        `config: sidecar.ca.bundleFile: cannot read ${join(tmp.dir, 'missing.pem')}: no such file`,
      ],
      [
        { ca: { url: `https://127.0.0.1:${closedPort}`, bundleFile: endpoints.trustBundle } },
        `the CA at https://127.0.0.1:${closedPort} cannot be reached`,
      ],
    ];
    for (const [section, message] of refusals) {
      const res = await sidecar(section);
      expect(res.code, res.stderr).toBe(1);
      expect(res.stderr).toContain(`gatehouse: ${message}`);
      expect(res.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }

    // The same token file still bootstraps the corrected configuration (which stops at once: SIGTERM after start).
    writeFileSync(
      config,
      JSON.stringify({
        trustDomain: td,
        log: { level: 'warn' },
        sidecar: {
          spiffeId: ordersId,
          joinTokenFile: tokenFile,
          ca: { url: endpoints.ca, bundleFile: endpoints.trustBundle },
          inbound: { port: 0, app: '127.0.0.1:9' },
        },
      }),
    );
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, '../../dist/cli/main.js'), 'sidecar', '--config', config],
      {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    cleanups.push(() => void child.kill('SIGKILL'));
    let output = '';
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        output += d.toString();
        if (output.includes(`gatehouse sidecar is up as ${ordersId}`)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`sidecar exited ${code}: ${output}`)));
    });
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);

    // Used now: the refusal says what to do.
    const again = await sidecar({});
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(
      `gatehouse: the CA refused the join token: unknown, expired, already used or voided by a revocation (tokens are single use); make a new one with gatehouse ca join-token --spiffe-id ${ordersId}`,
    );
  }, 120_000);
});
