import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GatehouseError, MemoryLogger } from '../../src/core/index.js';
import { InProcessCaClient } from '../../src/app/mesh_ca_client.js';
import {
  Enrollment,
  JoinTokens,
  Revocations,
  createCsr,
  isDenied,
  type BootstrapTokenVerifier,
} from '../../src/pki/index.js';
import { DAY, TRUST_DOMAIN, fixture } from './helpers.js';

const ID = `spiffe://${TRUST_DOMAIN}/ns/billing/sa/worker`;
const csr = () => createCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);

async function setup(bootstrap?: BootstrapTokenVerifier) {
  const f = fixture(Date.now());
  const authority = await f.open();
  const logger = new MemoryLogger();
  const enrollment = new Enrollment({
    authority,
    joinTokens: new JoinTokens(f.store, f.clock),
    revocations: new Revocations(f.store, f.clock, DAY),
    ...(bootstrap ? { bootstrap } : {}),
    clock: f.clock,
    logger,
  });
  return { f, enrollment, logger };
}

const verifier: BootstrapTokenVerifier = {
  async verify(token) {
    if (token !== 'good-token') throw new GatehouseError('ERR_PKI_UNAUTHENTICATED');
    return { clientId: 'billing', allowedSpiffeIds: [ID] };
  },
};

describe('Enrollment with access tokens (BootstrapTokenVerifier port)', () => {
  it('answers a clear error while no verifier is wired', async () => {
    const { enrollment } = await setup();
    await expect(enrollment.signWithAccessToken({ csrPem: csr(), spiffeId: ID }, 'x')).rejects.toMatchObject({
      code: 'ERR_PKI_BOOTSTRAP_UNAVAILABLE',
      status: 501,
    });
  });

  it('signs only the SPIFFE IDs the client may hold, never for a revoked one', async () => {
    const { enrollment, logger } = await setup(verifier);
    const svid = await enrollment.signWithAccessToken({ csrPem: csr(), spiffeId: ID }, 'good-token');
    expect(svid.spiffeId).toBe(ID);
    expect(logger.lines.at(-1)).toMatchObject({ msg: 'SVID issued', credential: 'access_token', clientId: 'billing' });
    expect(JSON.stringify(logger.lines)).not.toContain('good-token');
    await expect(
      enrollment.signWithAccessToken(
        { csrPem: csr(), spiffeId: `spiffe://${TRUST_DOMAIN}/ns/billing/sa/other` },
        'good-token',
      ),
    ).rejects.toMatchObject({ code: 'ERR_PKI_FORBIDDEN' });
    await expect(enrollment.signWithAccessToken({ csrPem: csr(), spiffeId: ID }, 'bad')).rejects.toMatchObject({
      code: 'ERR_PKI_UNAUTHENTICATED',
    });
    await expect(enrollment.signWithAccessToken({ csrPem: csr() }, 'good-token')).rejects.toMatchObject({
      code: 'ERR_HTTP_BAD_REQUEST',
    });
    await enrollment.revoke(ID);
    await expect(enrollment.signWithAccessToken({ csrPem: csr(), spiffeId: ID }, 'good-token')).rejects.toMatchObject({
      code: 'ERR_PKI_REVOKED',
    });
  });

  // A sidecar sends its configured spiffeId: a typo there must not cost the operator the one-time token.
  it('refuses a join token bound to another SPIFFE ID than requested, without using it up', async () => {
    const { enrollment } = await setup();
    const { token } = await enrollment.createJoinToken(ID, 60_000);
    await expect(
      enrollment.signWithJoinToken({ csrPem: csr(), spiffeId: `spiffe://${TRUST_DOMAIN}/ns/a/sa/b` }, token),
    ).rejects.toMatchObject({ code: 'ERR_PKI_FORBIDDEN', message: expect.stringContaining('another SPIFFE ID') });
    const svid = await enrollment.signWithJoinToken({ csrPem: csr(), spiffeId: ID }, token);
    expect(svid.spiffeId).toBe(ID);
    await expect(enrollment.signWithJoinToken({ csrPem: csr() }, token)).rejects.toMatchObject({
      code: 'ERR_PKI_JOIN_TOKEN_INVALID',
    });
  });
});

// The bootstrap paths used to test `now <= revokedAt`, true only in the revocation's own millisecond: a revoked
// identity could enroll again a moment later, by access token or join token, and its new certificate (notBefore
// backdated) was then refused by every sidecar anyway. Now neither path issues while the deny-list entry lives.
describe('a revoked identity cannot enroll again while its deny-list entry lives', () => {
  const MINUTE = 60_000;

  it('access token: refused with 403 ERR_PKI_REVOKED a minute and a day later; after the entry, not denied', async () => {
    const { f, enrollment } = await setup(verifier);
    const entry = await enrollment.revoke(ID);
    f.clock.advance(MINUTE);
    for (const wait of [0, DAY - MINUTE]) {
      f.clock.advance(wait);
      await expect(enrollment.signWithAccessToken({ csrPem: csr(), spiffeId: ID }, 'good-token')).rejects.toMatchObject(
        { code: 'ERR_PKI_REVOKED', status: 403 },
      );
    }
    f.clock.set(entry.expiresAt);
    const svid = await enrollment.signWithAccessToken({ csrPem: csr(), spiffeId: ID }, 'good-token');
    expect(isDenied(await enrollment.refreshDenyList(true), ID, svid.notBefore)).toBe(false);
    expect(svid.notBefore).toBeGreaterThan(entry.revokedAt);
  });

  it('join token: new tokens refused while the entry lives; tokens issued before the revocation are void for good', async () => {
    const { f, enrollment, logger } = await setup();
    const { token } = await enrollment.createJoinToken(ID, 2 * DAY);
    const entry = await enrollment.revoke(ID);
    expect(logger.lines.find((e) => e.msg === 'identity revoked')).toMatchObject({ voidedJoinTokens: 1 });
    f.clock.advance(MINUTE);
    await expect(enrollment.createJoinToken(ID, 60_000)).rejects.toMatchObject({
      code: 'ERR_PKI_REVOKED',
      status: 403,
    });
    // Before, the old token waited out the entry and then enrolled the revoked identity again.
    for (const at of [f.clock.now(), entry.expiresAt]) {
      f.clock.set(at);
      await expect(enrollment.signWithJoinToken({ csrPem: csr() }, token)).rejects.toMatchObject({
        code: 'ERR_PKI_JOIN_TOKEN_INVALID',
      });
    }
    const fresh = await enrollment.createJoinToken(ID, 60_000);
    const svid = await enrollment.signWithJoinToken({ csrPem: csr() }, fresh.token);
    expect(svid.spiffeId).toBe(ID);
    expect(svid.notBefore).toBeGreaterThan(entry.revokedAt);
  });

  it("voiding pages through the tokens and leaves other identities' tokens alone", async () => {
    const f = fixture(Date.now());
    const tokens = new JoinTokens(f.store, f.clock);
    const OTHER = `spiffe://${TRUST_DOMAIN}/ns/billing/sa/other`;
    const others = [];
    for (let i = 0; i < 1_010; i++) others.push((await tokens.create(OTHER, DAY)).token);
    const mine = [(await tokens.create(ID, DAY)).token, (await tokens.create(ID, DAY)).token];
    expect(await tokens.voidFor(ID)).toBe(2);
    for (const token of mine)
      await expect(tokens.consume(token)).rejects.toMatchObject({ code: 'ERR_PKI_JOIN_TOKEN_INVALID' });
    expect(await tokens.consume(others[0]!)).toBe(OTHER);
    expect(await tokens.consume(others[others.length - 1]!)).toBe(OTHER);
  });

  // A revocation committed on another replica while a token was being consumed or created used to slip through: the
  // only check ran before the store write.
  /** An enrollment whose join-token store sees a revocation of the token's ID commit right after its `step`. */
  async function revokedDuring(step: 'consume' | 'create') {
    const f = fixture(Date.now());
    const authority = await f.open();
    const revocations = new Revocations(f.store, f.clock, DAY);
    const made: string[] = [];
    class RacingTokens extends JoinTokens {
      override async create(spiffeId: string, ttlMs: number) {
        const created = await super.create(spiffeId, ttlMs);
        made.push(created.token);
        if (step === 'create') await revocations.revoke(spiffeId);
        return created;
      }
      override async consume(token: string, check?: (spiffeId: string) => Promise<void>): Promise<string> {
        const id = await super.consume(token, check);
        if (step === 'consume') await revocations.revoke(id);
        return id;
      }
    }
    const joinTokens = new RacingTokens(f.store, f.clock);
    const enrollment = new Enrollment({
      authority,
      joinTokens,
      revocations,
      clock: f.clock,
      logger: new MemoryLogger(),
    });
    return { enrollment, joinTokens, made };
  }

  it('a revocation that commits while the token is consumed refuses the certificate', async () => {
    const { enrollment } = await revokedDuring('consume');
    const { token } = await enrollment.createJoinToken(ID, DAY);
    await expect(enrollment.signWithJoinToken({ csrPem: csr() }, token)).rejects.toMatchObject({
      code: 'ERR_PKI_REVOKED',
    });
  });

  it('a revocation that commits while a token is created voids it', async () => {
    const { enrollment, joinTokens, made } = await revokedDuring('create');
    await expect(enrollment.createJoinToken(ID, DAY)).rejects.toMatchObject({ code: 'ERR_PKI_REVOKED' });
    expect(made).toHaveLength(1);
    await expect(joinTokens.consume(made[0]!)).rejects.toMatchObject({ code: 'ERR_PKI_JOIN_TOKEN_INVALID' });
  });

  it('the in-process CA client of the demo mesh refuses the same way', async () => {
    const { f } = await setup();
    const authority = await f.open();
    const revocations = new Revocations(f.store, f.clock, DAY);
    const client = new InProcessCaClient({ authority, revocations, clock: f.clock, redeem: async () => ID });
    await revocations.revoke(ID);
    f.clock.advance(MINUTE);
    await expect(client.sign(csr(), 'any')).rejects.toMatchObject({ code: 'ERR_PKI_REVOKED' });
  });
});

// DNS names were not tied to the bootstrap credential: any join token could get `localhost` (the name every platform
// listener's certificate carries, trusted by the same bundle) or any other name into a workload SVID.
describe('DNS names a workload may ask for', () => {
  const REFUSED = ['localhost', 'api.localhost', '127.0.0.1', '10.1', '0x7f000001', 'host.0x7f'];

  it('refuses localhost and IP-like names on both bootstrap paths (403, the join token kept), and on renewal', async () => {
    const { f, enrollment } = await setup(verifier);
    const { token } = await enrollment.createJoinToken(ID, 60_000);
    for (const name of REFUSED) {
      await expect(
        enrollment.signWithJoinToken({ csrPem: csr(), dnsNames: [name] }, token),
        name,
      ).rejects.toMatchObject({ code: 'ERR_PKI_DNS_NAME_NOT_ALLOWED', status: 403 });
      await expect(
        enrollment.signWithAccessToken({ csrPem: csr(), spiffeId: ID, dnsNames: ['ok.internal', name] }, 'good-token'),
        name,
      ).rejects.toMatchObject({ code: 'ERR_PKI_DNS_NAME_NOT_ALLOWED' });
    }
    const svid = await enrollment.signWithJoinToken({ csrPem: csr(), dnsNames: ['Orders.Internal'] }, token);
    expect(new X509Certificate(svid.certificatePem).subjectAltName).toContain('DNS:orders.internal');
    // A certificate that carries localhost (issued before this rule) does not carry it into a renewal.
    const old = await f.open();
    const legacy = old.issueSvid({ csrPem: csr(), spiffeId: ID, dnsNames: ['localhost'] });
    await expect(
      enrollment.renew({ csrPem: csr() }, new X509Certificate(legacy.certificatePem).raw),
    ).rejects.toMatchObject({ code: 'ERR_PKI_DNS_NAME_NOT_ALLOWED' });
  });

  it('with pki.allowedDnsNames, only exact names and names below a *.suffix pattern', async () => {
    const f = fixture(Date.now());
    const enrollment = new Enrollment({
      authority: await f.open(),
      joinTokens: new JoinTokens(f.store, f.clock),
      revocations: new Revocations(f.store, f.clock, DAY),
      bootstrap: verifier,
      allowedDnsNames: ['api.internal', '*.svc.cluster.local'],
      clock: f.clock,
      logger: new MemoryLogger(),
    });
    const sign = (dnsNames: string[]) =>
      enrollment.signWithAccessToken({ csrPem: csr(), spiffeId: ID, dnsNames }, 'good-token');
    await expect(sign(['api.internal', 'orders.svc.cluster.local', 'a.b.svc.cluster.local'])).resolves.toMatchObject({
      spiffeId: ID,
    });
    for (const name of ['evil.example', 'svc.cluster.local', 'xsvc.cluster.local', 'api.internal.evil', ...REFUSED]) {
      await expect(sign([name]), name).rejects.toMatchObject({ code: 'ERR_PKI_DNS_NAME_NOT_ALLOWED' });
    }
  });
});
