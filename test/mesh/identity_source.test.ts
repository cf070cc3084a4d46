import { afterEach, describe, expect, it } from 'vitest';
import { GatehouseError, MemoryLogger, systemClock } from '../../src/core/index.js';
import {
  IdentitySource,
  renewalRetryDelayMs,
  type IdentitySourceOptions,
  sessionLifetimeSeconds,
  type CertificateAuthorityClient,
  type IssuedCertificate,
  type SvidMaterial,
  type TrustBundle,
} from '../../src/mesh/index.js';

/** A scripted CA: certificates are opaque here (IdentitySource never parses them), lifetimes are what we say. */
class ScriptedCa implements CertificateAuthorityClient {
  down = false;
  /** The next this many sign or renew calls are refused as the CA's rate limit does (429 with Retry-After: 1). */
  limited = 0;
  lifetimeMs = 1_500;
  sequence = 1;
  readonly calls: string[] = [];
  private serial = 0;

  private issue(): IssuedCertificate {
    if (this.down) throw new GatehouseError('ERR_MESH_UPSTREAM_FAILED', { detail: 'down' });
    if (this.limited > 0) {
      this.limited--;
      throw Object.assign(new GatehouseError('ERR_PKI_RATE_LIMITED'), { retryAfterSeconds: 1 });
    }
    const now = Date.now();
    return {
      spiffeId: 'spiffe://td/ns/a/sa/b',
      chainPem: 'opaque',
      serialNumber: String(++this.serial),
      notBefore: now - 10_000,
      notAfter: now + this.lifetimeMs,
    };
  }
  async sign(_csr: string, credential: string): Promise<IssuedCertificate> {
    this.calls.push(`sign:${credential}`);
    return this.issue();
  }
  async renew(_csr: string, current: SvidMaterial): Promise<IssuedCertificate> {
    this.calls.push(`renew:${current.serialNumber}`);
    return this.issue();
  }
  async bundle(): Promise<TrustBundle> {
    this.calls.push('bundle');
    return { pem: 'pem', sequence: this.sequence, refreshHintMs: 1_000 };
  }
  async denyList() {
    return [];
  }
}

async function until(condition: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const sources: IdentitySource[] = [];
afterEach(() => {
  for (const s of sources.splice(0)) s.stop();
});

function source(
  ca: ScriptedCa,
  logger = new MemoryLogger(),
  tuning: Partial<IdentitySourceOptions> = {},
): IdentitySource {
  let n = 0;
  const identity = new IdentitySource({
    ...tuning,
    client: ca,
    credential: () => `token-${++n}`,
    clock: systemClock,
    logger,
    jitterFraction: 0,
    retryInitialMs: 100,
    retryMaxMs: 200,
  });
  sources.push(identity);
  return identity;
}

describe('IdentitySource', () => {
  it('counts the lifetime from issuance (not the backdated notBefore) and renews on its own', async () => {
    const ca = new ScriptedCa();
    const identity = source(ca);
    const before = Date.now();
    const first = await identity.start();
    expect(first.issuedAt).toBeGreaterThanOrEqual(before);
    expect(first.issuedAt - first.notBefore).toBeGreaterThanOrEqual(10_000);
    await until(() => ca.calls.includes('renew:1'), 'the scheduled renewal');
    await until(() => identity.current?.serialNumber === '2', 'the renewed SVID');
    expect(identity.current!.generation).toBe(2);
  });

  it('retries with backoff while the CA is down, stops serving at expiry, then re-bootstraps with the credential', async () => {
    const ca = new ScriptedCa();
    const logger = new MemoryLogger();
    const identity = source(ca, logger);
    const seen: Array<string | undefined> = [];
    identity.onChange((svid) => seen.push(svid?.serialNumber));
    await identity.start();
    expect(ca.calls).toContain('sign:token-1');
    ca.down = true;
    await until(() => identity.current === undefined, 'expiry');
    // `current` turns undefined by the clock at once; the retry loop that notices the expiry notifies listeners on its
    // next attempt (up to one backoff later), so wait for that notification too.
    await until(() => seen.includes(undefined), 'the expiry notification');
    const renewAttempts = ca.calls.filter((c) => c === 'renew:1').length;
    expect(renewAttempts).toBeGreaterThanOrEqual(2);
    expect(seen).toContain(undefined);
    expect(logger.lines.some((l) => l.msg === 'SVID expired: stopped serving; re-bootstrapping')).toBe(true);
    ca.down = false;
    await until(() => identity.current !== undefined, 're-bootstrap');
    // after expiry only sign (with a fresh credential each attempt) is tried, never renew with the expired SVID
    const afterExpiry = ca.calls.slice(ca.calls.lastIndexOf('renew:1') + 1);
    expect(afterExpiry.length).toBeGreaterThanOrEqual(1);
    expect(afterExpiry.every((c) => c.startsWith('sign:token-'))).toBe(true);
    expect(new Set(afterExpiry).size).toBe(afterExpiry.length);
  });

  it('waits out a rate-limited renewal for the Retry-After (not the shorter backoff), then renews', async () => {
    const ca = new ScriptedCa();
    ca.lifetimeMs = 6_000; // renewed at 1.2 s, well before expiry: room for the 1 s Retry-After
    const logger = new MemoryLogger();
    const identity = source(ca, logger, { renewAtFraction: 0.2 });
    await identity.start();
    ca.limited = 1;
    await expect(identity.renewNow()).rejects.toMatchObject({ code: 'ERR_PKI_RATE_LIMITED', retryAfterSeconds: 1 });
    // The refusal is no fatal one: the scheduled renewal is refused too, and the loop (backoff 100 ms here) waits the
    // CA's 1 s, then renews.
    ca.limited = 1;
    await until(() => identity.current?.generation === 2, 'the renewed SVID');
    expect(ca.calls.filter((c) => c === 'renew:1')).toHaveLength(3);
    const retried = logger.lines.find((l) => l.msg === 'SVID renewal failed; retrying');
    expect(retried).toMatchObject({ retryAfterMs: 1_000, retryInMs: 1_000 });
  }, 20_000);

  it('bootstraps through a rate limit: waits the Retry-After and sends the (unspent) credential again', async () => {
    const ca = new ScriptedCa();
    ca.limited = 2;
    const logger = new MemoryLogger();
    const identity = source(ca, logger);
    const material = await identity.start();
    expect(material.serialNumber).toBe('1');
    expect(ca.calls.filter((c) => c.startsWith('sign:'))).toEqual(['sign:token-1', 'sign:token-2', 'sign:token-3']);
    expect(logger.lines.filter((l) => l.msg === 'SVID bootstrap rate limited; waiting')).toHaveLength(2);
  }, 20_000);

  it('gives up a bootstrap the CA keeps refusing for longer than bootstrapWaitMs', async () => {
    const ca = new ScriptedCa();
    ca.limited = 5;
    const identity = new IdentitySource({
      client: ca,
      credential: () => 'token',
      clock: systemClock,
      logger: new MemoryLogger(),
      bootstrapWaitMs: 500,
    });
    sources.push(identity);
    await expect(identity.start()).rejects.toMatchObject({ code: 'ERR_PKI_RATE_LIMITED' });
    expect(ca.calls.filter((c) => c.startsWith('sign:'))).toHaveLength(1);
  });

  it('retries a renewal after the backoff or the longer Retry-After, never after expiry', () => {
    expect(renewalRetryDelayMs({ backoffMs: 1_000, retryAfterMs: undefined, remainingMs: 60_000 })).toBe(1_000);
    expect(renewalRetryDelayMs({ backoffMs: 1_000, retryAfterMs: 30_000, remainingMs: 60_000 })).toBe(30_000);
    expect(renewalRetryDelayMs({ backoffMs: 8_000, retryAfterMs: 1_000, remainingMs: 60_000 })).toBe(8_000);
    expect(renewalRetryDelayMs({ backoffMs: 1_000, retryAfterMs: 30_000, remainingMs: 29_999 })).toBe(29_999);
    expect(renewalRetryDelayMs({ backoffMs: 1_000, retryAfterMs: 30_000, remainingMs: -5 })).toBe(0);
  });

  it('refetches the bundle per its refresh hint and tells listeners when the sequence changes', async () => {
    const ca = new ScriptedCa();
    ca.lifetimeMs = 60_000;
    const identity = source(ca);
    await identity.start();
    let changes = 0;
    identity.onChange(() => changes++);
    ca.sequence = 2;
    await until(() => identity.bundle.sequence === 2, 'the bundle refresh');
    expect(changes).toBe(1);
  });

  it('keeps resumable sessions inside the renewal margin', () => {
    const svid = { issuedAt: 0, notAfter: 86_400_000 } as SvidMaterial;
    expect(sessionLifetimeSeconds(svid, 2 / 3)).toBe(300);
    expect(sessionLifetimeSeconds({ ...svid, notAfter: 90_000 }, 2 / 3)).toBe(30);
    expect(sessionLifetimeSeconds({ ...svid, notAfter: 1_000 }, 2 / 3)).toBe(1);
  });
});
