import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GatehouseError, MemoryLogger } from '../../src/core/index.js';
import { Enrollment, JoinTokens, Revocations, createCsr, type BootstrapTokenVerifier } from '../../src/pki/index.js';
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

  it('refuses a join token bound to another SPIFFE ID than requested, and burns it', async () => {
    const { enrollment } = await setup();
    const { token } = await enrollment.createJoinToken(ID, 60_000);
    await expect(
      enrollment.signWithJoinToken({ csrPem: csr(), spiffeId: `spiffe://${TRUST_DOMAIN}/ns/a/sa/b` }, token),
    ).rejects.toMatchObject({ code: 'ERR_PKI_FORBIDDEN' });
    await expect(enrollment.signWithJoinToken({ csrPem: csr() }, token)).rejects.toMatchObject({
      code: 'ERR_PKI_JOIN_TOKEN_INVALID',
    });
  });
});
