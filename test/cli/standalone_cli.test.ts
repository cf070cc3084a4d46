import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { exitOf, runCli, startComponent, type ComponentProcess } from '../support/cli.js';
import { getJson, trustingAgent } from '../support/https.js';
import { servedFingerprint, testCertificate } from '../support/test_tls.js';
import { tempDir } from '../support/tmp.js';
import { up } from './object_support.js';

// `gatehouse identity|kms|ca --config FILE` on the embedded SQLite data directory that a `gatehouse up` initialized.
describe('components started alone (SQLite)', { timeout: 120_000 }, () => {
  const tmp = tempDir('gh-alone-');
  const running: ComponentProcess[] = [];
  const agents: Agent[] = [];
  afterAll(async () => {
    for (const c of running) await c.stop();
    for (const a of agents) await a.close();
    tmp.remove();
  });
  const config = join(tmp.dir, 'alone.json');
  writeFileSync(
    config,
    JSON.stringify({
      log: { level: 'warn' },
      listen: { identity: { port: 0 }, identityMtls: { port: 0 }, kms: { port: 0 }, ca: { port: 0 } },
    }),
  );
  const dir = join(tmp.dir, 'data');
  const withFiles = (component: string, key: string) => [
    component,
    ...['--config', config, '--data-dir', dir, '--cert', join(tmp.dir, 'cert.pem'), '--key', key],
  ];

  it('refuses a data directory that no gatehouse up initialized, and creates nothing in it', async () => {
    const empty = join(tmp.dir, 'empty');
    for (const component of ['identity', 'kms', 'ca']) {
      const result = await runCli([component, '--config', config, '--data-dir', empty]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(`holds no initialized gatehouse: run \`gatehouse up --config FILE\` once`);
    }
    expect(existsSync(empty) ? readdirSync(empty) : []).toEqual([]);
  });

  it('needs --config, takes --cert with --key only, and leaves the admin subcommands as they were', async () => {
    const bare = await runCli(['identity']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('--config FILE (or GATEHOUSE_CONFIG) is required to run the identity issuer');
    const half = await runCli(['ca', '--config', config, '--cert', join(tmp.dir, 'x.pem')]);
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('--cert and --key go together');
    // The kms group's own --data-dir is read only before a subcommand: this is still the admin command.
    const list = await runCli(['kms', 'key', 'list', '--data-dir', join(tmp.dir, 'nothing')]);
    expect(list.code).toBe(3);
    expect(list.stderr).toContain(`gatehouse is not running on ${join(tmp.dir, 'nothing')}`);
    const status = await runCli(['ca', 'status', '--data-dir', join(tmp.dir, 'nothing')]);
    expect(status.stderr).toContain(`gatehouse is not running on ${join(tmp.dir, 'nothing')}`);
    const help = await runCli(['kms', '--help']);
    expect(help.stdout).toContain('--config <file>');
    expect(help.stdout).toContain('key');
    // Each component alone may serve its metrics; a port out of range is a usage error.
    expect(help.stdout).toContain('--metrics-port <port>');
    const badPort = await runCli(['ca', '--config', config, '--metrics-port', '70000']);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain('expected a port, 0..65535');
  });

  it('runs the KMS alone with a CA-issued listener certificate and the CA alone with --cert/--key', async () => {
    const server = await up(dir);
    const created = await runCli(['kms', 'key', 'create', 'orders', '--data-dir', dir]);
    expect(created.code, created.stderr).toBe(0);
    server.child.kill('SIGTERM');
    expect(await exitOf(server.child)).toBe(0);
    const adminToken = readFileSync(join(dir, 'admin.token'), 'utf8').trim();

    const kms = await startComponent(['kms', '--config', config, '--data-dir', dir]);
    running.push(kms);
    expect(kms.output()).toContain(`curl --cacert ${join(dir, 'trust-bundle.pem')}`);
    const platform = trustingAgent(join(dir, 'trust-bundle.pem'));
    agents.push(platform);
    const encrypted = await getJson(platform, `${kms.url}/v1/transit/encrypt/orders`, {
      method: 'POST',
      token: adminToken,
      body: { plaintext: Buffer.from('alone').toString('base64') },
    });
    expect(encrypted.status, JSON.stringify(encrypted.body)).toBe(200);
    const { ciphertext } = (encrypted.body as { data: { ciphertext: string } }).data;
    const decrypted = await getJson(platform, `${kms.url}/v1/transit/decrypt/orders`, {
      method: 'POST',
      token: adminToken,
      body: { ciphertext },
    });
    expect(Buffer.from((decrypted.body as { data: { plaintext: string } }).data.plaintext, 'base64').toString()).toBe(
      'alone',
    );
    const anonymous = await getJson(platform, `${kms.url}/v1/transit/encrypt/orders`, {
      method: 'POST',
      body: { plaintext: 'eA==' },
    });
    expect(anonymous.status).toBe(401);
    // SIGHUP without --cert only looks for a rotated root key: the component keeps running (exit 0 at the end).
    kms.child.kill('SIGHUP');

    const { certPem, keyPem } = testCertificate();
    writeFileSync(join(tmp.dir, 'cert.pem'), certPem);
    writeFileSync(join(tmp.dir, 'key.pem'), keyPem, { mode: 0o600 });
    const ca = await startComponent([...withFiles('ca', join(tmp.dir, 'key.pem')), '--metrics-port', '0']);
    running.push(ca);
    const operator = new Agent({ connect: { ca: certPem, minVersion: 'TLSv1.3', servername: 'localhost' } });
    agents.push(operator);
    const bundle = await operator.request({ origin: ca.url, path: '/v1/ca/bundle.pem', method: 'GET' });
    expect(bundle.statusCode).toBe(200);
    expect(await bundle.body.text()).toBe(readFileSync(join(dir, 'trust-bundle.pem'), 'utf8'));
    const metricsUrl = /metrics (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(ca.output())?.[1];
    expect(metricsUrl, ca.output()).toBeDefined();
    const metrics = await fetch(metricsUrl!);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const exposition = await metrics.text();
    expect(exposition).toMatch(/^gatehouse_ca_certificate_expiry_seconds\{certificate="intermediate"\} \d+$/m);
    expect(exposition).toMatch(/^gatehouse_ca_expiry_warnings 0$/m);
    // The bundle fetched above, counted by its route's pattern.
    expect(exposition).toMatch(
      /^gatehouse_http_requests_total\{listener="ca",method="GET",route="\/v1\/ca\/bundle\.pem",status="200"\} 1$/m,
    );
    expect((await fetch(metricsUrl!.replace('/metrics', '/other'))).status).toBe(404);

    expect(await kms.stop()).toBe(0);
    expect(await ca.stop()).toBe(0);
  });

  it("refuses a --key that is not a key, or not the certificate's", async () => {
    writeFileSync(join(tmp.dir, 'not-a-key.pem'), readFileSync(join(dir, 'root.key'), 'utf8'));
    const garbage = await runCli(withFiles('identity', join(tmp.dir, 'not-a-key.pem')));
    expect(garbage.code).toBe(1);
    expect(garbage.stderr).toContain('--key: not a PEM private key');
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    writeFileSync(join(tmp.dir, 'other.pem'), other, { mode: 0o600 });
    const mismatch = await runCli(withFiles('identity', join(tmp.dir, 'other.pem')));
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toContain('--key: the private key does not belong to the first certificate of --cert');
  });

  it('reloads --cert/--key on SIGHUP into both identity listeners; an unreadable or mismatched pair keeps the old one', async () => {
    const certFile = join(tmp.dir, 'hup-cert.pem');
    const keyFile = join(tmp.dir, 'hup-key.pem');
    const write = (pair: { certPem?: string; keyPem?: string }) => {
      if (pair.certPem !== undefined) writeFileSync(certFile, pair.certPem);
      if (pair.keyPem !== undefined) writeFileSync(keyFile, pair.keyPem, { mode: 0o600 });
    };
    const first = testCertificate({ fresh: true });
    const second = testCertificate({ fresh: true });
    write(first);
    const identity = await startComponent([
      ...['identity', '--config', config, '--data-dir', dir, '--cert', certFile, '--key', keyFile],
    ]);
    running.push(identity);
    const mtls = /mTLS\s+(https:\/\/\S+)/.exec(identity.output())?.[1] as string;
    expect(mtls).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const served = async () => [await servedFingerprint(identity.url), await servedFingerprint(mtls)];
    const fingerprint = (pair: { certPem: string }) => new X509Certificate(pair.certPem).fingerprint256;
    expect(await served()).toEqual([fingerprint(first), fingerprint(first)]);
    /** Sends SIGHUP and waits for the `times`-th occurrence of `marker` in the output. */
    const hangUp = async (marker: string, times: number) => {
      identity.child.kill('SIGHUP');
      for (let i = 0; i < 400 && identity.output().split(marker).length - 1 < times; i += 1) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(identity.output().split(marker).length - 1, identity.output()).toBe(times);
    };

    write(second);
    await hangUp('listener certificate reloaded', 1);
    expect(await served()).toEqual([fingerprint(second), fingerprint(second)]);

    write({ keyPem: first.keyPem }); // not the certificate's key
    await hangUp('certificate_reload_failed', 1);
    expect(identity.output()).toContain('the private key does not belong to the first certificate of --cert');
    rmSync(keyFile);
    await hangUp('certificate_reload_failed', 2);
    expect(identity.output()).toContain(`cannot read the key file ${keyFile}: ENOENT`);
    expect(await served()).toEqual([fingerprint(second), fingerprint(second)]);
    expect(identity.output()).not.toContain('BEGIN');
    expect(await identity.stop()).toBe(0);
  });
});
