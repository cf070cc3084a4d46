import type { Client } from '../clients/client.js';
import type { CertificateConfirmation } from '../clients/client_certificate.js';
import type { SigningKeys } from '../signing_keys/signing_keys.js';
import { issueIdToken } from '../oidc/id_token.js';
import { OPENID, scopedClaims } from '../oidc/scopes.js';
import { issueAccessToken } from '../tokens/access_token.js';
import type { IssuanceAudit } from '../tokens/issuance_audit.js';
import { OFFLINE_ACCESS } from './authorization_request.js';
import type { IssuedAccess } from './refresh_tokens.js';

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

/**
 * Issues access tokens for people (authorization_code, refresh_token and legacy implicit), audited like every token.
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
   * put in the token's `scope` (it only governs refresh token issuance).
   *
   * @example
   * const at = issuer.issue({ grantType: 'authorization_code', client, username, roles, scopes, audience, address }, issuerUrl, now);
   */
  issue(
    subject: UserTokenSubject,
    issuer: string,
    now: number,
    ttlMs?: number,
  ): IssuedAccess & { token: string; expiresIn: number; scope: string } {
    const scope = subject.scopes.filter((s) => s !== OFFLINE_ACCESS).join(' ');
    const issued = issueAccessToken(
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
    return {
      token: issued.token,
      jti: issued.jti,
      exp: Math.floor(issued.expiresAt / 1000),
      expiresIn: issued.expiresIn,
      scope,
    };
  }

  /**
   * The OpenID Connect ID token beside an access token, when `openid` was granted (else undefined): signed with the
   * client's `idTokenSignedResponseAlg` key set (RS256 by default), aud = client_id, with nonce, auth_time, at_hash and
   * the claims `profile` and `roles` allow.
   *
   * @example
   * const idToken = issuer.idToken(subject, { authTime, nonce, accessToken: at.token }, issuerUrl, now);
   */
  idToken(
    subject: UserTokenSubject,
    context: { authTime: number; nonce?: string; accessToken: string },
    issuer: string,
    now: number,
  ): string | undefined {
    if (!subject.scopes.includes(OPENID)) return undefined;
    const key = this.deps.signingKeys.signer(subject.client.idTokenSignedResponseAlg ?? 'RS256');
    return issueIdToken(
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
