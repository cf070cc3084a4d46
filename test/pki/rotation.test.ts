import { describe, expect, it } from 'vitest';
import {
  rotationSteps,
  activationTime,
  retirementTime,
  validateSvid,
  type RotationPolicy,
} from '../../src/pki/index.js';
import type { AuthorityRecord } from '../../src/pki/state.js';
import { x509 } from '../../src/pki/x509.js';
import { DAY, TRUST_DOMAIN, fixture, splitPem } from './helpers.js';

const HOUR = 3_600_000;
const policy: RotationPolicy = { maxLeafTtlMs: DAY, activationDelayMs: 2 * DAY, prepareAtFraction: 0.5 };

function record(
  active: { notBefore: number; notAfter: number },
  extra: Partial<AuthorityRecord> = {},
): AuthorityRecord {
  return {
    format: 1,
    trustDomain: TRUST_DOMAIN,
    createdAt: 0,
    roots: [],
    intermediates: [{ id: 'a', certPem: '', serialNumber: '', keySecret: '', rootId: 'r', ...active }],
    activeIntermediateId: 'a',
    ...extra,
  };
}

describe('rotation decisions (pure functions of now)', () => {
  const r = record({ notBefore: 0, notAfter: 100 * DAY });
  it('prepares at half of the active life, not a millisecond before', () => {
    expect(rotationSteps(r, 50 * DAY - 1, policy)).toEqual([]);
    expect(rotationSteps(r, 50 * DAY, policy)).toEqual([{ kind: 'prepare', activateAt: 52 * DAY }]);
    expect(rotationSteps(r, 10 * DAY, policy, true)).toEqual([{ kind: 'prepare', activateAt: 12 * DAY }]);
  });
  it('activates at activateAt exactly and schedules retirement one leaf lifetime later', () => {
    const prepared = { ...r, next: { intermediateId: 'b', activateAt: 12 * DAY } };
    expect(rotationSteps(prepared, 12 * DAY - 1, policy)).toEqual([]);
    expect(rotationSteps(prepared, 12 * DAY, policy)).toEqual([
      { kind: 'activate', intermediateId: 'b', retireOldAt: 13 * DAY },
    ]);
  });
  it('retires at retireAt exactly', () => {
    const retiring = { ...r, retiring: [{ intermediateId: 'old', retireAt: 5 * DAY }] };
    expect(rotationSteps(retiring, 5 * DAY - 1, policy)).toEqual([]);
    expect(rotationSteps(retiring, 5 * DAY, policy)).toEqual([{ kind: 'retire', intermediateId: 'old' }]);
  });
  it('never activates later than the active intermediate can cover a full leaf, nor retires past its expiry', () => {
    expect(activationTime(99 * DAY - HOUR, 100 * DAY, policy)).toBe(99 * DAY);
    expect(activationTime(99.5 * DAY, 100 * DAY, policy)).toBe(99.5 * DAY);
    expect(retirementTime(99.5 * DAY, 100 * DAY, DAY)).toBe(100 * DAY);
  });
});

describe('CA rotation with overlap (ManualClock timeline)', () => {
  it('publishes, activates, then retires the old intermediate only after its last leaf expired', async () => {
    const f = fixture();
    const ca = await f.open({ activationDelayMs: 2 * DAY, maxSvidTtlMs: DAY });
    const before = (await f.store.get<AuthorityRecord>('pki_authorities', 'platform'))!.value;
    const oldId = before.activeIntermediateId;
    const oldPem = before.intermediates[0]!.certPem;
    const seq0 = ca.bundleSequence;
    expect(splitPem(ca.trustBundlePem())).toHaveLength(2);

    // ca rotate: prepare + publish now.
    const prepared = await ca.rotate(true);
    expect(prepared.steps).toEqual(['prepare']);
    expect(ca.bundleSequence).toBe(seq0 + 1);
    const bundle = splitPem(ca.trustBundlePem());
    expect(bundle).toHaveLength(3);
    expect(ca.spiffeBundle(300).keys).toHaveLength(3);
    expect(ca.spiffeBundle(300).spiffe_sequence).toBe(seq0 + 1);
    const status = ca.status();
    expect(status.next?.activateAt).toBe(f.clock.now() + 2 * DAY);
    const newId = status.next!.intermediateId;

    // Still signing with the old one during the overlap.
    const issuerOf = (pem: string) => new x509.X509Certificate(splitPem(pem)[1]!).serialNumber;
    const oldSerial = new x509.X509Certificate(oldPem).serialNumber;
    const leafOld = await ca.issueListenerCertificate({ component: 'admin', ttlMs: DAY });
    expect(issuerOf(leafOld.certPem)).toBe(oldSerial);
    expect((await ca.rotate()).steps).toEqual([]);

    // Activation after the delay.
    f.clock.advance(2 * DAY);
    expect((await ca.rotate()).steps).toEqual(['activate']);
    const leafNew = await ca.issueListenerCertificate({ component: 'admin', ttlMs: DAY });
    expect(issuerOf(leafNew.certPem)).not.toBe(oldSerial);
    expect(ca.status().retiring).toEqual([{ intermediateId: oldId, retireAt: f.clock.now() + DAY }]);
    expect(splitPem(ca.trustBundlePem())).toHaveLength(3);

    // The last leaf of the old intermediate is still valid a moment before retirement: it stays.
    f.clock.advance(DAY - 1);
    expect((await ca.rotate()).steps).toEqual([]);
    expect(ca.trustBundlePem()).toContain(oldPem.trim().split('\n')[1]);
    f.clock.advance(1);
    expect((await ca.rotate()).steps).toEqual(['retire']);
    expect(splitPem(ca.trustBundlePem())).toHaveLength(2);
    expect(ca.trustBundlePem()).not.toContain(oldPem.trim().split('\n')[1]);
    expect(ca.bundleSequence).toBe(seq0 + 3);
    const after = (await f.store.get<AuthorityRecord>('pki_authorities', 'platform'))!.value;
    expect(after.activeIntermediateId).toBe(newId);
    expect(f.vault.secrets.has(before.intermediates[0]!.keySecret)).toBe(true); // the old key is kept

    // A reopened CA (another replica) sees the same state and its leaves validate.
    const reopened = await f.open();
    expect(reopened.trustBundlePem()).toBe(ca.trustBundlePem());
    const leafAt = leafNew.issuedAt + 1;
    expect(validateSvid(splitPem(leafNew.certPem)[0]!, { trustDomain: TRUST_DOMAIN, now: leafAt }).valid).toBe(true);
  });

  it('reports expiry loudly with expirySeconds and warnings within 30 days', async () => {
    const f = fixture();
    const ca = await f.open({ intermediateTtlMs: 40 * DAY });
    expect(ca.status().intermediate.expirySeconds).toBe(40 * 86_400);
    expect(ca.status().warnings).toEqual([]);
    f.clock.advance(10 * DAY);
    expect(ca.status().warnings[0]).toMatch(/intermediate CA certificate expires .* \(30 days left\)/);
  });
});
