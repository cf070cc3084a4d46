import { describe, expect, it } from 'vitest';
import { MemoryLogger } from '../../src/core/index.js';
import {
  decodeJwt,
  generateSigningKey,
  verificationKeyOf,
  verifyJwtSignature,
  type SigningKey,
} from '../../src/crypto/index.js';
import { UserTokenIssuer, type UserTokenSubject } from '../../src/identity/authorize/user_tokens.js';
import { atHash } from '../../src/identity/oidc/id_token.js';
import type { Client } from '../../src/identity/clients/client.js';
import type { SigningKeys } from '../../src/identity/signing_keys/signing_keys.js';
import { IssuanceAudit } from '../../src/identity/tokens/issuance_audit.js';

const ISSUER = 'https://id.test.example';
const NOW = Date.parse('2026-03-01T00:00:00Z');

function issuerWithKeys() {
  const keys: Record<string, SigningKey> = {
    ES256: generateSigningKey('ES256', 'at-es256'),
    RS256: generateSigningKey('RS256', 'id-rs256'),
  };
  const signingKeys = { signer: (alg = 'ES256') => keys[alg] as SigningKey } as unknown as SigningKeys;
  const logger = new MemoryLogger();
  const audit = new IssuanceAudit(logger);
  const issuer = new UserTokenIssuer({ signingKeys, audit, defaultTtlMs: 900_000 });
  return { keys, logger, audit, issuer };
}

const subject = (scopes: string[]): UserTokenSubject => ({
  grantType: 'refresh_token',
  client: { clientId: 'web' } as Client,
  username: 'alice',
  roles: ['admin'],
  scopes,
  audience: 'https://orders.test.example',
  address: '203.0.113.10',
});

const audited = (logger: MemoryLogger) => logger.lines.filter((l) => l.jti !== undefined);

describe('UserTokenIssuer (signatures on the thread pool)', () => {
  it('sign() signs without auditing; audit() records the token once', async () => {
    const { keys, logger, audit, issuer } = issuerWithKeys();
    const signed = await issuer.sign(subject(['orders:read', 'offline_access']), ISSUER, NOW);
    expect(signed).toMatchObject({ exp: Math.floor(NOW / 1000) + 900, expiresIn: 900, scope: 'orders:read' });
    const decoded = decodeJwt(signed.token);
    expect(() => verifyJwtSignature(decoded, verificationKeyOf(keys.ES256 as SigningKey))).not.toThrow();
    expect(decoded.header).toEqual({ alg: 'ES256', kid: 'at-es256', typ: 'at+jwt' });
    expect(decoded.payload).toMatchObject({
      iss: ISSUER,
      sub: 'alice',
      aud: 'https://orders.test.example',
      client_id: 'web',
      jti: signed.jti,
      exp: signed.exp,
      iat: Math.floor(NOW / 1000),
      scope: 'orders:read',
      roles: ['admin'],
    });
    audit.flush();
    expect(audited(logger)).toEqual([]);

    signed.audit();
    signed.audit();
    audit.flush();
    expect(audited(logger)).toEqual([
      expect.objectContaining({ grantType: 'refresh_token', jti: signed.jti, kid: 'at-es256', subject: 'alice' }),
    ]);
  });

  it('issue() signs and audits: one audited, verifiable token per call', async () => {
    const { keys, logger, audit, issuer } = issuerWithKeys();
    const [a, b] = await Promise.all([
      issuer.issue(subject(['orders:read']), ISSUER, NOW),
      issuer.issue(subject(['orders:read']), ISSUER, NOW, 60_000),
    ]);
    expect(a.jti).not.toBe(b.jti);
    expect(b.expiresIn).toBe(60);
    for (const t of [a, b]) {
      expect(() => verifyJwtSignature(decodeJwt(t.token), verificationKeyOf(keys.ES256 as SigningKey))).not.toThrow();
    }
    audit.flush();
    // The two signatures come back from the thread pool in either order.
    expect(
      audited(logger)
        .map((l) => l.jti)
        .sort(),
    ).toEqual([a.jti, b.jti].sort());
  });

  it('signs ID tokens (RS256 by default) with at_hash, only when openid was granted', async () => {
    const { keys, issuer } = issuerWithKeys();
    const at = await issuer.issue(subject(['openid', 'orders:read']), ISSUER, NOW);
    const idToken = await issuer.idToken(
      subject(['openid', 'orders:read']),
      { authTime: NOW - 60_000, nonce: 'n-1', accessToken: at.token },
      ISSUER,
      NOW,
    );
    const decoded = decodeJwt(idToken as string);
    expect(decoded.header).toEqual({ alg: 'RS256', kid: 'id-rs256', typ: 'JWT' });
    expect(() => verifyJwtSignature(decoded, verificationKeyOf(keys.RS256 as SigningKey))).not.toThrow();
    expect(decoded.payload).toMatchObject({ aud: 'web', sub: 'alice', nonce: 'n-1', auth_time: (NOW - 60_000) / 1000 });
    expect(decoded.payload.at_hash).toBe(atHash(at.token));
    await expect(
      issuer.idToken(subject(['orders:read']), { authTime: NOW, accessToken: at.token }, ISSUER, NOW),
    ).resolves.toBeUndefined();
  });
});
