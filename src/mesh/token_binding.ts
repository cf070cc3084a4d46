import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { GatehouseError } from '../core/index.js';
import type { TokenBindingCheck } from './ports.js';

const BEARER = /^bearer +([^\s,]+)\s*$/i;

/**
 * Whether a request passes the inbound token-binding check: requests without a Bearer token pass; a Bearer token is
 * judged by `check` against the caller's certificate thumbprint (undefined without mTLS).
 *
 * @example
 * if (!(await tokenBindingAllows(check, req.headers, peer?.fingerprint))) return refuseBoundToken(res);
 */
export async function tokenBindingAllows(
  check: TokenBindingCheck,
  headers: IncomingHttpHeaders,
  thumbprint: string | undefined,
): Promise<boolean> {
  const authorization = headers.authorization;
  if (authorization === undefined) return true;
  const bearer = BEARER.exec(authorization);
  if (bearer === null) return true;
  try {
    return await check(bearer[1] as string, thumbprint);
  } catch {
    return false;
  }
}

/**
 * The RFC 6750 answer for a bound token on the wrong connection: 401 with `WWW-Authenticate: Bearer
 * error="invalid_token"` and an application/problem+json body (code ERR_TOKEN_INVALID).
 *
 * @example
 * refuseBoundToken(res);
 */
export function refuseBoundToken(res: ServerResponse): void {
  const err = new GatehouseError('ERR_TOKEN_INVALID');
  const body = JSON.stringify({
    type: 'about:blank',
    title: err.message,
    status: err.status,
    code: err.code,
    detail: 'the access token is bound to a client certificate this connection does not present',
  });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(err.status, {
    'content-type': 'application/problem+json',
    'content-length': String(Buffer.byteLength(body)),
    'www-authenticate':
      'Bearer error="invalid_token", error_description="The access token is bound to a client certificate this connection does not present"',
  });
  res.end(body);
}
