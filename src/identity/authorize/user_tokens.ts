import type { Client } from '../clients/client.js';
import type { CertificateConfirmation } from '../clients/client_certificate.js';
import type { SigningKeys } from '../signing_keys/signing_keys.js';
import { issueIdTokenAsync } from '../oidc/id_token.js';
import { OPENID, scopedClaims } from '../oidc/scopes.js';
import { issueAccessTokenAsync } from '../tokens/access_token.js';
import type { IssuanceAudit } from '../tokens/issuance_audit.js';
import { OFFLINE_ACCESS } from './authorization_request.js';
import type { IssuedAccess } from './refresh_records.js';

/** What a person's access token says: the user as subject, their roles, the granted API scopes. */
export interface UserTokenSubject {
  grantType: string;
  client: Client;
  username: string;
  roles: readonly string[];
  scopes: readonly string[];
  audience: string;
  address: string;
  /** Binds the access token to the client certificate of the token request (RFC 8705 §3). */
  confirmation?: CertificateConfirmation;
}

/** A signed access token for a person, as the token response needs it. */
export type IssuedUserToken = IssuedAccess & { token: string; expiresIn: number; scope: string };

/** A signed access token not yet recorded in the issuance audit ({@link UserTokenIssuer.sign}). */
export interface SignedUserToken extends IssuedUserToken {
  /** Records the issuance in the audit stream, once (later calls do nothing). */
  audit(): void;
}

/**
 * Issues access tokens for people (authorization_code, refresh_token, device_code and legacy implicit), audited like
 * every token, and their ID tokens; every signature is computed on libuv's thread pool (ADR 0001).
 *
 * @example
 * const issuer = new UserTokenIssuer({ signingKeys, audit, defaultTtlMs: 900_000 });
 */
export class UserTokenIssuer {
  constructor(
    private readonly deps: {
      signingKeys: SigningKeys;
      audit: IssuanceAudit;
      defaultTtlMs: number;
    },
  ) {}

  /**
   * Signs an RFC 9068 access token whose `sub` is the username, with the user's `roles`; `offline_access` is never
   * put in the token's `scope` (it only governs refresh token issuance). The signature is computed on libuv's thread
   * pool.
   *
   * @example
   * const at = await issuer.issue({ grantType: 'authorization_code', client, username, roles, scopes, audience, address }, issuerUrl, now);
   */
  async issue(subject: UserTokenSubject, issuer: string, now: number, ttlMs?: number): Promise<IssuedUserToken> {
    const signed = await this.sign(subject, issuer, now, ttlMs);
    signed.audit();
    return signed;
  }

  /**
   * {@link issue} without the audit record, which the caller writes with `audit()` once the token is really handed
   * out: refresh rotation signs first (the family records the token's jti and exp) and audits only when the rotation
   * happened.
   *
   * @example
   * const signed = await issuer.sign(subject, issuerUrl, now);
   * const use = await refresh.use(token, () => ({ jti: signed.jti, exp: signed.exp }));
   * if (use.kind === 'rotated') signed.audit();
   */
  async sign(subject: UserTokenSubject, issuer: string, now: number, ttlMs?: number): Promise<SignedUserToken> {
    const scope = subject.scopes.filter((s) => s !== OFFLINE_ACCESS).join(' ');
    const issued = await issueAccessTokenAsync(
      {
        issuer,
        subject: subject.username,
        audience: subject.audience,
        clientId: subject.client.clientId,
        scope,
        roles: subject.roles,
        ttlMs: ttlMs ?? subject.client.accessTokenTtlMs ?? this.deps.defaultTtlMs,
        ...(subject.confirmation === undefined ? {} : { confirmation: subject.confirmation }),
      },
      this.deps.signingKeys.signer(),
      now,
    );
    let audited = false;
    return {
      token: issued.token,
      jti: issued.jti,
      exp: Math.floor(issued.expiresAt / 1000),
      expiresIn: issued.expiresIn,
      scope,
      audit: () => {
        if (audited) return;
        audited = true;
        this.deps.audit.record({
          grantType: subject.grantType,
          clientId: subject.client.clientId,
          subject: subject.username,
          audience: subject.audience,
          scope,
          jti: issued.jti,
          kid: issued.kid,
          expiresAt: issued.expiresAt,
          address: subject.address,
        });
      },
    };
  }

  /**
   * The OpenID Connect ID token beside an access token, when `openid` was granted (else undefined): signed with the
   * client's `idTokenSignedResponseAlg` key set (RS256 by default), aud = client_id, with nonce, auth_time, at_hash and
   * the claims `profile` and `roles` allow.
   *
   * @example
   * const idToken = await issuer.idToken(subject, { authTime, nonce, accessToken: at.token }, issuerUrl, now);
   */
  async idToken(
    subject: UserTokenSubject,
    context: { authTime: number; nonce?: string; accessToken: string },
    issuer: string,
    now: number,
  ): Promise<string | undefined> {
    if (!subject.scopes.includes(OPENID)) return undefined;
    const key = this.deps.signingKeys.signer(subject.client.idTokenSignedResponseAlg ?? 'RS256');
    return issueIdTokenAsync(
      {
        issuer,
        subject: subject.username,
        clientId: subject.client.clientId,
        authTime: context.authTime,
        ...(context.nonce === undefined ? {} : { nonce: context.nonce }),
        accessToken: context.accessToken,
        extra: scopedClaims(subject.scopes, subject),
      },
      key,
      now,
    );
  }
}
