import { X509Certificate, createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DAY, T0, TRUST_DOMAIN, fixture, splitPem } from './helpers.js';

describe('issueListenerCertificate', () => {
  it('issues a P-256 SPIFFE leaf for the component with localhost and 127.0.0.1, chained to the intermediate', async () => {
    const f = fixture();
    const ca = await f.open();
    f.clock.advance(60_000);
    const issued = await ca.issueListenerCertificate({ component: 'admin', ttlMs: DAY });
    expect(issued.spiffeId).toBe(`spiffe://${TRUST_DOMAIN}/gatehouse/admin`);
    const [leafPem, intPem, ...rest] = splitPem(issued.certPem);
    expect(rest).toHaveLength(0);
    const leaf = new X509Certificate(leafPem!);
    const int = new X509Certificate(intPem!);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(int)).toBe(true);
    expect(leaf.verify(int.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe(
      `URI:spiffe://${TRUST_DOMAIN}/gatehouse/admin, DNS:localhost, IP Address:127.0.0.1`,
    );
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(issued.issuedAt).toBe(T0 + 60_000);
    expect(issued.notBefore).toBe(T0 + 60_000 - 10_000);
    expect(issued.notAfter).toBe(T0 + 60_000 + DAY);
    expect(Date.parse(leaf.validFrom)).toBe(issued.notBefore);
    expect(issued.serialNumber).toBe(leaf.serialNumber.toLowerCase());
    // A positive serial of 16 bytes (> 64 bits) without a leading zero byte.
    expect(issued.serialNumber).toMatch(/^[0-7][0-9a-f]{31}$/);
    expect(issued.serialNumber.startsWith('00')).toBe(false);
    // The key is PKCS#8 and matches the leaf.
    expect(issued.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const key = createPrivateKey(issued.keyPem);
    expect(leaf.checkPrivateKey(key)).toBe(true);
  });

  it('never stores the leaf key and gives every certificate a distinct serial', async () => {
    const f = fixture();
    const ca = await f.open();
    const vaultBefore = f.vault.secrets.size;
    const a = await ca.issueListenerCertificate({ component: 'gateway', ttlMs: DAY });
    const b = await ca.issueListenerCertificate({ component: 'gateway', ttlMs: DAY });
    expect(a.serialNumber).not.toBe(b.serialNumber);
    expect(a.keyPem).not.toBe(b.keyPem);
    expect(f.vault.secrets.size).toBe(vaultBefore);
    const everything = JSON.stringify(await f.store.list('pki_authorities'));
    expect(everything).not.toContain(a.serialNumber);
  });

  it('adds extra DNS and IP SANs without duplicates', async () => {
    const ca = await fixture().open();
    const issued = await ca.issueListenerCertificate({
      component: 'gateway',
      dnsNames: ['gw.internal', 'localhost'],
      ipAddresses: ['::1', '127.0.0.1'],
      ttlMs: DAY,
    });
    const leaf = new X509Certificate(splitPem(issued.certPem)[0]!);
    expect(leaf.subjectAltName).toBe(
      `URI:spiffe://${TRUST_DOMAIN}/gatehouse/gateway, DNS:localhost, DNS:gw.internal, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1`,
    );
  });

  it('caps the lifetime at the intermediate notAfter', async () => {
    const f = fixture();
    const ca = await f.open({ intermediateTtlMs: 2 * DAY });
    f.clock.advance(DAY + 1);
    const issued = await ca.issueListenerCertificate({ component: 'admin', ttlMs: 5 * DAY });
    expect(issued.notAfter).toBe(T0 + 2 * DAY);
  });

  it('refuses bad names and lifetimes with ERR_PKI_NAME_INVALID', async () => {
    const ca = await fixture().open();
    for (const request of [
      { component: '../admin', ttlMs: DAY },
      { component: 'a/b', ttlMs: DAY },
      { component: '', ttlMs: DAY },
      { component: 'admin', dnsNames: ['*.example.org'], ttlMs: DAY },
      { component: 'admin', dnsNames: ['bad name'], ttlMs: DAY },
      { component: 'admin', ipAddresses: ['300.1.1.1'], ttlMs: DAY },
      { component: 'admin', ttlMs: 0 },
      { component: 'admin', ttlMs: Number.NaN },
    ]) {
      await expect(ca.issueListenerCertificate(request)).rejects.toMatchObject({ code: 'ERR_PKI_NAME_INVALID' });
    }
  });

  it('refuses to issue once the intermediate has expired', async () => {
    const f = fixture();
    const ca = await f.open({ intermediateTtlMs: DAY });
    f.clock.set(T0 + DAY);
    await expect(ca.issueListenerCertificate({ component: 'admin', ttlMs: DAY })).rejects.toMatchObject({
      code: 'ERR_PKI_CA_INVALID',
    });
  });
});
