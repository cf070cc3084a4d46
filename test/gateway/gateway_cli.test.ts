import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, exitOf, logLines, runCli, startUp, waitForOutput } from '../support/cli.js';
import { servedFingerprint } from '../support/test_tls.js';
import { tempDir } from '../support/tmp.js';
import { startBackend, testCertificate } from './support.js';

describe('gatehouse gateway (CLI)', () => {
  const tmp = tempDir('gh-gwcli-');
  afterAll(() => tmp.remove());

  /**
   * Two backends answering `from-a` / `from-b` (`a` cacheable for a minute), a certificate and key on disk, and
   * `write(upstream, level, mesh, cache)` for a config file routing `/` to one of them (with `gateway.mesh` when given,
   * the response cache on when `cache`).
   */
  async function twoBackends(name: string) {
    const a = await startBackend((req, res) => {
      req.resume();
      res.setHeader('cache-control', 'max-age=60');
      res.end('from-a');
    });
    const b = await startBackend((req, res) => {
      req.resume();
      res.end('from-b');
    });
    const { certPem, keyPem } = testCertificate();
    const cert = join(tmp.dir, `${name}-cert.pem`);
    const key = join(tmp.dir, `${name}-key.pem`);
    const config = join(tmp.dir, `${name}.json`);
    writeFileSync(cert, certPem);
    writeFileSync(key, keyPem, { mode: 0o600 });
    const section = (upstream: string, level: string, mesh?: Record<string, unknown>, cache = false) => ({
      log: { level },
      listen: { host: '127.0.0.1', gateway: { port: 0 } },
      gateway: {
        upstreams: [
          { name: 'a', hosts: [a.url] },
          { name: 'b', hosts: [b.url] },
        ],
        routes: [{ name: 'svc', pathPrefix: '/', upstream, cache: { enabled: cache } }],
        ...(mesh === undefined ? {} : { mesh }),
      },
    });
    const write = (upstream: string, level = 'warn', mesh?: Record<string, unknown>, cache = false) =>
      writeFileSync(config, JSON.stringify(section(upstream, level, mesh, cache)));
    /**
     * Spawns `gatehouse gateway` on this config and pair (`extraArgs` after them) and waits for its "listening on"
     * line; `get()` reads `/x` through an agent trusting the pair, `cacheOutcome()` reads it and answers its `x-cache`,
     * `hangUp(pattern)` sends SIGHUP (`signal` another signal) and waits for `pattern` in the output, `stop()` expects
     * exit 0 and closes the agent and both backends.
     */
    const start = async (extraArgs: string[] = []) => {
      const child = spawn(
        process.execPath,
        [CLI, 'gateway', '--config', config, '--cert', cert, '--key', key, ...extraArgs],
        {
          env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const agent = new Agent({ connect: { ca: certPem, servername: 'localhost' }, connections: 1 });
      const stop = async () => {
        child.kill('SIGTERM');
        expect(await exitOf(child)).toBe(0);
        await agent.close();
        await a.close();
        await b.close();
      };
      const output = () => out;
      let listening: RegExpExecArray;
      try {
        listening = await waitForOutput(output, /listening on (https:\/\/\S+)(?: \(metrics (http:\/\/\S+)\))?/);
      } catch (error) {
        child.kill('SIGKILL');
        await agent.close();
        throw error;
      }
      const url = listening[1] as string;
      const get = async () => (await request(`${url}/x`, { dispatcher: agent })).body.text();
      const cacheOutcome = async () => {
        const answer = await request(`${url}/x`, { dispatcher: agent });
        await answer.body.dump();
        return answer.headers['x-cache'];
      };
      const signal = async (name: NodeJS.Signals, pattern: RegExp, what?: string) => {
        child.kill(name);
        await waitForOutput(output, pattern, what);
      };
      const hangUp = (pattern: RegExp, what?: string) => signal('SIGHUP', pattern, what);
      return { url, metrics: listening[2], output, get, cacheOutcome, signal, hangUp, stop };
    };
    return { a, b, certPem, cert, key, config, write, start };
  }

  it('runs alone with --cert/--key, serves /metrics, reloads routes on SIGHUP and refuses an invalid reload', async () => {
    const { config, write, start } = await twoBackends('gateway');
    write('a');
    const gw = await start(['--metrics-port', '0']);
    try {
      expect(gw.metrics, gw.output()).toBeDefined();
      expect(await gw.get()).toBe('from-a');
      write('b');
      await gw.hangUp(/configuration reloaded/);
      expect(await gw.get()).toBe('from-b');
      const text = await (await request(gw.metrics!)).body.text();
      expect(text).toContain('gatehouse_gateway_requests_total{route="svc",status="200"} 2');

      writeFileSync(config, '{ "gateway": { "routes": [{ "name": "bad", "pathPrefix": "/", "upstream": "nope" }] } }');
      await gw.hangUp(/gateway_reload_failed/);
      expect(await gw.get()).toBe('from-b'); // still the last good configuration
    } finally {
      await gw.stop();
    }
  }, 60_000);

  it('SIGUSR2 purges the response cache (it has no admin API), with an audit line', async () => {
    const { write, start } = await twoBackends('gateway-purge');
    write('a', 'info', undefined, true);
    const gw = await start();
    try {
      expect(await gw.cacheOutcome()).toBe('MISS');
      expect(await gw.cacheOutcome()).toBe('HIT');
      await gw.signal('SIGUSR2', /gatehouse gateway: cache purged \(1 entry\)/);
      expect(logLines(gw.output()).some((l) => l['event'] === 'gateway_cache_purged' && l['audit'] === true)).toBe(
        true,
      );
      expect(await gw.cacheOutcome()).toBe('MISS'); // fetched again
      expect(await gw.cacheOutcome()).toBe('HIT');
    } finally {
      await gw.stop();
    }
  }, 60_000);

  it('SIGHUP also reloads --cert/--key (first the pair, then the configuration), each refused on its own', async () => {
    const backend = await startBackend((req, res) => {
      req.resume();
      res.end(req.url);
    });
    const first = testCertificate({ fresh: true });
    const second = testCertificate({ fresh: true });
    const certFile = join(tmp.dir, 'hup-cert.pem');
    const keyFile = join(tmp.dir, 'hup-key.pem');
    const config = join(tmp.dir, 'hup.json');
    const write = (pair: { certPem?: string; keyPem?: string }) => {
      if (pair.certPem !== undefined) writeFileSync(certFile, pair.certPem);
      if (pair.keyPem !== undefined) writeFileSync(keyFile, pair.keyPem, { mode: 0o600 });
    };
    const routes = (prefix: string) => ({
      log: { level: 'info' },
      listen: { host: '127.0.0.1', gateway: { port: 0 } },
      gateway: {
        upstreams: [{ name: 'b', hosts: [backend.url] }],
        routes: [{ name: 'svc', pathPrefix: prefix, upstream: 'b' }],
      },
    });
    const fingerprint = (pair: { certPem: string }) => new X509Certificate(pair.certPem).fingerprint256;

    // A pair that does not check stops the start, naming the flag.
    write({ certPem: first.certPem, keyPem: second.keyPem });
    writeFileSync(config, JSON.stringify(routes('/a/')));
    const refused = await runCli(['gateway', '--config', config, '--cert', certFile, '--key', keyFile]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--key: the private key does not belong to the first certificate of --cert');

    write(first);
    const child = spawn(process.execPath, [CLI, 'gateway', '--config', config, '--cert', certFile, '--key', keyFile], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    /** Sends SIGHUP and waits until both steps reported (reloaded or refused) `times` times in all. */
    const hangUp = async (times: number) => {
      const steps = () =>
        out.split('\n').filter((l) => /gateway: listener certificate reloaded|certificate_reload_failed/.test(l));
      const configs = () =>
        out.split('\n').filter((l) => /gateway: configuration reloaded|gateway_reload_failed/.test(l));
      child.kill('SIGHUP');
      for (let i = 0; i < 400 && (steps().length < times || configs().length < times); i += 1) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect([steps().length, configs().length], out).toEqual([times, times]);
      return { certificate: steps().at(-1) ?? '', configuration: configs().at(-1) ?? '' };
    };
    const agents: Agent[] = [];
    /** The status of GET `path`, on a new connection that trusts `pair` only. */
    const statusOf = async (url: string, path: string, pair: { certPem: string }) => {
      const agent = new Agent({ connect: { ca: pair.certPem, servername: 'localhost' } });
      agents.push(agent);
      return (await request(`${url}${path}`, { dispatcher: agent })).statusCode;
    };
    try {
      const [, url] = await waitForOutput(() => out, /listening on (https:\/\/\S+)/);
      const base = url as string;
      expect(await servedFingerprint(base)).toBe(fingerprint(first));
      expect(await statusOf(base, '/a/1', first)).toBe(200);

      // Both good: the pair first, then the configuration.
      write(second);
      writeFileSync(config, JSON.stringify(routes('/b/')));
      const both = await hangUp(1);
      expect(both.certificate).toContain('gatehouse gateway: listener certificate reloaded (serial');
      expect(out.indexOf('gateway: listener certificate reloaded')).toBeLessThan(
        out.indexOf('gateway: configuration reloaded'),
      );
      expect(await servedFingerprint(base)).toBe(fingerprint(second));
      expect(await statusOf(base, '/b/1', second)).toBe(200);
      expect(await statusOf(base, '/a/1', second)).toBe(404);

      // A mismatched key is refused and the pair stays; the good configuration still applies.
      write({ keyPem: first.keyPem });
      writeFileSync(config, JSON.stringify(routes('/c/')));
      const badPair = await hangUp(2);
      expect(badPair.certificate).toContain('certificate_reload_failed');
      expect(badPair.certificate).toContain('the private key does not belong to the first certificate of --cert');
      expect(badPair.configuration).toContain('gateway: configuration reloaded');
      expect(await servedFingerprint(base)).toBe(fingerprint(second));
      expect(await statusOf(base, '/c/1', second)).toBe(200);

      // A missing key file, likewise.
      rmSync(keyFile);
      const missing = await hangUp(3);
      expect(missing.certificate).toContain(`cannot read the key file ${keyFile}: ENOENT`);
      expect(await servedFingerprint(base)).toBe(fingerprint(second));

      // A good pair with a bad configuration: the pair is swapped in, the routes stay.
      write(first);
      writeFileSync(config, '{ "gateway": { "routes": [{ "name": "bad", "pathPrefix": "/", "upstream": "nope" }] } }');
      const badConfig = await hangUp(4);
      expect(badConfig.certificate).toContain('listener certificate reloaded');
      expect(badConfig.configuration).toContain('gateway_reload_failed');
      expect(await servedFingerprint(base)).toBe(fingerprint(first));
      expect(await statusOf(base, '/c/1', first)).toBe(200);
      expect(out).toContain('listener_certificate_replaced');
      expect(out).not.toContain('BEGIN');
    } finally {
      child.kill('SIGTERM');
      expect(await exitOf(child)).toBe(0);
      for (const agent of agents) await agent.close();
      await backend.close();
    }
  }, 60_000);

  // The gateway section is applied on SIGHUP; `log.level` is read at start only, so the reload names it
  // (`config_reload_ignored`) and nothing else (docs/gateway.md).
  it('SIGHUP applies a route change and names log.level, read at start only, in config_reload_ignored', async () => {
    const { write, start } = await twoBackends('ignored');
    write('a');
    const gw = await start();
    try {
      expect(await gw.get()).toBe('from-a');

      write('b', 'debug');
      await gw.hangUp(/configuration reloaded/);
      const ignored = logLines(gw.output()).filter((line) => line.event === 'config_reload_ignored');
      expect(ignored, gw.output()).toMatchObject([{ level: 40, keys: ['log.level'] }]);
      expect(gw.output()).toContain('applied only at restart: log.level');
      expect(await gw.get()).toBe('from-b');
    } finally {
      await gw.stop();
    }
  }, 60_000);

  // A reload that adds gateway.mesh bootstraps the SVID with it (applied); the SVID is then kept, so a later change of
  // gateway.mesh needs a restart and used to go unnamed (the whole gateway section counted as applied).
  it('SIGHUP applies an added gateway.mesh, then names a changed one in config_reload_ignored', async () => {
    const { write, start } = await twoBackends('mesh');
    const dataDir = join(tmp.dir, 'mesh-up');
    const up = await startUp(dataDir, { GATEHOUSE_MESH__DEMO__ENABLED: 'false' });
    const endpoints = up.endpoints as typeof up.endpoints & { ca: string; trustDomain: string };
    const spiffeId = `spiffe://${endpoints.trustDomain}/ns/edge/sa/gateway`;
    try {
      const made = await runCli(['ca', 'join-token', '--spiffe-id', spiffeId, '--data-dir', dataDir, '--json']);
      expect(made.code, made.stderr).toBe(0);
      const mesh = {
        ca: { url: endpoints.ca, bundleFile: endpoints.trustBundle },
        joinToken: (JSON.parse(made.stdout) as { token: string }).token,
        spiffeId,
      };
      write('a');
      const gw = await start();
      const ignored = () => logLines(gw.output()).filter((line) => line.event === 'config_reload_ignored');
      try {
        expect(await gw.get()).toBe('from-a');

        write('b', 'warn', mesh); // adds gateway.mesh: the reload bootstraps the SVID (or is refused)
        await gw.hangUp(/configuration reloaded/);
        expect(gw.output()).not.toContain('gateway_reload_failed');
        expect(ignored(), gw.output()).toEqual([]);
        expect(await gw.get()).toBe('from-b');

        write('a', 'warn', { ...mesh, spiffeId: `${spiffeId}-2` }); // the SVID keeps the first one
        await gw.hangUp(/configuration reloaded[\s\S]*configuration reloaded/, 'the second reload');
        expect(ignored(), gw.output()).toMatchObject([{ level: 40, keys: ['gateway.mesh.spiffeId'] }]);
        expect(gw.output()).toContain('applied only at restart: gateway.mesh.spiffeId');
        expect(await gw.get()).toBe('from-a'); // the routes of the same reload are applied
      } finally {
        await gw.stop();
      }
    } finally {
      up.child.kill('SIGTERM');
      await exitOf(up.child);
    }
  }, 90_000);
});
