import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Authority } from '../../src/pki/index.js';
import { parseSpiffeId, parseWorkloadSpiffeId } from '../../src/pki/spiffe_id.js';
import { validateSvid, type SvidRejection } from '../../src/pki/svid.js';
import { generateP256KeyPair, importSigningKey, type CryptoKey, type CryptoKeyPair } from '../../src/pki/keys.js';
import type { AuthorityRecord } from '../../src/pki/state.js';
import { x509 } from '../../src/pki/x509.js';
import { GARBAGE_EXTENSIONS, selfSigned } from '../support/crafted_certs.js';
import { DAY, TRUST_DOMAIN, exec, fixture, splitPem, tempFiles } from './helpers.js';

const ID = `spiffe://${TRUST_DOMAIN}/ns/prod/sa/api`;

async function opensslCsr(dir: string, curve = 'P-256'): Promise<string> {
  const args =
    curve === 'ed25519'
      ? ['req', '-new', '-newkey', 'ed25519', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/req.csr`]
      : ['req', '-new', '-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-nodes'].concat([
          '-keyout',
          `${dir}/key.pem`,
          '-out',
          `${dir}/req.csr`,
        ]);
  const res = await exec('openssl', [
    ...args,
    '-subj',
    '/CN=ignored',
    '-addext',
    'subjectAltName=URI:spiffe://evil.org/x,DNS:evil.example',
  ]);
  expect(res.code, res.output).toBe(0);
  return readFile(`${dir}/req.csr`, 'utf8');
}

describe('SPIFFE IDs', () => {
  it('parses workload IDs and refuses other shapes', () => {
    expect(parseWorkloadSpiffeId(ID, TRUST_DOMAIN)).toMatchObject({ namespace: 'prod', serviceAccount: 'api' });
    for (const bad of [
      `spiffe://${TRUST_DOMAIN}/`,
      `spiffe://${TRUST_DOMAIN}`,
      `spiffe://${TRUST_DOMAIN}/ns/prod/sa/api/`,
      `spiffe://${TRUST_DOMAIN}/ns/prod/sa/api?x=1`,
      `spiffe://${TRUST_DOMAIN}/ns/prod/sa/api#f`,
      `spiffe://user@${TRUST_DOMAIN}/ns/a/sa/b`,
      `spiffe://${TRUST_DOMAIN}:443/ns/a/sa/b`,
      `spiffe://${TRUST_DOMAIN}/ns/../sa/b`,
      `SPIFFE://${TRUST_DOMAIN}/ns/a/sa/b`,
      `spiffe://Upper.org/ns/a/sa/b`,
      `https://${TRUST_DOMAIN}/ns/a/sa/b`,
      `spiffe://${TRUST_DOMAIN}/` + 'a'.repeat(2048),
    ]) {
      expect(() => parseSpiffeId(bad), bad).toThrow();
    }
    // SPIFFE-ID.md: IDs up to 2048 bytes must be handled; trust domains up to 255 bytes.
    const prefix = `spiffe://${TRUST_DOMAIN}/`;
    const longest = prefix + 'a/'.repeat((2048 - prefix.length) / 2 - 1) + 'ab';
    expect(Buffer.byteLength(longest)).toBe(2048);
    expect(parseSpiffeId(longest).path).toHaveLength(2048 - prefix.length + 1);
    expect(() => parseSpiffeId(`${longest}c`)).toThrow();
    expect(parseSpiffeId(`spiffe://${'d'.repeat(255)}/w`).trustDomain).toHaveLength(255);
    expect(() => parseSpiffeId(`spiffe://${'d'.repeat(256)}/w`)).toThrow();
    expect(() => parseWorkloadSpiffeId(`spiffe://${TRUST_DOMAIN}/web`, TRUST_DOMAIN)).toThrow(/ns\/<namespace>/);
    expect(() => parseWorkloadSpiffeId('spiffe://other.org/ns/a/sa/b', TRUST_DOMAIN)).toThrow(/trust domain/);
  });
});

describe('SVID issuance from a CSR', () => {
  let ca: Authority;
  let files: Awaited<ReturnType<typeof tempFiles>>;
  let record: AuthorityRecord;
  const f = fixture(Date.now());

  beforeAll(async () => {
    ca = await f.open();
    record = (await f.store.get<AuthorityRecord>('pki_authorities', 'platform'))!.value;
    files = await tempFiles({ 'bundle.pem': ca.trustBundlePem(), 'root.pem': record.roots[0]!.certPem });
  });
  afterAll(async () => files?.cleanup());

  it('signs an openssl P-256 CSR with only the authorized names, and openssl verifies it', async () => {
    const csrPem = await opensslCsr(files.dir);
    const svid = ca.issueSvid({ csrPem, spiffeId: ID, dnsNames: ['api.prod.svc'] });
    expect(svid.spiffeId).toBe(ID);
    expect(svid.notAfter - f.clock.now()).toBeLessThanOrEqual(DAY);
    expect(f.clock.now() - svid.notBefore).toBeGreaterThanOrEqual(9_000);
    const verdict = validateSvid(svid.certificatePem, { trustDomain: TRUST_DOMAIN, now: f.clock.now() });
    expect(verdict).toMatchObject({ valid: true, spiffeId: ID });
    const [leaf, intermediate] = splitPem(svid.chainPem);
    await import('node:fs/promises').then((fs) =>
      Promise.all([fs.writeFile(files.path('leaf.pem'), leaf!), fs.writeFile(files.path('int.pem'), intermediate!)]),
    );
    const res = await exec('openssl', [
      'verify',
      '-x509_strict',
      '-purpose',
      'sslclient',
      '-CAfile',
      files.path('root.pem'),
      '-untrusted',
      files.path('int.pem'),
      files.path('leaf.pem'),
    ]);
    expect(res.output).toContain('leaf.pem: OK');
    const text = (await exec('openssl', ['x509', '-in', files.path('leaf.pem'), '-noout', '-text'])).output;
    expect(text).toContain(`URI:${ID}`);
    expect(text).toContain('DNS:api.prod.svc');
    expect(text).not.toContain('evil');
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/CA:FALSE/);
    expect(text).toContain('TLS Web Server Authentication, TLS Web Client Authentication');
    // The key in the certificate is the CSR's.
    const keyPub = (await exec('openssl', ['pkey', '-in', files.path('key.pem'), '-pubout'])).output;
    const certPub = (await exec('openssl', ['x509', '-in', files.path('leaf.pem'), '-noout', '-pubkey'])).output;
    expect(certPub).toBe(keyPub);
  });

  it('accepts Ed25519 CSRs and refuses P-384, RSA, tampered and garbage CSRs', async () => {
    const ed = await opensslCsr(files.dir, 'ed25519');
    expect(ca.issueSvid({ csrPem: ed, spiffeId: ID }).spiffeId).toBe(ID);
    const p384 = await opensslCsr(files.dir, 'P-384');
    // The caller is told why (the problem title), not only that the CSR is invalid.
    expect(() => ca.issueSvid({ csrPem: p384, spiffeId: ID })).toThrow(
      expect.objectContaining({
        code: 'ERR_PKI_CSR_INVALID',
        message: 'Invalid certificate signing request: CSR EC key is not on P-256',
      }),
    );
    const rsa = await exec('openssl', [
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      files.path('rsa.key'),
      '-out',
      files.path('rsa.csr'),
      '-subj',
      '/CN=x',
    ]);
    expect(rsa.code, rsa.output).toBe(0);
    // The request alone: stdout and stderr together hold openssl's key generation progress after the END line.
    const rsaCsr = await readFile(files.path('rsa.csr'), 'utf8');
    expect(() => ca.issueSvid({ csrPem: rsaCsr, spiffeId: ID })).toThrow(
      expect.objectContaining({
        code: 'ERR_PKI_CSR_INVALID',
        message: 'Invalid certificate signing request: unsupported CSR key type rsa (EC P-256 or Ed25519 only)',
      }),
    );
    const p256 = await opensslCsr(files.dir);
    const der = Buffer.from(p256.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 40]! ^= 0x01;
    expect(() => ca.issueSvid({ csrDer: der, spiffeId: ID })).toThrow(
      expect.objectContaining({ code: 'ERR_PKI_CSR_INVALID' }),
    );
    expect(() => ca.issueSvid({ csrPem: 'hello', spiffeId: ID })).toThrow(
      expect.objectContaining({
        code: 'ERR_PKI_CSR_INVALID',
        message: 'Invalid certificate signing request: not a PEM certificate request',
      }),
    );
    // A flipped bit in the signature itself: parsed fine, proof of possession fails.
    const sigFlipped = Buffer.from(p256.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    sigFlipped[sigFlipped.length - 5]! ^= 0x01;
    expect(() => ca.issueSvid({ csrDer: sigFlipped, spiffeId: ID })).toThrow(
      expect.objectContaining({
        code: 'ERR_PKI_CSR_INVALID',
        message: 'Invalid certificate signing request: CSR signature does not verify',
      }),
    );
    expect(() => ca.issueSvid({ csrPem: p256, spiffeId: 'spiffe://other.org/ns/a/sa/b' })).toThrow(
      expect.objectContaining({ code: 'ERR_PKI_NAME_INVALID' }),
    );
  });

  it('caps the lifetime at the maximum', async () => {
    const csrPem = await opensslCsr(files.dir);
    const svid = ca.issueSvid({ csrPem, spiffeId: ID, ttlMs: 30 * DAY });
    expect(svid.notAfter).toBeLessThanOrEqual(f.clock.now() + DAY);
  });
});

describe('validateSvid: every rule', () => {
  const now = Date.parse('2026-03-01T00:00:00Z');
  let signingKey: CryptoKey;
  let issuer: x509.X509Certificate;
  let leafKeys: CryptoKeyPair;

  beforeAll(async () => {
    const f = fixture(now);
    await f.open();
    const record = (await f.store.get<AuthorityRecord>('pki_authorities', 'platform'))!.value;
    const int = record.intermediates[0]!;
    issuer = new x509.X509Certificate(int.certPem);
    signingKey = await importSigningKey((await f.vault.getSecret(int.keySecret))!);
    leafKeys = await generateP256KeyPair();
  });

  interface Shape {
    subject?: string;
    notBefore?: number;
    notAfter?: number;
    ca?: boolean;
    keyUsage?: number | null;
    keyUsageCritical?: boolean;
    eku?: string[] | null;
    uris?: string[];
    sanCritical?: boolean;
  }

  async function make(shape: Shape): Promise<x509.X509Certificate> {
    const uris = shape.uris ?? [ID];
    const exts: x509.Extension[] = [new x509.BasicConstraintsExtension(shape.ca ?? false, undefined, true)];
    if (shape.keyUsage !== null) {
      exts.push(
        new x509.KeyUsagesExtension(
          shape.keyUsage ?? x509.KeyUsageFlags.digitalSignature,
          shape.keyUsageCritical ?? true,
        ),
      );
    }
    if (shape.eku !== null) {
      exts.push(
        new x509.ExtendedKeyUsageExtension(
          shape.eku ?? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
        ),
      );
    }
    const names = [
      ...uris.map((value) => ({ type: 'url' as const, value })),
      { type: 'dns' as const, value: 'a.test' },
    ];
    exts.push(new x509.SubjectAlternativeNameExtension(names, shape.sanCritical ?? true));
    return x509.X509CertificateGenerator.create({
      serialNumber: '01',
      subject: shape.subject ?? '',
      issuer: issuer.subjectName,
      notBefore: new Date(shape.notBefore ?? now - 1000),
      notAfter: new Date(shape.notAfter ?? now + DAY),
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      publicKey: leafKeys.publicKey,
      signingKey,
      extensions: exts,
    });
  }

  const cases: Array<[SvidRejection, Shape]> = [
    ['not_yet_valid', { notBefore: now + 60_000 }],
    ['expired', { notBefore: now - DAY, notAfter: now }],
    ['ca_certificate', { ca: true }],
    ['key_usage_missing', { keyUsage: null }],
    ['key_usage_not_critical', { keyUsageCritical: false }],
    ['key_usage_no_digital_signature', { keyUsage: x509.KeyUsageFlags.keyEncipherment }],
    ['key_usage_cert_sign', { keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign }],
    ['key_usage_cert_sign', { keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.cRLSign }],
    ['eku_incomplete', { eku: [x509.ExtendedKeyUsage.serverAuth] }],
    ['no_uri_san', { uris: [] }],
    ['multiple_uri_sans', { uris: [ID, `spiffe://${TRUST_DOMAIN}/ns/prod/sa/other`] }],
    ['invalid_spiffe_id', { uris: [`spiffe://${TRUST_DOMAIN}/`] }],
    ['invalid_spiffe_id', { uris: [`https://${TRUST_DOMAIN}/ns/a/sa/b`] }],
    ['foreign_trust_domain', { uris: ['spiffe://evil.org/ns/prod/sa/api'] }],
    ['san_not_critical', { sanCritical: false }],
  ];

  it('accepts a conforming SVID (EKU optional, subject allowed)', async () => {
    expect(validateSvid(await make({}), { trustDomain: TRUST_DOMAIN, now })).toMatchObject({
      valid: true,
      spiffeId: ID,
    });
    expect(validateSvid(await make({ eku: null }), { trustDomain: TRUST_DOMAIN, now }).valid).toBe(true);
    expect(
      validateSvid(await make({ subject: 'CN=api', sanCritical: false }), { trustDomain: TRUST_DOMAIN, now }).valid,
    ).toBe(true);
  });

  it.each(cases)('refuses with reason %s', async (reason, shape) => {
    const cert = await make(shape);
    const verdict = validateSvid(Buffer.from(cert.rawData), { trustDomain: TRUST_DOMAIN, now });
    expect(verdict).toMatchObject({ valid: false, reason });
  });

  it('refuses garbage as malformed', () => {
    expect(validateSvid(Buffer.from('nope'), { trustDomain: TRUST_DOMAIN, now })).toMatchObject({
      reason: 'malformed',
    });
  });
});

describe('validateSvid on certificates whose extensions cannot be decoded', () => {
  it('answers malformed, never throws, for every garbage extension (DER, PEM or parsed)', async () => {
    for (const [name, garbage] of Object.entries(GARBAGE_EXTENSIONS)) {
      const crafted = await selfSigned([garbage()]);
      for (const input of [crafted.der, crafted.certPem, new x509.X509Certificate(crafted.der)]) {
        expect(validateSvid(input, { trustDomain: TRUST_DOMAIN, now: Date.now() }), name).toEqual({
          valid: false,
          reason: 'malformed',
          message: 'the certificate or one of its extensions cannot be decoded',
        });
      }
    }
  });
});
