import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Authority } from '../../src/pki/index.js';
import { importSigningKey } from '../../src/pki/keys.js';
import { signLeaf } from '../../src/pki/leaf.js';
import type { AuthorityRecord } from '../../src/pki/state.js';
import { x509 } from '../../src/pki/x509.js';
import { DAY, TRUST_DOMAIN, exec, fixture, splitPem, tempFiles } from './helpers.js';

// The real openssl binary as the peer: it checks what every client (curl, nginx, Envoy) will check.
describe('CA certificates seen by openssl', () => {
  let ca: Authority;
  let record: AuthorityRecord;
  let vault: ReturnType<typeof fixture>['vault'];
  let files: Awaited<ReturnType<typeof tempFiles>>;
  let createdAt: number;

  beforeAll(async () => {
    const f = fixture(Date.now()); // openssl verifies against the real time
    createdAt = f.clock.now();
    ca = await f.open();
    vault = f.vault;
    record = (await f.store.get<AuthorityRecord>('pki_authorities', 'platform'))!.value;
    const issued = await ca.issueListenerCertificate({ component: 'admin', ttlMs: DAY });
    const [leaf] = splitPem(issued.certPem);
    files = await tempFiles({
      'root.pem': record.roots[0]!.certPem,
      'intermediate.pem': record.intermediates[0]!.certPem,
      'leaf.pem': leaf!,
      'bundle.pem': ca.trustBundlePem(),
    });
  });
  afterAll(async () => {
    await files?.cleanup();
  });

  async function text(name: string): Promise<string> {
    const { code, output } = await exec('openssl', ['x509', '-in', files.path(name), '-noout', '-text']);
    expect(code).toBe(0);
    return output.replace(/\s+/g, ' ');
  }

  it('verifies a listener certificate through the intermediate to the root', async () => {
    const res = await exec('openssl', [
      'verify',
      '-CAfile',
      files.path('root.pem'),
      '-untrusted',
      files.path('intermediate.pem'),
      files.path('leaf.pem'),
    ]);
    expect(res.output).toContain('leaf.pem: OK');
    expect(res.code).toBe(0);
    const strict = await exec('openssl', [
      'verify',
      '-x509_strict',
      '-purpose',
      'sslserver',
      '-CAfile',
      files.path('bundle.pem'),
      files.path('leaf.pem'),
    ]);
    expect(strict.output).toContain('leaf.pem: OK');
  });

  it('shows the root extensions', async () => {
    const t = await text('root.pem');
    expect(t).toContain(`Subject: CN = gatehouse root CA, O = gatehouse, OU = ${TRUST_DOMAIN}`);
    expect(t).toContain('Public Key Algorithm: id-ecPublicKey');
    expect(t).toContain('NIST CURVE: P-256');
    expect(t).toContain('X509v3 Basic Constraints: critical CA:TRUE, pathlen:1');
    expect(t).toContain('X509v3 Key Usage: critical Certificate Sign, CRL Sign');
    expect(t).toContain('X509v3 Subject Key Identifier');
    expect(t).toContain('Signature Algorithm: ecdsa-with-SHA256');
  });

  it('shows the intermediate extensions and its URI name constraint', async () => {
    const t = await text('intermediate.pem');
    expect(t).toContain('X509v3 Basic Constraints: critical CA:TRUE, pathlen:0');
    expect(t).toContain('X509v3 Key Usage: critical Certificate Sign, CRL Sign');
    expect(t).toContain('X509v3 Authority Key Identifier');
    expect(t).toContain(`X509v3 Name Constraints: critical Permitted: URI:${TRUST_DOMAIN} `);
    expect(t).not.toMatch(/Permitted: .*DNS:/);
  });

  it('shows the leaf extensions', async () => {
    const t = await text('leaf.pem');
    expect(t).toContain('X509v3 Basic Constraints: critical CA:FALSE');
    expect(t).toContain('X509v3 Key Usage: critical Digital Signature');
    expect(t).toContain('X509v3 Extended Key Usage: TLS Web Server Authentication, TLS Web Client Authentication');
    expect(t).toContain(
      `X509v3 Subject Alternative Name: critical URI:spiffe://${TRUST_DOMAIN}/gatehouse/admin, DNS:localhost, IP Address:127.0.0.1`,
    );
    expect(t.match(/URI:/g)).toHaveLength(1);
  });

  it('the name constraint rejects a leaf of another trust domain and accepts one of ours', async () => {
    const intermediate = record.intermediates[0]!;
    const issuer = {
      certificate: new x509.X509Certificate(intermediate.certPem),
      privateKey: await importSigningKey((await vault.getSecret(intermediate.keySecret))!),
    };
    const sign = async (uri: string) =>
      (
        await signLeaf({ issuer, names: { uri, dnsNames: [], ipAddresses: [] }, now: Date.now(), ttlMs: DAY })
      ).certificate.toString('pem');
    const leaves = await tempFiles({
      'evil.pem': await sign('spiffe://evil.example/x'),
      'suffix.pem': await sign(`spiffe://evil${TRUST_DOMAIN}/x`),
      'ours.pem': await sign(`spiffe://${TRUST_DOMAIN}/workload/x`),
    });
    try {
      const verify = (name: string) =>
        exec('openssl', [
          'verify',
          '-CAfile',
          files.path('root.pem'),
          '-untrusted',
          files.path('intermediate.pem'),
          leaves.path(name),
        ]);
      const evil = await verify('evil.pem');
      expect(evil.code).not.toBe(0);
      expect(evil.output).toContain('permitted subtree violation');
      const suffix = await verify('suffix.pem');
      expect(suffix.code).not.toBe(0);
      expect(suffix.output).toContain('permitted subtree violation');
      const ours = await verify('ours.pem');
      expect(ours.output).toContain('ours.pem: OK');
      expect(ours.code).toBe(0);
    } finally {
      await leaves.cleanup();
    }
  });

  it('a chain issued the moment the CA is made verifies for a peer whose clock is 5 s slow', async () => {
    // Root and intermediate are backdated like the leaves: a brand-new CA (first start, an intermediate replaced at
    // start) must not be "not yet valid" for a peer a few seconds behind.
    const attime = String(Math.floor((createdAt - 5_000) / 1000));
    const slow = await exec('openssl', [
      'verify',
      '-attime',
      attime,
      '-CAfile',
      files.path('root.pem'),
      '-untrusted',
      files.path('intermediate.pem'),
      files.path('leaf.pem'),
    ]);
    expect(slow.output).toContain('leaf.pem: OK');
    expect(slow.code).toBe(0);
    for (const pem of [record.roots[0]!.certPem, record.intermediates[0]!.certPem]) {
      expect(new x509.X509Certificate(pem).notBefore.getTime()).toBeLessThanOrEqual(createdAt - 10_000);
    }
  });
});
