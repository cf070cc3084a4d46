import type { Clock } from '../../core/index.js';
import type { ClientCache } from '../clients/client_cache.js';
import type { IssuedTokenCheck } from '../introspection_tokens.js';
import { OPENID, scopedClaims } from './scopes.js';

/** A userinfo request, framework-free. */
export interface UserinfoRequest {
  method: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
  origin?: string;
}

/** A userinfo answer: status, headers, JSON body. */
export interface UserinfoResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const MAX_TOKEN = 8192;

/**
 * The OpenID Connect userinfo endpoint (Core §5.3): a Bearer access token of this issuer (Authorization header, or
 * `access_token` in a form body on POST, RFC 6750 §2.1–2.2), unexpired and unrevoked, holding the `openid` scope.
 * Returns `sub` plus the claims the token's scopes allow (`profile` → preferred_username, `roles` → roles). Errors are
 * RFC 6750 §3: no token → 401 with a bare `Bearer` challenge, a bad one → 401 invalid_token, a token without
 * `openid` → 403 insufficient_scope. ID tokens (typ JWT) are not access tokens and are refused, and so are
 * certificate-bound tokens (`cnf`, RFC 8705: the main listener never sees a client certificate to check them with). A successful answer
 * carries Access-Control-Allow-Origin only for an origin the token's client registered.
 *
 * @example
 * const res = await userinfo.handle({ method: 'GET', authorization: 'Bearer eyJ...', contentType: undefined, body: '' });
 */
export class UserinfoEndpoint {
  constructor(
    private readonly deps: {
      tokens: IssuedTokenCheck;
      revocations: { isRevoked(jti: string, now: number): boolean };
      clients: ClientCache;
      clock: Clock;
    },
  ) {}

  async handle(request: UserinfoRequest): Promise<UserinfoResponse> {
    const token = this.tokenOf(request);
    if (token === 'malformed') return challenge(400, 'invalid_request', 'the access token was sent more than one way');
    if (token === undefined) return { status: 401, headers: base({ 'www-authenticate': 'Bearer' }), body: '{}' };
    const now = this.deps.clock.now();
    const claims = this.deps.tokens.claims(token, now);
    if (!claims || this.deps.revocations.isRevoked(String(claims.jti), now)) {
      return challenge(401, 'invalid_token', 'the access token is invalid, expired or revoked');
    }
    // RFC 8705 §3: a certificate-bound token needs its certificate, which this listener never asks for.
    if (claims.cnf !== undefined) {
      return challenge(401, 'invalid_token', 'the access token is bound to a client certificate');
    }
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
    if (!scopes.includes(OPENID)) {
      return challenge(403, 'insufficient_scope', 'the access token lacks the openid scope', OPENID);
    }
    const roles = Array.isArray(claims.roles) ? claims.roles.map(String) : [];
    const sub = String(claims.sub);
    const headers = base({ vary: 'Origin' });
    const client = typeof claims.client_id === 'string' ? await this.deps.clients.get(claims.client_id) : undefined;
    if (request.origin !== undefined && client?.allowedOrigins?.includes(request.origin)) {
      headers['access-control-allow-origin'] = request.origin;
    }
    return { status: 200, headers, body: JSON.stringify({ sub, ...scopedClaims(scopes, { username: sub, roles }) }) };
  }

  private tokenOf(request: UserinfoRequest): string | undefined | 'malformed' {
    const header = request.authorization;
    const bearer = header !== undefined && /^bearer /i.test(header) ? header.slice(7).trim() : undefined;
    let form: string | undefined;
    if (request.method === 'POST' && (request.contentType ?? '').startsWith('application/x-www-form-urlencoded')) {
      const values = new URLSearchParams(request.body).getAll('access_token');
      if (values.length > 1) return 'malformed';
      form = values[0];
    }
    if (bearer !== undefined && form !== undefined) return 'malformed';
    const token = bearer ?? form;
    if (token === undefined || token === '') return undefined;
    return token.length > MAX_TOKEN ? '' : token;
  }
}

function base(extra: Record<string, string>): Record<string, string> {
  return { 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache', ...extra };
}

function challenge(status: number, error: string, description: string, scope?: string): UserinfoResponse {
  const parts = [`error="${error}"`, `error_description="${description}"`, ...(scope ? [`scope="${scope}"`] : [])];
  return {
    status,
    headers: base({ 'www-authenticate': `Bearer ${parts.join(', ')}` }),
    body: JSON.stringify({ error, error_description: description }),
  };
}
