import { createHash, X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { newKeyAndCsr, PeerChecker } from '../../src/mesh/index.js';
import type { RevokedIdentity } from '../../src/pki/index.js';
import { id, meshCa, TD } from './helpers.js';

// PeerChecker on its own: the same verdicts whether the caller passes Node's getPeerCertificate() object (whose
// SHA-256 fingerprint keys the cache) or only the DER, and time and deny list re-checked on every call even when the
// SVID parse comes from the cache.
describe('PeerChecker', () => {
  let der: Buffer;
  let nodeFingerprint: string;
  let notBefore: number;
  let notAfter: number;
  const x5t = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64url');

  beforeAll(async () => {
    const ca = await meshCa();
    const { csrPem } = await newKeyAndCsr();
    const svid = ca.authority.issueSvid({ csrPem, spiffeId: id('frontend') });
    const cert = new X509Certificate(svid.certificatePem);
    der = cert.raw;
    nodeFingerprint = cert.fingerprint256;
    ({ notBefore, notAfter } = svid);
  });

  function checker(clock: ManualClock, denied: RevokedIdentity[] = []) {
    return new PeerChecker({ trustDomain: TD, clock, denyList: () => denied });
  }

  it('admits the same peer from a getPeerCertificate() object and from the DER alone', () => {
    const clock = new ManualClock(notBefore + 60_000);
    const fromNode = checker(clock).check({ raw: der, fingerprint256: nodeFingerprint }, true);
    const fromDer = checker(clock).check({ raw: der }, true);
    expect(fromNode).toEqual(fromDer);
    expect(fromNode.ok && fromNode.peer).toMatchObject({ spiffeId: id('frontend'), fingerprint: x5t(der) });
  });

  it('refuses a missing certificate and an unverified chain (naming the SPIFFE ID it read)', () => {
    const c = checker(new ManualClock(notBefore + 60_000));
    expect(c.check({}, false)).toEqual({ ok: false, reason: 'no_certificate' });
    expect(c.check(undefined, true)).toEqual({ ok: false, reason: 'no_certificate' });
    expect(c.check({ raw: der, fingerprint256: nodeFingerprint }, false, 'UNABLE_TO_GET_ISSUER_CERT')).toEqual({
      ok: false,
      reason: 'untrusted_chain',
      tlsError: 'UNABLE_TO_GET_ISSUER_CERT',
      spiffeId: id('frontend'),
    });
  });

  it('checks validity and the deny list on every call, cached parse or not', () => {
    const clock = new ManualClock(notBefore + 60_000);
    const denied: RevokedIdentity[] = [];
    const c = checker(clock, denied);
    const cert = { raw: der, fingerprint256: nodeFingerprint };
    expect(c.check(cert, true).ok).toBe(true);
    denied.push({ spiffeId: id('frontend'), revokedAt: notBefore, expiresAt: notAfter });
    expect(c.check(cert, true)).toMatchObject({ ok: false, reason: 'revoked' });
    denied.pop();
    clock.set(notAfter);
    expect(c.check(cert, true)).toMatchObject({ ok: false, reason: 'expired' });
    clock.set(notBefore - 1);
    expect(c.check(cert, true)).toMatchObject({ ok: false, reason: 'not_yet_valid' });
  });

  it('keys the cache by certificate: another SVID (another trust domain) gets its own verdict', async () => {
    const ca = await meshCa({ trustDomain: 'other.test' });
    const { csrPem } = await newKeyAndCsr();
    const foreign = new X509Certificate(
      ca.authority.issueSvid({ csrPem, spiffeId: 'spiffe://other.test/ns/a/sa/b' }).certificatePem,
    );
    const c = checker(new ManualClock(notBefore + 60_000));
    expect(c.check({ raw: der, fingerprint256: nodeFingerprint }, true).ok).toBe(true);
    expect(c.check({ raw: foreign.raw, fingerprint256: foreign.fingerprint256 }, true)).toMatchObject({ ok: false });
  });
});
