import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryLogger } from '../../src/core/index.js';
import { AUTHORITY_COLLECTION, Authority, createCsr } from '../../src/pki/index.js';
import type { AuthorityRecord } from '../../src/pki/state.js';
import { DAY, T0, TRUST_DOMAIN, fixture, splitPem } from './helpers.js';

const csr = () => createCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);

async function storedRecord(f: ReturnType<typeof fixture>): Promise<AuthorityRecord> {
  const rec = await f.store.get<AuthorityRecord>(AUTHORITY_COLLECTION, 'platform');
  if (!rec) throw new Error('no CA record');
  return rec.value;
}

describe('Authority.open', () => {
  it('creates a root and an intermediate on first open, keys in the vault and certificates in the store', async () => {
    const f = fixture();
    const logger = new MemoryLogger();
    await f.open({ logger });
    const record = await storedRecord(f);
    expect(record.trustDomain).toBe(TRUST_DOMAIN);
    expect(record.roots).toHaveLength(1);
    expect(record.intermediates).toHaveLength(1);
    const [root, intermediate] = [record.roots[0]!, record.intermediates[0]!];
    expect(root.keySecret).toBe(`pki/root/${root.id}`);
    expect(intermediate.keySecret).toBe(`pki/intermediate/${intermediate.id}`);
    expect([...f.vault.secrets.keys()].sort()).toEqual([intermediate.keySecret, root.keySecret].sort());
    // The stored record holds no private key material.
    expect(JSON.stringify(record)).not.toMatch(/PRIVATE KEY/);
    const rootCert = new X509Certificate(root.certPem);
    const intCert = new X509Certificate(intermediate.certPem);
    expect(rootCert.subject).toBe(`CN=gatehouse root CA\nO=gatehouse\nOU=${TRUST_DOMAIN}`);
    expect(rootCert.ca).toBe(true);
    expect(rootCert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    // Valid until now + ttl, from now backdated 10 s for clock skew (as the leaves).
    expect(Date.parse(rootCert.validTo)).toBe(T0 + 3650 * DAY);
    expect(Date.parse(intCert.validTo)).toBe(T0 + 365 * DAY);
    expect(Date.parse(rootCert.validFrom)).toBe(T0 - 10_000);
    expect(Date.parse(intCert.validFrom)).toBe(T0 - 10_000);
    expect(intCert.checkIssued(rootCert)).toBe(true);
    expect(intCert.verify(rootCert.publicKey)).toBe(true);
    expect(root.serialNumber).toBe(rootCert.serialNumber.toLowerCase());
    expect(logger.lines.some((l) => l.msg === 'created the certificate authority')).toBe(true);
    expect(JSON.stringify(logger.lines)).not.toMatch(/PRIVATE KEY/);
  });

  it('loads the same CA on a later open', async () => {
    const f = fixture();
    const first = await f.open();
    const before = await storedRecord(f);
    f.clock.advance(DAY);
    const second = await f.open();
    expect(await storedRecord(f)).toEqual(before);
    expect(second.trustBundlePem()).toBe(first.trustBundlePem());
    expect(f.vault.secrets.size).toBe(2);
    const leaf = await second.issueListenerCertificate({ component: 'admin', ttlMs: DAY });
    const [, chainInt] = splitPem(leaf.certPem);
    expect(new X509Certificate(chainInt!).serialNumber.toLowerCase()).toBe(before.intermediates[0]!.serialNumber);
  });

  it('creates exactly one CA when two processes open at once', async () => {
    const f = fixture();
    const [a, b] = await Promise.all([f.open(), f.open()]);
    expect(a.trustBundlePem()).toBe(b.trustBundlePem());
    expect((await f.store.list(AUTHORITY_COLLECTION)).length).toBe(1);
  });

  it('refuses a vault key that does not match the certificate (ERR_PKI_CA_INVALID)', async () => {
    const f = fixture();
    await f.open();
    const record = await storedRecord(f);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    f.vault.secrets.set(record.intermediates[0]!.keySecret, other.export({ type: 'pkcs8', format: 'der' }));
    await expect(f.open()).rejects.toMatchObject({ code: 'ERR_PKI_CA_INVALID' });
  });

  it('refuses a swapped root key, a missing key and a key that is not PKCS#8', async () => {
    const f = fixture();
    await f.open();
    const record = await storedRecord(f);
    const rootKey = f.vault.secrets.get(record.roots[0]!.keySecret)!;
    const intKey = f.vault.secrets.get(record.intermediates[0]!.keySecret)!;
    f.vault.secrets.set(record.roots[0]!.keySecret, intKey);
    await expect(f.open()).rejects.toMatchObject({ code: 'ERR_PKI_CA_INVALID' });
    f.vault.secrets.set(record.roots[0]!.keySecret, rootKey);
    f.vault.secrets.delete(record.intermediates[0]!.keySecret);
    await expect(f.open()).rejects.toMatchObject({ code: 'ERR_PKI_CA_INVALID' });
    f.vault.secrets.set(record.intermediates[0]!.keySecret, Buffer.from('not a key'));
    await expect(f.open()).rejects.toMatchObject({ code: 'ERR_PKI_CA_INVALID' });
    f.vault.secrets.set(record.intermediates[0]!.keySecret, intKey);
    await expect(f.open()).resolves.toBeInstanceOf(Authority);
    // The error never carries key material.
    f.vault.secrets.set(record.intermediates[0]!.keySecret, rootKey);
    const err = (await f.open().then(
      () => new Error('opened'),
      (e: unknown) => e,
    )) as Error & { detail?: string };
    expect(`${err.message} ${err.detail}`).not.toMatch(/PRIVATE KEY|MIG/);
    expect(() => createPrivateKey({ key: rootKey, format: 'der', type: 'pkcs8' })).not.toThrow();
  });

  it('refuses another trust domain over the stored CA, and a malformed trust domain', async () => {
    const f = fixture();
    await f.open();
    await expect(f.open({ trustDomain: 'other.test' })).rejects.toMatchObject({ code: 'ERR_PKI_CA_INVALID' });
    await expect(fixture().open({ trustDomain: 'Bad Domain' })).rejects.toMatchObject({ code: 'ERR_PKI_NAME_INVALID' });
  });

  // An intermediate that expired while the CA was stopped used to make every later open fail (ERR_PKI_CA_INVALID) with
  // no way to repair it, since `ca rotate` needs the running CA. With a valid root whose key is held, open repairs it.
  describe('once the active intermediate has expired (no rotation ran)', () => {
    const replaced = (logger: MemoryLogger) => logger.lines.filter((l) => l['event'] === 'ca_intermediate_replaced');

    it('replaces it under the root at open, loudly, and signs certificates that chain to the new bundle', async () => {
      const f = fixture();
      const first = await f.open({ intermediateTtlMs: 2 * DAY });
      const old = first.status().intermediate.serialNumber;
      const sequence = first.bundleSequence;
      const quiet = new MemoryLogger();
      f.clock.set(T0 + 2 * DAY - 1); // just before: nothing to repair
      await f.open({ intermediateTtlMs: 2 * DAY, logger: quiet });
      expect(replaced(quiet)).toEqual([]);

      f.clock.set(T0 + 2 * DAY); // at expiry
      const logger = new MemoryLogger();
      const ca = await f.open({ intermediateTtlMs: 2 * DAY, logger });
      expect(replaced(logger)).toEqual([
        expect.objectContaining({ level: 'warn', expired: old, bundleSequence: expect.any(Number) }),
      ]);
      expect(String(replaced(logger)[0]?.msg)).toMatch(/^THE ACTIVE CA INTERMEDIATE HAD EXPIRED/);
      const record = await storedRecord(f);
      expect(record.intermediates.map((i) => i.serialNumber)).toEqual([ca.status().intermediate.serialNumber]);
      expect(ca.status().intermediate.serialNumber).not.toBe(old);
      expect(record.intermediates[0]!.notAfter).toBe(T0 + 4 * DAY);
      expect(record.retiring ?? []).toEqual([]);
      expect(ca.bundleSequence).toBeGreaterThan(sequence);

      const svid = ca.issueSvid({ csrPem: csr(), spiffeId: `spiffe://${TRUST_DOMAIN}/ns/a/sa/b` });
      const [root, intermediate] = splitPem(ca.trustBundlePem()).map((pem) => new X509Certificate(pem));
      const leaf = new X509Certificate(svid.certificatePem);
      expect(intermediate!.serialNumber.toLowerCase()).toBe(ca.status().intermediate.serialNumber);
      expect(leaf.checkIssued(intermediate!) && leaf.verify(intermediate!.publicKey)).toBe(true);
      expect(intermediate!.checkIssued(root!) && intermediate!.verify(root!.publicKey)).toBe(true);

      const again = new MemoryLogger(); // repaired once: a later open just loads it
      await f.open({ intermediateTtlMs: 2 * DAY, logger: again });
      expect(replaced(again)).toEqual([]);
    });

    it('activates a prepared next intermediate that is still valid instead of making another', async () => {
      const f = fixture();
      const ca = await f.open({ intermediateTtlMs: 10 * DAY, activationDelayMs: 3 * DAY });
      f.clock.set(T0 + 6 * DAY);
      await ca.rotate(); // prepares the next intermediate (valid until day 16), activating on day 9
      const prepared = (await storedRecord(f)).next!.intermediateId;
      f.clock.set(T0 + 10 * DAY); // the CA was stopped from day 6: activation never ran, the active one expired
      const logger = new MemoryLogger();
      const reopened = await f.open({ intermediateTtlMs: 10 * DAY, logger });
      const record = await storedRecord(f);
      expect(record.activeIntermediateId).toBe(prepared);
      expect(record.intermediates.map((i) => i.id)).toEqual([prepared]);
      expect(reopened.status().intermediate.serialNumber).toBe(record.intermediates[0]!.serialNumber);
      expect(replaced(logger)).toHaveLength(1);
    });

    it('repairs once when two processes open at the same time', async () => {
      const f = fixture();
      await f.open({ intermediateTtlMs: 2 * DAY });
      f.clock.set(T0 + 3 * DAY);
      const loggers = [new MemoryLogger(), new MemoryLogger()];
      const [a, b] = await Promise.all(loggers.map((logger) => f.open({ intermediateTtlMs: 2 * DAY, logger })));
      expect(a!.status().intermediate.serialNumber).toBe(b!.status().intermediate.serialNumber);
      expect(loggers.flatMap(replaced)).toHaveLength(1);
      expect((await storedRecord(f)).intermediates).toHaveLength(1);
    });

    it('still refuses when the root has expired too, or its key is gone', async () => {
      const f = fixture();
      await f.open({ rootTtlMs: 5 * DAY, intermediateTtlMs: 2 * DAY });
      f.clock.set(T0 + 5 * DAY);
      await expect(f.open({ rootTtlMs: 5 * DAY })).rejects.toMatchObject({ code: 'ERR_PKI_CA_INVALID' });

      const g = fixture();
      await g.open({ intermediateTtlMs: 2 * DAY });
      const rootSecret = (await storedRecord(g)).roots[0]!.keySecret;
      g.vault.secrets.delete(rootSecret);
      g.clock.set(T0 + 2 * DAY);
      await expect(g.open()).rejects.toMatchObject({ code: 'ERR_PKI_CA_INVALID' });
      expect((await storedRecord(g)).intermediates).toHaveLength(1);
    });
  });

  it('caps the intermediate at the root lifetime', async () => {
    const f = fixture();
    await f.open({ rootTtlMs: 10 * DAY, intermediateTtlMs: 365 * DAY });
    const record = await storedRecord(f);
    expect(record.intermediates[0]!.notAfter).toBe(record.roots[0]!.notAfter);
  });
});

describe('trustBundlePem', () => {
  it('holds the root and the live intermediate', async () => {
    const f = fixture();
    const ca = await f.open();
    const record = await storedRecord(f);
    const certs = splitPem(ca.trustBundlePem()).map((pem) => new X509Certificate(pem).serialNumber.toLowerCase());
    expect(certs).toEqual([record.roots[0]!.serialNumber, record.intermediates[0]!.serialNumber]);
  });
});
