import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, exitOf } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';
import { startBackend, testCertificate } from './support.js';

/** Waits until `read()` matches `pattern`. */
async function waitFor(read: () => string, pattern: RegExp): Promise<RegExpExecArray> {
  for (let i = 0; i < 600; i += 1) {
    const m = pattern.exec(read());
    if (m) return m;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${pattern}: ${read()}`);
}

describe('gatehouse gateway (CLI)', () => {
  const tmp = tempDir('gh-gwcli-');
  afterAll(() => tmp.remove());

  it('runs alone with --cert/--key, serves /metrics, reloads routes on SIGHUP and refuses an invalid reload', async () => {
    const a = await startBackend((req, res) => {
      req.resume();
      res.end('from-a');
    });
    const b = await startBackend((req, res) => {
      req.resume();
      res.end('from-b');
    });
    const { certPem, keyPem } = testCertificate();
    const cert = join(tmp.dir, 'cert.pem');
    const key = join(tmp.dir, 'key.pem');
    const config = join(tmp.dir, 'gateway.json');
    writeFileSync(cert, certPem);
    writeFileSync(key, keyPem, { mode: 0o600 });
    const section = (upstream: string) => ({
      log: { level: 'warn' },
      listen: { host: '127.0.0.1', gateway: { port: 0 } },
      gateway: {
        upstreams: [
          { name: 'a', hosts: [a.url] },
          { name: 'b', hosts: [b.url] },
        ],
        routes: [{ name: 'svc', pathPrefix: '/', upstream }],
      },
    });
    writeFileSync(config, JSON.stringify(section('a')));
    const child = spawn(
      process.execPath,
      [CLI, 'gateway', '--config', config, '--cert', cert, '--key', key, '--metrics-port', '0'],
      { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const agent = new Agent({ connect: { ca: certPem, servername: 'localhost' }, connections: 1 });
    try {
      const [, url, metrics] = await waitFor(() => out, /listening on (https:\/\/\S+) \(metrics (http:\/\/\S+)\)/);
      const get = async () => (await request(`${url}/x`, { dispatcher: agent })).body.text();
      expect(await get()).toBe('from-a');
      writeFileSync(config, JSON.stringify(section('b')));
      child.kill('SIGHUP');
      await waitFor(() => out, /configuration reloaded/);
      expect(await get()).toBe('from-b');
      const text = await (await request(metrics!)).body.text();
      expect(text).toContain('gatehouse_gateway_requests_total{route="svc",status="200"} 2');

      writeFileSync(config, '{ "gateway": { "routes": [{ "name": "bad", "pathPrefix": "/", "upstream": "nope" }] } }');
      child.kill('SIGHUP');
      await waitFor(() => out, /gateway_reload_failed/);
      expect(await get()).toBe('from-b'); // still the last good configuration
    } finally {
      child.kill('SIGTERM');
      expect(await exitOf(child)).toBe(0);
      await agent.close();
      await a.close();
      await b.close();
    }
  }, 60_000);
});
