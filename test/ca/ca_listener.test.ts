import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN_CALL } from '../../src/http/index.js';
import { validateSvid } from '../../src/pki/index.js';
import { importSigningKey } from '../../src/pki/keys.js';
import type { AuthorityRecord } from '../../src/pki/state.js';
import { x509 } from '../../src/pki/x509.js';
import { fixture, splitPem, TRUST_DOMAIN, exec } from '../pki/helpers.js';
import {
  GARBAGE_EXTENSIONS,
  presentCertificate,
  selfSigned,
  underIntermediate,
  type CraftedCert,
} from '../support/crafted_certs.js';
import { sClient } from '../support/https.js';
import { caHarness, type CaHarness } from './harness.js';

const HOUR = 3_600_000;
const id = (sa: string) => `spiffe://${TRUST_DOMAIN}/ns/prod/sa/${sa}`;

describe('CA listener with real peers (curl, openssl s_client)', () => {
  let h: CaHarness;
  beforeAll(async () => {
    h = await caHarness();
  });
  afterAll(async () => h?.close());

  /** Writes cert (leaf + chain) and key files for `name` from a signed answer. */
  async function keep(name: string, chain: string): Promise<{ cert: string; key: string }> {
    const cert = join(h.dir, `${name}.pem`);
    await writeFile(cert, chain);
    return { cert, key: join(h.dir, `${name}.key`) };
  }

  /** Issues directly through the authority (the clock may be moved first) and keeps the files. */
  async function issued(name: string, spiffeId: string, ttlMs?: number) {
    const csrPem = await h.csr(name);
    const svid = h.authority.issueSvid({ csrPem, spiffeId, dnsNames: ['localhost'], ...(ttlMs ? { ttlMs } : {}) });
    return keep(name, svid.chainPem);
  }

  async function refusedWith(files: { cert: string; key: string }): Promise<Record<string, unknown>> {
    const before = h.lines('client certificate refused').length;
    const res = await h.curl('/v1/ca/bundle.pem', files);
    expect(res.status).toBe(0);
    const lines = h.lines('client certificate refused');
    expect(lines.length).toBe(before + 1);
    return lines[lines.length - 1]!;
  }

  it('signs with a one-time join token, then renews over mTLS with a new key', async () => {
    const { token } = await h.ca.enrollment.createJoinToken(id('api'), 600_000);
    const csr = await h.csr('api');
    // Refused requests do not burn the token.
    for (const json of [
      { csr: 'not a csr', join_token: token },
      { csr, join_token: token, dns_names: ['bad name'] },
      { csr, join_token: token, spiffe_id: 'spiffe://elsewhere.org/ns/a/sa/b' },
      { csr, join_token: token, ttl: '1s' },
    ]) {
      expect((await h.curl('/v1/ca/sign', { json })).status).toBe(400);
    }
    // localhost names the platform listeners (their clients trust this bundle): never in a workload SVID (403, token kept).
    const localhost = await h.curl('/v1/ca/sign', { json: { csr, join_token: token, dns_names: ['localhost'] } });
    expect(localhost.status).toBe(403);
    expect(JSON.parse(localhost.body).code).toBe('ERR_PKI_DNS_NAME_NOT_ALLOWED');
    const signed = await h.curl('/v1/ca/sign', { json: { csr, join_token: token, dns_names: ['api.prod.internal'] } });
    expect(signed.status, signed.output).toBe(200);
    const body = JSON.parse(signed.body);
    expect(body).toMatchObject({ spiffe_id: id('api') });
    expect(splitPem(body.certificate_chain)).toHaveLength(2);
    expect(body.bundle).toBe(h.authority.trustBundlePem());
    expect(Date.parse(body.not_after) - h.f.clock.now()).toBeLessThanOrEqual(24 * HOUR);

    const again = await h.curl('/v1/ca/sign', { json: { csr, join_token: token } });
    expect(again.status).toBe(401);
    expect(JSON.parse(again.body).code).toBe('ERR_PKI_JOIN_TOKEN_INVALID');
    expect(h.lines('CA sign refused').at(-1)).toMatchObject({ code: 'ERR_PKI_JOIN_TOKEN_INVALID' });

    const current = await keep('api', body.certificate_chain);
    const sameKey = await h.curl('/v1/ca/renew', { json: { csr }, ...current });
    expect(JSON.parse(sameKey.body).code).toBe('ERR_PKI_CSR_INVALID');
    const csr2 = await h.csr('api2');
    const renewed = await h.curl('/v1/ca/renew', { json: { csr: csr2 }, ...current });
    expect(renewed.status, renewed.output).toBe(200);
    const next = JSON.parse(renewed.body);
    expect(next.spiffe_id).toBe(id('api'));
    expect(next.serial_number).not.toBe(body.serial_number);
    const leaf = splitPem(next.certificate_chain)[0]!;
    expect(validateSvid(leaf, { trustDomain: TRUST_DOMAIN, now: h.f.clock.now() })).toMatchObject({ valid: true });
    const text = (await exec('openssl', ['x509', '-noout', '-ext', 'subjectAltName'], leaf)).output;
    expect(text).toContain('DNS:api.prod.internal');
  });

  it('serves the bundle as PEM and as a SPIFFE bundle, and the deny list', async () => {
    const pem = await h.curl('/v1/ca/bundle.pem');
    expect(pem.body.trim()).toBe(h.authority.trustBundlePem().trim());
    const json = JSON.parse((await h.curl('/v1/ca/bundle.json')).body);
    expect(json.spiffe_sequence).toBe(1);
    expect(json.spiffe_refresh_hint).toBe(300);
    expect(json.keys).toHaveLength(2);
    for (const key of json.keys) {
      expect(key).toMatchObject({ use: 'x509-svid', kty: 'EC', crv: 'P-256' });
      expect(key.kid).toBeUndefined();
      expect(key.x5c).toHaveLength(1);
    }
    const deny = JSON.parse((await h.curl('/v1/ca/denylist')).body);
    expect(deny).toEqual({ entries: [] });
  });

  it('refuses /sign without a credential, and access tokens until identity is wired', async () => {
    const csr = await h.csr('nocred');
    const none = await h.curl('/v1/ca/sign', { json: { csr } });
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body).code).toBe('ERR_PKI_UNAUTHENTICATED');
    const bearer = await h.curl('/v1/ca/sign', {
      json: { csr, spiffe_id: id('x') },
      header: 'authorization: Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig',
    });
    expect(bearer.status).toBe(501);
    expect(JSON.parse(bearer.body).code).toBe('ERR_PKI_BOOTSTRAP_UNAVAILABLE');
    const bad = await h.curl('/v1/ca/sign', { json: { csr: 'nope', join_token: 'ghj_x' } });
    expect(bad.status).toBe(400);
    // The problem says why, as step-ca does: the reason describes only what the caller sent.
    expect(JSON.parse(bad.body)).toMatchObject({
      code: 'ERR_PKI_CSR_INVALID',
      title: 'Invalid certificate signing request: not a PEM certificate request',
    });
  });

  it('refuses /sign for a CSR with trailing data (in its DER or after its PEM block) and keeps the join token', async () => {
    const { token } = await h.ca.enrollment.createJoinToken(id('trailing'), 600_000);
    const csr = await h.csr('trailing');
    const der = Buffer.concat([Buffer.from(csr.replace(/-----[^-]+-----|\s/g, ''), 'base64'), Buffer.from([0, 0])]);
    const derPlus = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    for (const [sent, reason] of [
      [derPlus, 'trailing data after the CSR'],
      [`${csr}junk\n`, 'trailing data after the PEM END line'],
      [csr + csr, 'more than one PEM block (send one CERTIFICATE REQUEST)'],
    ] as const) {
      const res = await h.curl('/v1/ca/sign', { json: { csr: sent, join_token: token } });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toMatchObject({
        code: 'ERR_PKI_CSR_INVALID',
        title: `Invalid certificate signing request: ${reason}`,
      });
    }
    const signed = await h.curl('/v1/ca/sign', { json: { csr, join_token: token } });
    expect(signed.status, signed.output).toBe(200);
  });

  it('refuses /renew without a client certificate, with a log line', async () => {
    const res = await h.curl('/v1/ca/renew', { json: { csr: await h.csr('anon') } });
    expect(res.status).toBe(401);
    expect(h.lines('CA renew refused').at(-1)).toMatchObject({ reason: 'no client certificate' });
  });

  it('refuses a certificate from another CA (openssl s_client as the peer)', async () => {
    const other = await fixture(h.f.clock.now()).open(); // on the listener's clock: a slow run must not make it not-yet-valid
    const csrPem = await h.csr('foreign');
    const svid = other.issueSvid({ csrPem, spiffeId: id('api') });
    const files = await keep('foreign', svid.chainPem);
    const before = h.lines('client certificate refused').length;
    const res = await sClient(h.port, [
      '-tls1_3',
      '-CAfile',
      h.bundleFile,
      '-cert',
      files.cert,
      '-key',
      files.key,
      '-cert_chain',
      files.cert,
    ]);
    expect(res.output).not.toMatch(/Verify return code: [1-9]/); // the server's certificate is fine
    // The server judges the certificate when it sees the handshake finish, which may be after s_client has exited.
    for (let i = 0; i < 200 && h.lines('client certificate refused').length <= before; i += 1) {
      await new Promise((r) => setTimeout(r, 25));
    }
    const line = h.lines('client certificate refused')[before];
    expect(line).toMatchObject({ listener: 'ca', reason: 'untrusted_chain', svid: 'ok' });
    expect(String(line?.tlsError)).toMatch(/ISSUER|SELF_SIGNED|UNABLE/);
  });

  it('refuses an expired and a not-yet-valid certificate', async () => {
    const now = h.f.clock.now();
    h.f.clock.set(now - 2 * HOUR);
    const expired = await issued('expired', id('old'), HOUR);
    h.f.clock.set(now + HOUR);
    const future = await issued('future', id('future'));
    h.f.clock.set(now);
    expect(await refusedWith(expired)).toMatchObject({
      reason: 'untrusted_chain',
      tlsError: 'CERT_HAS_EXPIRED',
      svid: 'expired',
    });
    expect(await refusedWith(future)).toMatchObject({
      reason: 'untrusted_chain',
      tlsError: 'CERT_NOT_YET_VALID',
      svid: 'not_yet_valid',
    });
  });

  it('refuses two URI SANs and a name-constraint violation signed by our own intermediate', async () => {
    const record = (await h.f.store.get<AuthorityRecord>('pki_authorities', 'platform'))!.value;
    const int = record.intermediates[0]!;
    const issuer = new x509.X509Certificate(int.certPem);
    const signingKey = await importSigningKey((await h.f.vault.getSecret(int.keySecret))!);
    const forge = async (name: string, uris: string[]) => {
      await h.csr(name);
      const keyPem = await readFile(join(h.dir, `${name}.key`), 'utf8');
      const { createPrivateKey, createPublicKey, webcrypto } = await import('node:crypto');
      const spki = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
      const publicKey = await webcrypto.subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve: 'P-256' }, true, [
        'verify',
      ]);
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: '7f01',
        subject: '',
        issuer: issuer.subjectName,
        notBefore: new Date(h.f.clock.now() - 60_000),
        notAfter: new Date(h.f.clock.now() + HOUR),
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        publicKey,
        signingKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
          new x509.SubjectAlternativeNameExtension(
            uris.map((value) => ({ type: 'url' as const, value })),
            true,
          ),
        ],
      });
      return keep(name, cert.toString('pem') + '\n' + int.certPem);
    };
    const two = await forge('two', [id('a'), id('b')]);
    expect(await refusedWith(two)).toMatchObject({ reason: 'multiple_uri_sans' });
    const evil = await forge('evil', ['spiffe://evil.org/ns/prod/sa/api']);
    expect(await refusedWith(evil)).toMatchObject({ reason: 'untrusted_chain', svid: 'foreign_trust_domain' });
  });

  it('refuses certificates whose extensions cannot be decoded, stays up, and serves a good client after', async () => {
    // These used to throw from the secureConnection handler and end the process.
    const refusal = async (cert: CraftedCert) => {
      const before = h.lines('client certificate refused').length;
      expect(await presentCertificate(h.port, cert)).toEqual({ handshake: true, answer: '' });
      const lines = h.lines('client certificate refused');
      expect(lines.length).toBe(before + 1);
      return lines.at(-1);
    };
    expect(await refusal(await selfSigned([GARBAGE_EXTENSIONS.san()]))).toMatchObject({
      listener: 'ca',
      reason: 'untrusted_chain',
      svid: 'malformed',
    });
    const ours = await underIntermediate({ store: h.f.store, vault: h.f.vault }, [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      GARBAGE_EXTENSIONS.sanX400(),
    ]);
    expect(await refusal(ours)).toMatchObject({ listener: 'ca', reason: 'malformed' });
    const good = await issued('after-garbage', id('after-garbage'));
    const res = await h.curl('/v1/ca/bundle.pem', good);
    expect(res.status, res.output).toBe(200);
    expect(h.lines('connection closed: its handler failed')).toEqual([]);
  });

  it('refuses a revoked identity at the handshake and at /renew, and lists it', async () => {
    const files = await issued('revoked', id('revoked'));
    const ok = await h.curl('/v1/ca/bundle.pem', files);
    expect(ok.status).toBe(200);
    await h.ca.admin.revoke(ADMIN_TOKEN_CALL, id('revoked'));
    expect(await refusedWith(files)).toMatchObject({ reason: 'revoked', spiffeId: id('revoked') });
    const deny = JSON.parse((await h.curl('/v1/ca/denylist')).body);
    expect(deny.entries).toEqual([expect.objectContaining({ spiffe_id: id('revoked') })]);
    const pem = await readFile(files.cert, 'utf8');
    await expect(
      h.ca.enrollment.renew(
        { csrPem: await h.csr('revoked2') },
        Buffer.from(new x509.X509Certificate(splitPem(pem)[0]!).rawData),
      ),
    ).rejects.toMatchObject({ code: 'ERR_PKI_REVOKED' });
    // A join token for it is refused, and the answer says when the entry ends (as the deny list does).
    const entry = deny.entries[0] as { revoked_at: string; expires_at: string };
    await expect(h.ca.enrollment.createJoinToken(id('revoked'), 600_000)).rejects.toMatchObject({
      code: 'ERR_PKI_REVOKED',
      message: `This identity is revoked (at ${entry.revoked_at}); it may enroll again from ${entry.expires_at}`,
    });
  });

  it('refuses TLS 1.2 with a warn line', async () => {
    const before = h.lines('TLS handshake refused').length;
    const res = await sClient(h.port, ['-tls1_2', '-CAfile', h.bundleFile]);
    expect(res.output).toMatch(/alert|error/i);
    const line = h.lines('TLS handshake refused')[before];
    expect(line).toMatchObject({ level: 'warn', listener: 'ca' });
    expect(line).toMatchObject({ code: 'ERR_SSL_UNSUPPORTED_PROTOCOL' });
    expect(String(line?.why)).toContain('TLS versions below 1.3');
  });
});
