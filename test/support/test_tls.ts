import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { tempDir } from './tmp.js';

let cached: { certPem: string; keyPem: string } | undefined;

/**
 * A throwaway self-signed P-256 certificate for localhost / 127.0.0.1 (made by the openssl CLI, valid one day),
 * made once per test file and reused; `{ fresh: true }` makes a new one each call (certificate swaps).
 *
 * @example
 * const { certPem, keyPem } = testCertificate();
 */
export function testCertificate(options: { fresh?: boolean } = {}): { certPem: string; keyPem: string } {
  if (cached && !options.fresh) return cached;
  const tmp = tempDir('gh-test-tls-');
  try {
    const cert = join(tmp.dir, 'cert.pem');
    const key = join(tmp.dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const made = { certPem: readFileSync(cert, 'utf8'), keyPem: readFileSync(key, 'utf8') };
    if (!options.fresh) cached = made;
    return made;
  } finally {
    tmp.remove();
  }
}

/**
 * The SHA-256 fingerprint of the certificate that a new TLS connection to `url` (`https://127.0.0.1:PORT`) is served,
 * SNI localhost, without verifying it: for tests that swap a listener's certificate.
 *
 * @example
 * expect(await servedFingerprint(url)).toBe(new X509Certificate(certPem).fingerprint256);
 */
export function servedFingerprint(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port: Number(new URL(url).port), servername: 'localhost', rejectUnauthorized: false },
      () => {
        const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
        socket.destroy();
        resolve(fingerprint);
      },
    );
    socket.once('error', reject);
  });
}
