import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startGatehouse, type RunningGatehouse } from '../../src/app/index.js';
import { loadConfig } from '../../src/config/index.js';
import { MemoryLogger, systemClock } from '../../src/core/index.js';
import { getJson, sClient, trustingAgent } from '../support/https.js';
import { freshPostgresSchema } from '../support/postgres.js';
import { tempDir } from '../support/tmp.js';
import { ephemeralListen } from '../support/up.js';

/** The private part of a PKCS#8 key (its public half legitimately appears in certificates), or the raw bytes. */
function privateScalarOrRaw(secret: Buffer): Buffer {
  try {
    const jwk = createPrivateKey({ key: secret, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
    return Buffer.from(jwk.d as string, 'base64url');
  } catch {
    return secret;
  }
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function configFor(dir: string, overrides: Record<string, unknown> = {}) {
  return loadConfig({
    overrides: {
      dataDir: dir,
      listen: ephemeralListen(),
      ...overrides,
    },
  });
}

async function up(dir: string, rootKey: { env?: string; file?: string } = {}, overrides: Record<string, unknown> = {}) {
  const logger = new MemoryLogger();
  const running = await startGatehouse({ config: configFor(dir, overrides), rootKey, clock: systemClock, logger });
  cleanups.push(() => running.stop());
  return { running, logger };
}

function adminUrl(running: RunningGatehouse, path: string): string {
  return `${running.endpoints.admin}${path}`;
}

describe('gatehouse up (in process)', () => {
  it('initializes the data directory, serves TLS 1.3 with a CA certificate and writes endpoints.json', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const dir = join(tmp.dir, 'data');
    const { running, logger } = await up(dir);
    expect(running.created).toBe(true);
    expect(running.rootKeyCreated).toBe(true);

    for (const file of ['root.key', 'admin.token']) {
      expect(statSync(join(dir, file)).mode & 0o777).toBe(0o600);
    }
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(existsSync(join(dir, 'gatehouse.json'))).toBe(true);
    const endpoints = JSON.parse(readFileSync(join(dir, 'endpoints.json'), 'utf8'));
    expect(endpoints.pid).toBe(process.pid);
    expect(endpoints.admin).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(endpoints.trustBundle).toBe(join(dir, 'trust-bundle.pem'));
    expect(endpoints.trustDomain).toBe('gatehouse.local');
    expect(logger.lines.some((l) => l.level === 'warn' && String(l.msg).includes('beside the data'))).toBe(true);

    const agent = trustingAgent(endpoints.trustBundle);
    cleanups.push(() => agent.close());
    const health = await getJson(agent, adminUrl(running, '/healthz'));
    expect(health.status).toBe(200);
    expect(health.headers['strict-transport-security']).toMatch(/^max-age=63072000; includeSubDomains$/);
    expect((await getJson(agent, adminUrl(running, '/readyz'))).status).toBe(200);

    const port = Number(new URL(endpoints.admin).port);
    const tls13 = await sClient(port, ['-tls1_3', '-CAfile', endpoints.trustBundle]);
    expect(tls13.output).toContain('Verify return code: 0 (ok)');
    expect(tls13.output).toMatch(/TLSv1\.3/);
    const tls12 = await sClient(port, ['-tls1_2']);
    expect(tls12.code).not.toBe(0);
    expect(tls12.output).toMatch(/alert protocol version|no protocols available|wrong version/i);
  });

  it('requires the admin token and answers problem+json', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const { running } = await up(tmp.dir);
    const agent = trustingAgent(running.endpoints.trustBundle);
    cleanups.push(() => agent.close());
    const anonymous = await getJson(agent, adminUrl(running, '/v1/status'));
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer/);
    expect((anonymous.body as { code: string }).code).toBe('ERR_ADMIN_UNAUTHORIZED');
    expect((await getJson(agent, adminUrl(running, '/v1/status'), { token: 'gha_wrong' })).status).toBe(401);

    const token = readFileSync(join(tmp.dir, 'admin.token'), 'utf8').trim();
    const status = await getJson(agent, adminUrl(running, '/v1/status'), { token });
    expect(status.status).toBe(200);
    expect((status.body as { trust_domain: string }).trust_domain).toBe('gatehouse.local');

    const notFound = await getJson(agent, adminUrl(running, '/v1/nope'), { token });
    expect(notFound.status).toBe(404);
    expect((notFound.body as { code: string }).code).toBe('ERR_HTTP_NOT_FOUND');
    const bad = await getJson(agent, adminUrl(running, '/v1/kms/keys'), { token, method: 'POST', body: { nam: 'x' } });
    expect(bad.status).toBe(400);
    expect((bad.body as { code: string }).code).toBe('ERR_HTTP_BAD_REQUEST');
  });

  it('reuses an initialized directory, refuses a second process, and cleans up on stop', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const first = await up(tmp.dir);
    const token = readFileSync(join(tmp.dir, 'admin.token'), 'utf8');
    await expect(up(tmp.dir)).rejects.toMatchObject({ code: 'ERR_DATADIR_LOCKED' });
    await first.running.stop();
    expect(existsSync(join(tmp.dir, 'endpoints.json'))).toBe(false);

    const second = await up(tmp.dir);
    expect(second.running.created).toBe(false);
    expect(readFileSync(join(tmp.dir, 'admin.token'), 'utf8')).toBe(token);
    const agent = trustingAgent(second.running.endpoints.trustBundle);
    cleanups.push(() => agent.close());
    expect((await getJson(agent, adminUrl(second.running, '/v1/status'), { token: token.trim() })).status).toBe(200);
  });

  it('stops with a clear reason on a port in use, a wrong root key and a corrupt database', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const busyPort = (blocker.address() as { port: number }).port;
    await expect(
      startGatehouse({
        config: loadConfig({
          overrides: {
            dataDir: tmp.dir,
            listen: { ...ephemeralListen(), admin: { port: busyPort } },
          },
        }),
        rootKey: {},
        clock: systemClock,
        logger: new MemoryLogger(),
      }),
    ).rejects.toMatchObject({ code: 'ERR_PORT_IN_USE', message: expect.stringContaining('address already in use') });
    expect(existsSync(join(tmp.dir, 'endpoints.json'))).toBe(false);

    const other = '00'.repeat(32);
    await expect(up(tmp.dir, { env: other })).rejects.toMatchObject({ code: 'ERR_ROOT_KEY_WRONG' });

    writeFileSync(join(tmp.dir, 'gatehouse.db'), Buffer.alloc(8192, 7));
    await expect(up(tmp.dir)).rejects.toMatchObject({
      code: 'ERR_STORE_CORRUPT',
      message: expect.stringContaining('gatehouse.db'),
    });
  });

  it('takes the root key from the environment without writing one', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const key = 'ab'.repeat(32);
    const { running } = await up(tmp.dir, { env: key });
    expect(running.rootKeyCreated).toBe(false);
    expect(existsSync(join(tmp.dir, 'root.key'))).toBe(false);
    await running.stop();
    await expect(up(tmp.dir)).rejects.toMatchObject({ code: 'ERR_ROOT_KEY_MISSING' });
    const again = await up(tmp.dir, { env: key });
    expect(again.running.created).toBe(false);
  });

  it('keeps every secret sealed at rest: no key material in any file of the data directory', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const { running } = await up(tmp.dir);
    const { keyring } = running.core;
    await keyring.createKey('orders', {});
    await keyring.rotateKey('orders');
    const material = [(await keyring.encryptionKey('orders')).key, (await keyring.decryptionKey('orders', 1)).key];
    for (const name of await keyring.listSecrets('')) {
      const secret = await keyring.getSecret(name);
      if (secret) material.push(privateScalarOrRaw(secret));
    }
    expect(material.length).toBeGreaterThanOrEqual(4);
    await running.stop();

    const files = readdirSync(tmp.dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && !['root.key', 'admin.token'].includes(e.name))
      .map((e) => join(e.parentPath, e.name));
    expect(files.some((f) => f.endsWith('gatehouse.db'))).toBe(true);
    for (const file of files) {
      const bytes = readFileSync(file);
      const text = bytes.toString('latin1');
      for (const secret of material) {
        const probe = secret.subarray(0, 16);
        expect(bytes.includes(probe), `${file} holds raw key bytes`).toBe(false);
        for (const form of [secret.toString('hex'), secret.toString('base64'), secret.toString('base64url')]) {
          expect(text.includes(form.slice(0, 20)), `${file} holds encoded key bytes`).toBe(false);
        }
      }
    }
  });

  it('renews listener certificates with setSecureContext: new connections see the new one, open ones keep working', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const { running } = await up(tmp.dir);
    const port = Number(new URL(running.endpoints.admin).port);
    const ca = readFileSync(running.endpoints.trustBundle, 'utf8');
    const open = (): Promise<TLSSocket> =>
      new Promise((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca, minVersion: 'TLSv1.3' }, () =>
          resolve(socket),
        );
        socket.once('error', reject);
      });
    const before = await open();
    cleanups.push(() => void before.destroy());
    const serialBefore = before.getPeerX509Certificate()?.serialNumber;
    expect(before.authorized).toBe(true);

    const agent = trustingAgent(running.endpoints.trustBundle);
    cleanups.push(() => agent.close());
    const token = readFileSync(join(tmp.dir, 'admin.token'), 'utf8').trim();
    const renewed = await getJson(agent, adminUrl(running, '/v1/tls/renew'), { token, method: 'POST', body: {} });
    expect(renewed.status).toBe(200);
    const [entry] = renewed.body as Array<{ listener: string; serial_number: string }>;
    expect(entry?.listener).toBe('admin');

    const after = await open();
    cleanups.push(() => void after.destroy());
    const leaf = after.getPeerX509Certificate();
    const serialAfter = leaf?.serialNumber;
    expect(after.authorized).toBe(true);
    expect(serialAfter).not.toBe(serialBefore);
    const normal = (serial: string | undefined) => (serial ?? '').toLowerCase().replace(/^0+/, '');
    expect(normal(serialAfter)).toBe(normal(entry?.serial_number));
    expect(leaf?.subjectAltName).toContain('URI:spiffe://gatehouse.local/gatehouse/admin');
    expect(leaf?.subjectAltName).toContain('DNS:localhost');
    expect(leaf?.subjectAltName).toContain('IP Address:127.0.0.1');

    // The connection opened before the swap still works.
    before.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    const reply = await new Promise<string>((resolve) => {
      let data = '';
      before.on('data', (d: Buffer) => (data += d.toString()));
      before.on('end', () => resolve(data));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 200/);
  });

  it('every HTTPS listener speaks TLS 1.3 only with a certificate the trust bundle verifies', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const { running } = await up(tmp.dir);
    const endpoints = JSON.parse(readFileSync(join(tmp.dir, 'endpoints.json'), 'utf8')) as Record<string, unknown>;
    const listeners = Object.entries(endpoints).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1].startsWith('https://'),
    );
    expect(listeners.map(([name]) => name).sort()).toEqual(
      expect.arrayContaining(['admin', 'ca', 'gateway', 'identity', 'kms']),
    );
    for (const [name, url] of listeners) {
      const port = Number(new URL(url).port);
      const tls13 = await sClient(port, ['-tls1_3', '-CAfile', running.endpoints.trustBundle]);
      expect(tls13.output, `${name} over TLS 1.3`).toContain('Verify return code: 0 (ok)');
      const tls12 = await sClient(port, ['-tls1_2']);
      expect(tls12.code, `${name} must refuse TLS 1.2`).not.toBe(0);
      expect(tls12.output, name).toMatch(/alert protocol version|no protocols available|wrong version/i);
    }
  });
});

/** The subjectAltName of the certificate served on 127.0.0.1:port when asked for `servername`, verified for that name. */
function servedNames(port: number, servername: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, ca }, () => {
      const names = socket.getPeerX509Certificate()?.subjectAltName ?? '';
      socket.end();
      resolve(names);
    });
    socket.on('error', reject);
  });
}

describe('gatehouse up with identity.issuer set (replicas behind a load balancer)', () => {
  it('listen.certificateNames go into every listener certificate, so clients can verify them by those names', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const { running } = await up(
      tmp.dir,
      {},
      { listen: { ...ephemeralListen(), certificateNames: ['identity.replicas.test', '10.1.2.3'] } },
    );
    const ca = readFileSync(running.endpoints.trustBundle, 'utf8');
    for (const url of [running.endpoints.identity, running.endpoints.identityMtls, running.endpoints.kms]) {
      const names = await servedNames(Number(new URL(url).port), 'identity.replicas.test', ca);
      expect(names, url).toContain('DNS:identity.replicas.test');
      expect(names, url).toContain('IP Address:10.1.2.3');
      expect(names, url).toContain('DNS:localhost');
    }
  });

  it('endpoints.json names the bound identity listener, and the issuer beside it', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const issuer = 'https://identity.replicas.test';
    const { running } = await up(tmp.dir, {}, { identity: { issuer } });
    const endpoints = JSON.parse(readFileSync(join(tmp.dir, 'endpoints.json'), 'utf8')) as Record<string, string>;
    expect(endpoints['issuer']).toBe(issuer);
    expect(endpoints['identity']).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(Number(new URL(endpoints['identity'] as string).port)).toBeGreaterThan(0);
    const agent = trustingAgent(running.endpoints.trustBundle);
    const metadata = await getJson(agent, `${endpoints['identity']}/.well-known/oauth-authorization-server`);
    expect(metadata.status).toBe(200);
    expect((metadata.body as { issuer: string }).issuer).toBe(issuer);
    await agent.close();
  });
});

describe('gatehouse up on PostgreSQL without identity.issuer', () => {
  it('warns that its tokens are refused by other replicas', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const pg = await freshPostgresSchema();
    cleanups.push(() => pg.drop());
    const { logger } = await up(
      tmp.dir,
      {},
      { storage: { kind: 'postgres', postgres: { url: pg.url, schema: pg.schema } } },
    );
    const warning = logger.lines.find((l) => l['setting'] === 'identity.issuer');
    expect(String(warning?.['msg'])).toContain('its tokens are refused by other replicas');
  });
});
