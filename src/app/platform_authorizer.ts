import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { GatehouseError, type Clock, type Logger } from '../core/index.js';
import { ADMIN_TOKEN_ACTOR, ADMIN_TOKEN_CALL, type AdminCall, type KmsAuthorizer } from '../http/index.js';
import { IDENTITY_API_KEY_PREFIX } from '../identity/index.js';
import { checkCertificateBinding, peerCertificateThumbprint, type CertificateThumbprint } from '../resource/index.js';
import type { IdentityServer } from './identity_server.js';
import type { WorkloadCertificates } from './workload_certificates.js';

/** Who is calling one of the platform's own APIs, and what it may do. */
export interface PlatformCaller {
  /** For audit lines: `admin`, `client:<client_id>`, `api_key:<key id>` or `spiffe:<SPIFFE ID>`. */
  principal: string;
  kind: 'admin_token' | 'access_token' | 'api_key' | 'workload';
  /** A workload certificate's client (the one client whose `spiffeIds` hold its SPIFFE ID). */
  client?: string;
  /** Granted scopes; the admin token holds every permission. */
  scopes: ReadonlySet<string>;
}

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,8192})$/;

/** The `admin` scope: every permission of the KMS, object and admin APIs. */
export const ADMIN_SCOPE = 'admin';

/**
 * Whether `caller` holds `permission`. Deny by default: the admin token and the `admin` scope hold everything;
 * otherwise the scope must equal the permission (`kms:encrypt:<key>`, `kms:decrypt:<key>`, `kms:rewrap:<key>`,
 * `kms:datakey-plaintext:<key>`, `object:read:<bucket>`, `object:write:<bucket>`), except that the wrapped-only
 * `kms:datakey:<key>` is also allowed by `kms:datakey-plaintext:<key>`. `kms:admin` and `admin` need `admin`.
 *
 * @example
 * permits(caller, 'kms:encrypt:orders'); // true only with that scope (or admin)
 */
export function permits(caller: PlatformCaller, permission: string): boolean {
  if (caller.kind === 'admin_token' || caller.scopes.has(ADMIN_SCOPE)) return true;
  if (permission === 'kms:admin' || permission === ADMIN_SCOPE) return false;
  if (caller.scopes.has(permission)) return true;
  const datakey = /^kms:datakey:(.+)$/.exec(permission);
  return datakey !== null && caller.scopes.has(`kms:datakey-plaintext:${datakey[1] as string}`);
}

/**
 * Recognizes the callers of the platform's own APIs: `Authorization: Bearer` with the admin token, one of our access
 * tokens for the platform audience (verified in process with the identity signing keys, revocation list checked) or
 * an API key (also in the API key header); all checks are synchronous and in memory.
 *
 * @example
 * const callers = platformCallers({ identity, checkAdminToken: (t) => adminToken.check(t), apiKeyHeader: 'x-api-key', clock });
 * const caller = callers.identify(request.headers); // undefined: no or invalid credentials
 */
export function platformCallers(deps: {
  identity: IdentityServer;
  checkAdminToken: (token: string) => boolean;
  apiKeyHeader: string;
  /**
   * The `aud` an access token must carry here (`identity.platformAudience`): a scope named `admin` or `kms:…` that
   * some other API defines for its own tokens grants nothing on the platform.
   */
  platformAudience: string;
  clock: Clock;
  /** Audit of admin API calls made with an access token or API key (`authorization.granted`, principal named). */
  logger?: Logger;
}) {
  const { identity, clock } = deps;
  const audit = deps.logger?.child({ audit: true, component: 'authorizer' });
  const byCredential = (credential: string, thumbprint?: CertificateThumbprint): PlatformCaller | undefined => {
    const now = clock.now();
    if (credential.startsWith(IDENTITY_API_KEY_PREFIX)) {
      const key = identity.apiKeys.index.verify(credential);
      if (key === undefined || identity.revocations.isRevoked(key.id, now)) return undefined;
      return { principal: `api_key:${key.id}`, kind: 'api_key', scopes: new Set(key.scopes) };
    }
    if (deps.checkAdminToken(credential))
      return { principal: ADMIN_TOKEN_ACTOR, kind: 'admin_token', scopes: new Set() };
    const claims = identity.tokens.claims(credential, now);
    if (claims === undefined || identity.revocations.isRevoked(claims['jti'] as string, now)) return undefined;
    if (!bindingHolds(claims, thumbprint)) return undefined;
    const aud = claims['aud'];
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (!audiences.includes(deps.platformAudience)) return undefined;
    const scope = typeof claims['scope'] === 'string' ? claims['scope'] : '';
    return {
      principal: `client:${String(claims['client_id'] ?? claims['sub'])}`,
      kind: 'access_token',
      scopes: new Set(scope.split(' ').filter((s) => s !== '')),
    };
  };
  return {
    /** Whether the request carries a credential (`Authorization` or the API key header): then it alone decides. */
    hasCredential(headers: Record<string, string | string[] | undefined>): boolean {
      return headers['authorization'] !== undefined || headers[deps.apiKeyHeader] !== undefined;
    },
    /**
     * The caller for a workload certificate's SPIFFE ID (already verified): the one client listing it in `spiffeIds`
     * acts, with those of its scopes that the platform API (`platformAudience`) defines, if the client names that
     * audience (none otherwise: authenticated, allowed nothing). No client or several: a refusal reason.
     */
    async workload(spiffeId: string): Promise<PlatformCaller | { refused: 'no_client' | 'several_clients' }> {
      const holders = await identity.clients.bySpiffeId.clientsOf(spiffeId);
      if (holders.length === 0) return { refused: 'no_client' };
      if (holders.length > 1) return { refused: 'several_clients' };
      const client = holders[0] as (typeof holders)[number];
      const api = client.audiences.includes(deps.platformAudience)
        ? await identity.apiCatalog.get(deps.platformAudience)
        : undefined;
      const defined = new Set(api?.scopes.map((s) => s.name) ?? []);
      return {
        principal: `spiffe:${spiffeId}`,
        kind: 'workload',
        client: client.clientId,
        scopes: new Set(client.scopes.filter((s) => defined.has(s))),
      };
    },
    /**
     * The caller of a request, or undefined without valid credentials (two credentials at once: undefined). A
     * certificate-bound access token counts only with `thumbprint`, the connection's client certificate, matching.
     */
    identify(
      headers: Record<string, string | string[] | undefined>,
      thumbprint?: CertificateThumbprint,
    ): PlatformCaller | undefined {
      const authorization = headers['authorization'];
      const apiKey = headers[deps.apiKeyHeader];
      if (Array.isArray(authorization) || Array.isArray(apiKey)) return undefined;
      if (authorization !== undefined && apiKey !== undefined) return undefined;
      if (typeof apiKey === 'string') return byCredential(apiKey.trim(), thumbprint);
      const match = typeof authorization === 'string' ? BEARER.exec(authorization) : null;
      return match ? byCredential(match[1] as string, thumbprint) : undefined;
    },
    /**
     * The admin API's bearer check: the call admitted (its principal as `actor`) for the admin token or a credential with
     * the `admin` scope, 'forbidden' for another valid credential, false for none.
     */
    adminCheck(token: string): AdminCall | false | 'forbidden' {
      const caller = byCredential(token);
      if (caller === undefined) return false;
      const allowed = permits(caller, ADMIN_SCOPE);
      if (caller.kind !== 'admin_token') {
        audit?.info(
          {
            event: allowed ? 'authorization.granted' : 'authorization.denied',
            principal: caller.principal,
            permission: ADMIN_SCOPE,
          },
          'admin API caller',
        );
      }
      if (!allowed) return 'forbidden';
      return caller.kind === 'admin_token' ? ADMIN_TOKEN_CALL : { actor: caller.principal };
    },
  };
}

/** RFC 8705 §3: a certificate-bound token holds only on a connection with its certificate; a bearer token always. */
function bindingHolds(claims: Readonly<Record<string, unknown>>, thumbprint: CertificateThumbprint): boolean {
  try {
    checkCertificateBinding(claims, thumbprint);
    return true;
  } catch {
    return false;
  }
}

/** The callers recognizer {@link platformCallers} returns. */
export type PlatformCallers = ReturnType<typeof platformCallers>;

type Headers = Record<string, string | string[] | undefined>;

/**
 * The caller of a request on a listener that takes workload certificates: a credential in the headers decides alone;
 * without one, the connection's certificate (none: undefined; refused, or a SPIFFE ID held by no client or several:
 * ERR_WORKLOAD_CERTIFICATE_REFUSED, audited as `authentication.refused` with the reason).
 */
function requestCaller(
  deps: { callers: PlatformCallers; workloads: WorkloadCertificates | undefined; audit: Logger },
  headers: Headers,
  permission: string,
  socket: Socket | undefined,
): PlatformCaller | undefined | Promise<PlatformCaller | undefined> {
  const { callers, workloads, audit } = deps;
  if (workloads === undefined || socket === undefined || callers.hasCredential(headers)) {
    return callers.identify(headers, socket === undefined ? undefined : () => peerCertificateThumbprint(socket));
  }
  const refuse = (fields: Record<string, unknown>): never => {
    audit.warn({ event: 'authentication.refused', ...fields, permission }, 'workload certificate refused');
    throw new GatehouseError('ERR_WORKLOAD_CERTIFICATE_REFUSED');
  };
  const presented = workloads.of(socket as TLSSocket);
  if (presented.kind === 'none') return undefined;
  if (presented.kind === 'refused') {
    const who = presented.spiffeId === undefined ? {} : { principal: `spiffe:${presented.spiffeId}` };
    return refuse({ ...who, reason: presented.reason });
  }
  return callers
    .workload(presented.spiffeId)
    .then((caller) =>
      'refused' in caller ? refuse({ principal: `spiffe:${presented.spiffeId}`, reason: caller.refused }) : caller,
    );
}

/**
 * The KMS transit API's authorizer: the admin token, our access tokens and API keys, with per-key scopes
 * (ERR_KMS_UNAUTHORIZED without valid credentials, ERR_KMS_FORBIDDEN without the permission). With `workloads`, a
 * request without `Authorization` or API key on a connection that presented a client certificate is authorized by
 * it: a valid SVID of ours whose SPIFFE ID exactly one client holds acts as that client ({@link PlatformCallers}
 * `workload`); a refused certificate or an unknown SPIFFE ID is ERR_WORKLOAD_CERTIFICATE_REFUSED (401), never
 * anonymous. A credential in the headers always decides, certificate or not. Every refusal is audited with the
 * caller's identity (the routes audit every call as well).
 *
 * @example
 * registerKmsRoutes(kms.app, { ops, authorizer: platformKmsAuthorizer(callers, logger, workloads), logger, maxBatchItems });
 */
export function platformKmsAuthorizer(
  callers: PlatformCallers,
  logger: Logger,
  workloads?: WorkloadCertificates,
): KmsAuthorizer {
  const audit = logger.child({ audit: true, component: 'authorizer' });
  return {
    async authorize(headers, permission, socket) {
      const caller = await requestCaller({ callers, workloads, audit }, headers, permission, socket);
      if (caller === undefined) throw new GatehouseError('ERR_KMS_UNAUTHORIZED');
      const client = caller.client === undefined ? {} : { client: caller.client };
      if (!permission.startsWith('kms:') || !permits(caller, permission)) {
        audit.warn(
          { event: 'authorization.denied', principal: caller.principal, ...client, permission },
          'permission denied',
        );
        throw new GatehouseError('ERR_KMS_FORBIDDEN');
      }
      return { principal: caller.principal, ...client };
    },
  };
}

/**
 * The object API's authorizer: `object:read:<bucket>` / `object:write:<bucket>` (or `admin`), 401 without valid
 * credentials (ERR_ADMIN_UNAUTHORIZED), 403 without the permission (ERR_ADMIN_FORBIDDEN); returns the caller's
 * principal for the object audit lines (`admin-token` for the admin token).
 * With `workloads`, workload certificates count as on the KMS API ({@link platformKmsAuthorizer}).
 *
 * @example
 * const actor = await platformObjectAuthorizer(callers, logger)(request.headers, 'object:read:invoices');
 */
export function platformObjectAuthorizer(callers: PlatformCallers, logger: Logger, workloads?: WorkloadCertificates) {
  const audit = logger.child({ audit: true, component: 'authorizer' });
  return async (headers: Headers, permission: string, socket?: Socket): Promise<string> => {
    const caller = await requestCaller({ callers, workloads, audit }, headers, permission, socket);
    if (caller === undefined) throw new GatehouseError('ERR_ADMIN_UNAUTHORIZED');
    const client = caller.client === undefined ? {} : { client: caller.client };
    if (!permits(caller, permission)) {
      audit.warn(
        { event: 'authorization.denied', principal: caller.principal, ...client, permission },
        'permission denied',
      );
      throw new GatehouseError('ERR_ADMIN_FORBIDDEN');
    }
    audit.info(
      { event: 'authorization.granted', principal: caller.principal, ...client, permission },
      'object API caller',
    );
    return caller.principal;
  };
}
