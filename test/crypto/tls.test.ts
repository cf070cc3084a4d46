import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpsServer, request, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect, createServer as createTlsServer, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TLS13_CIPHERSUITES, clientTlsOptions, serverTlsOptions } from '../../src/crypto/tls.js';
import type { Authority, ListenerCertificate } from '../../src/pki/index.js';
import { DAY, exec, fixture, tempFiles } from '../pki/helpers.js';

/** Opens a TLS connection and resolves once the handshake is done (or rejects with the handshake error). */
function handshake(port: number, options: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ...options });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** One HTTPS GET with a fresh connection; resolves with the status and body. */
function get(port: number, options: ConnectionOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, ...options }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once('error', reject);
    req.end();
  });
}

function serialOf(socket: TLSSocket): string {
  const cert = socket.getPeerX509Certificate();
  if (!cert) throw new Error('no peer certificate');
  return cert.serialNumber.toLowerCase();
}

async function listen(server: HttpsServer | ReturnType<typeof createTlsServer>): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

describe('serverTlsOptions / clientTlsOptions', () => {
  it('pin TLS 1.3, the three AEAD suites and the curves', () => {
    const server = serverTlsOptions({ cert: 'c', key: 'k' });
    expect(server).toMatchObject({
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      ciphers: TLS13_CIPHERSUITES,
      ecdhCurve: 'X25519:P-256:P-384',
      honorCipherOrder: false,
    });
    expect(server.requestCert).toBeUndefined();
    expect(serverTlsOptions({ cert: 'c', key: 'k', ca: 'a', requestCert: true })).toMatchObject({
      ca: 'a',
      requestCert: true,
      rejectUnauthorized: true,
    });
    expect(clientTlsOptions({ ca: 'a', servername: 'localhost' })).toMatchObject({
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      ciphers: TLS13_CIPHERSUITES,
      rejectUnauthorized: true,
      ca: 'a',
      servername: 'localhost',
    });
    expect(TLS13_CIPHERSUITES.split(':')).toEqual([
      'TLS_AES_256_GCM_SHA384',
      'TLS_AES_128_GCM_SHA256',
      'TLS_CHACHA20_POLY1305_SHA256',
    ]);
  });

  it('refuse ticket keys of the wrong size and a client cert without its key', () => {
    expect(() => serverTlsOptions({ cert: 'c', key: 'k', ticketKeys: randomBytes(32) })).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_CONFIG' }),
    );
    expect(() => clientTlsOptions({ ca: 'a', cert: 'c' })).toThrow(expect.objectContaining({ code: 'ERR_TLS_CONFIG' }));
  });
});

describe('an HTTPS listener with a certificate from the platform CA', () => {
  let ca: Authority;
  let bundle: string;
  let first: ListenerCertificate;
  let server: HttpsServer;
  let port: number;
  let files: Awaited<ReturnType<typeof tempFiles>>;
  const ticketKeys = randomBytes(48);

  beforeAll(async () => {
    ca = await fixture(Date.now()).open(); // real peers verify against the real time
    bundle = ca.trustBundlePem();
    first = await ca.issueListenerCertificate({ component: 'admin', ttlMs: DAY });
    files = await tempFiles({ 'bundle.pem': bundle });
    server = createHttpsServer(
      serverTlsOptions({ cert: first.certPem, key: first.keyPem, ticketKeys }),
      (_req, res) => {
        res.end('hello over tls 1.3\n');
      },
    );
    port = await listen(server);
  });
  afterAll(async () => {
    server?.closeAllConnections();
    server?.close();
    await files?.cleanup();
  });

  const sClient = (...args: string[]) =>
    exec('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...args], '');

  it('openssl s_client verifies the chain against the bundle and negotiates TLSv1.3', async () => {
    const res = await sClient('-tls1_3', '-CAfile', files.path('bundle.pem'));
    expect(res.output).toContain('Verify return code: 0 (ok)');
    expect(res.output).toMatch(/New, TLSv1\.3, Cipher is TLS_AES_256_GCM_SHA384/);
  });

  it('openssl s_client with -tls1_2 is refused', async () => {
    const res = await sClient('-tls1_2', '-CAfile', files.path('bundle.pem'));
    expect(res.code).not.toBe(0);
    expect(res.output).toMatch(/alert protocol version|wrong version number|no protocols available/);
    expect(res.output).toContain('Cipher is (NONE)');
  });

  it('openssl s_client offering only a suite outside the three is refused', async () => {
    const res = await sClient(
      '-tls1_3',
      '-ciphersuites',
      'TLS_AES_128_CCM_SHA256',
      '-CAfile',
      files.path('bundle.pem'),
    );
    expect(res.code).not.toBe(0);
    expect(res.output).toMatch(/handshake failure/);
  });

  it('curl --cacert bundle https://localhost:<port>/ works, and curl limited to TLS 1.2 fails', async () => {
    const ok = await exec('curl', ['-sS', '--cacert', files.path('bundle.pem'), `https://localhost:${port}/`]);
    expect(ok.output).toBe('hello over tls 1.3\n');
    expect(ok.code).toBe(0);
    const viaIp = await exec('curl', ['-sS', '--cacert', files.path('bundle.pem'), `https://127.0.0.1:${port}/`]);
    expect(viaIp.output).toBe('hello over tls 1.3\n');
    const old = await exec('curl', [
      '-sS',
      '--tls-max',
      '1.2',
      '--cacert',
      files.path('bundle.pem'),
      `https://localhost:${port}/`,
    ]);
    expect(old.code).not.toBe(0);
  });

  it('a plain Node process trusts the listener through NODE_EXTRA_CA_CERTS=bundle', async () => {
    const script = `require('https').get('https://localhost:${port}/', (r) => r.pipe(process.stdout)).on('error', (e) => { console.error(e.code); process.exit(2); });`;
    const output = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['-e', script],
        { env: { PATH: process.env.PATH, NODE_EXTRA_CA_CERTS: files.path('bundle.pem') }, timeout: 15_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message} ${stderr}`)) : resolve(stdout)),
      );
    });
    expect(output).toBe('hello over tls 1.3\n');
  });

  it('a Node client built with clientTlsOptions verifies and speaks TLSv1.3', async () => {
    const res = await get(port, clientTlsOptions({ ca: bundle, servername: 'localhost' }));
    expect(res).toEqual({ status: 200, body: 'hello over tls 1.3\n' });
    const socket = await handshake(port, clientTlsOptions({ ca: bundle, servername: 'localhost' }));
    try {
      expect(socket.authorized).toBe(true);
      expect(socket.getProtocol()).toBe('TLSv1.3');
      expect(TLS13_CIPHERSUITES.split(':')).toContain(socket.getCipher().standardName);
    } finally {
      socket.destroy();
    }
  });

  it('a Node client forcing TLSv1.2 fails, and one trusting another CA fails', async () => {
    await expect(
      handshake(port, { ca: bundle, servername: 'localhost', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL/) });
    const stranger = await fixture(Date.now()).open();
    await expect(
      handshake(port, clientTlsOptions({ ca: stranger.trustBundlePem(), servername: 'localhost' })),
    ).rejects.toMatchObject({ code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' });
  });

  it('setSecureContext swaps the certificate for new connections and keeps TLS 1.3 only', async () => {
    const before = await handshake(port, clientTlsOptions({ ca: bundle, servername: 'localhost' }));
    expect(serialOf(before)).toBe(first.serialNumber);
    const renewed = await ca.issueListenerCertificate({ component: 'admin', ttlMs: DAY });
    server.setSecureContext(serverTlsOptions({ cert: renewed.certPem, key: renewed.keyPem, ticketKeys }));
    const after = await handshake(port, clientTlsOptions({ ca: bundle, servername: 'localhost' }));
    try {
      expect(serialOf(after)).toBe(renewed.serialNumber);
      expect(after.getProtocol()).toBe('TLSv1.3');
      // The connection made before the swap still works, on the old certificate.
      before.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      const [reply] = (await once(before, 'data')) as [Buffer];
      expect(reply.toString()).toMatch(/^HTTP\/1\.1 200/);
    } finally {
      before.destroy();
      after.destroy();
    }
    await expect(
      handshake(port, { ca: bundle, servername: 'localhost', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }),
    ).rejects.toBeInstanceOf(Error);
    const res = await sClient('-tls1_3', '-CAfile', files.path('bundle.pem'));
    expect(res.output).toContain('Verify return code: 0 (ok)');
  });
});

describe('mutual TLS and a TLS 1.2-only peer', () => {
  it('a server with requestCert accepts a client certificate from the CA and rejects a client without one', async () => {
    const ca = await fixture(Date.now()).open();
    const bundle = ca.trustBundlePem();
    const serverCert = await ca.issueListenerCertificate({ component: 'mesh', ttlMs: DAY });
    const clientCert = await ca.issueListenerCertificate({ component: 'cli', ttlMs: DAY });
    const server = createTlsServer(
      serverTlsOptions({ cert: serverCert.certPem, key: serverCert.keyPem, ca: bundle, requestCert: true }),
      (socket) => {
        const peer = socket.getPeerX509Certificate();
        socket.end(peer?.subjectAltName?.split(', ')[0] ?? 'none');
      },
    );
    const port = await listen(server);
    try {
      const socket = await handshake(
        port,
        clientTlsOptions({ ca: bundle, cert: clientCert.certPem, key: clientCert.keyPem, servername: 'localhost' }),
      );
      const [line] = (await once(socket, 'data')) as [Buffer];
      expect(line.toString()).toBe(`URI:${clientCert.spiffeId}`);
      socket.destroy();
      const anonymous = await handshake(port, clientTlsOptions({ ca: bundle, servername: 'localhost' }));
      const [err] = (await once(anonymous, 'error')) as [NodeJS.ErrnoException];
      expect(err.code).toBe('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    } finally {
      server.close();
    }
  });

  it('clientTlsOptions refuses a server that only speaks TLS 1.2', async () => {
    const ca = await fixture(Date.now()).open();
    const cert = await ca.issueListenerCertificate({ component: 'legacy', ttlMs: DAY });
    const server = createTlsServer({ cert: cert.certPem, key: cert.keyPem, maxVersion: 'TLSv1.2' }, (s) => s.end());
    const port = await listen(server);
    try {
      await expect(
        handshake(port, clientTlsOptions({ ca: ca.trustBundlePem(), servername: 'localhost' })),
      ).rejects.toBeInstanceOf(Error);
    } finally {
      server.close();
    }
  });
});
