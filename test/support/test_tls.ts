import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './tmp.js';

let cached: { certPem: string; keyPem: string } | undefined;

/**
 * A throwaway self-signed P-256 certificate for localhost / 127.0.0.1 (made by the openssl CLI, valid one day),
 * made once per test file and reused.
 *
 * @example
 * const { certPem, keyPem } = testCertificate();
 */
export function testCertificate(): { certPem: string; keyPem: string } {
  if (cached) return cached;
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
    cached = { certPem: readFileSync(cert, 'utf8'), keyPem: readFileSync(key, 'utf8') };
    return cached;
  } finally {
    tmp.remove();
  }
}
