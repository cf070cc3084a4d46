import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Logger } from '../core/index.js';
import type { GatewayPrincipal } from './authenticator.js';
import type { GatewayConfig, RouteConfig } from './gateway_config.js';

/**
 * RFC 9110 §7.6.1 connection-specific fields, never forwarded in either direction (and `Proxy-*`: {@link isProxyField}),
 * plus `Expect`: the listener already answered `100-continue` (and 417 to anything else), and undici refuses to send it.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'expect',
  // HTTP/2's upgrade token (RFC 7540 §3.2.1): hop-by-hop, and a field node refuses to send on HTTP/2.
  'http2-settings',
]);

/**
 * `Proxy-*` fields (`Proxy-Authorization`, `Proxy-Connection`, ...) are meant for the next proxy only, and a bare
 * `Proxy` field is never legitimate: CGI-style upstreams read it as `HTTP_PROXY` (httpoxy, CVE-2016-5385).
 */
function isProxyField(name: string): boolean {
  return name.charCodeAt(0) === 112 /* p */ && (name === 'proxy' || name.startsWith('proxy-'));
}

/** Prefix of the identity headers the gateway sets; copies a caller sends are dropped. */
export const IDENTITY_HEADER_PREFIX = 'x-gatehouse-';

/** `Connection` values that name no other field (the usual ones): nothing more to drop, no set to build. */
const PLAIN_CONNECTION = new Set(['keep-alive', 'close', 'Keep-Alive', 'Close', 'upgrade', 'Upgrade']);

/** Header names listed in `Connection` (they are hop-by-hop too). */
function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined || (typeof value === 'string' && PLAIN_CONNECTION.has(value))) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  return new Set(text.split(',').map((token) => token.trim().toLowerCase()));
}

/** What the gateway adds to a forwarded request. */
export interface ForwardContext {
  clientIp: string;
  /** The socket peer, when it is a trusted proxy (its own X-Forwarded-For is extended, not replaced). */
  trustedPeer: string | undefined;
  requestId: string;
  principal: GatewayPrincipal | undefined;
}

/**
 * Caller credentials the upstream does not get (it gets the verified identity instead): fields left out whole, and
 * whether `Authorization` is left out when it carries a `ghk_` bearer API key.
 */
export interface WithheldCredentials {
  fields: ReadonlySet<string>;
  bearerApiKey: boolean;
}

/** A `jwt` route's: the bearer token, which the upstream could replay. */
const JWT_WITHHELD: WithheldCredentials = { fields: new Set(['authorization']), bearerApiKey: false };

const BEARER_API_KEY = /^bearer\s+ghk_/i;

/**
 * What each route withholds from its upstream: an `api_key` route the API-key header and a bearer API key, a `jwt`
 * route `Authorization` (unless `auth.forwardToken`), a public route nothing. Built once per gateway, so a request
 * allocates nothing for it; the fields are skipped while the headers are copied, never deleted afterwards (a `delete`
 * turns the object into a slow dictionary that undici then walks: 5-6 us per request, measured with perf).
 *
 * @example
 * const withheld = credentialWithholding('x-api-key');
 * upstreamRequestHeaders(req.headers, ctx, withheld(route.auth));
 */
export function credentialWithholding(
  apiKeyHeader: string,
): (auth: RouteConfig['auth']) => WithheldCredentials | undefined {
  const apiKey: WithheldCredentials = { fields: new Set([apiKeyHeader.toLowerCase()]), bearerApiKey: true };
  return (auth) =>
    auth.kind === 'api_key' ? apiKey : auth.kind === 'jwt' && !auth.forwardToken ? JWT_WITHHELD : undefined;
}

/**
 * The headers sent upstream: hop-by-hop fields (with `Proxy` and `Proxy-*`), caller-sent `x-gatehouse-*` and the
 * `withheld` credentials removed; `X-Forwarded-For` (the client, or a trusted proxy's list plus that proxy),
 * `X-Forwarded-Proto: https`, `X-Forwarded-Host`, `X-Request-Id`, and the verified identity (`x-gatehouse-sub`,
 * `-client-id`, `-key-id`, `-auth`, `-scopes`).
 *
 * @example
 * const headers = upstreamRequestHeaders(req.headers, { clientIp, trustedPeer: undefined, requestId, principal });
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  ctx: ForwardContext,
  withheld?: WithheldCredentials,
): Record<string, string> {
  const listed = connectionListed(incoming.connection);
  const out: Record<string, string> = {};
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name) || name.startsWith(IDENTITY_HEADER_PREFIX) || listed?.has(name)) continue;
    if (isProxyField(name)) continue;
    if (name.startsWith('x-forwarded-') || name === 'x-request-id' || name === 'forwarded') continue;
    if (name.includes('_') && spellsManaged(name)) continue;
    const value = incoming[name];
    if (value === undefined) continue;
    if (withheld !== undefined && isWithheld(withheld, name, value)) continue;
    out[name] = Array.isArray(value) ? value.join(name === 'cookie' ? '; ' : ', ') : value;
  }
  const prior = incoming['x-forwarded-for'];
  out['x-forwarded-for'] =
    ctx.trustedPeer !== undefined && prior !== undefined
      ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${ctx.trustedPeer}`
      : ctx.clientIp;
  out['x-forwarded-proto'] = 'https';
  if (incoming.host !== undefined) out['x-forwarded-host'] = incoming.host;
  out['x-request-id'] = ctx.requestId;
  const p = ctx.principal;
  if (p) {
    const identity = identityHeaders(p);
    for (let i = 0; i < identity.length; i += 2) out[identity[i] as string] = identity[i + 1] as string;
  }
  return out;
}

/** The identity headers of each principal, built once (verifiers hand out the same principal for a cached token). */
const identityHeaderLists = new WeakMap<GatewayPrincipal, readonly string[]>();

function identityHeaders(p: GatewayPrincipal): readonly string[] {
  let list = identityHeaderLists.get(p);
  if (list === undefined) {
    const out: string[] = [`${IDENTITY_HEADER_PREFIX}auth`, p.kind];
    if (p.sub !== '') out.push(`${IDENTITY_HEADER_PREFIX}sub`, p.sub);
    if (p.clientId !== '') out.push(`${IDENTITY_HEADER_PREFIX}client-id`, p.clientId);
    if (p.apiKeyId !== undefined) out.push(`${IDENTITY_HEADER_PREFIX}key-id`, p.apiKeyId);
    if (p.scopes.size > 0) out.push(`${IDENTITY_HEADER_PREFIX}scopes`, [...p.scopes].join(' '));
    list = out;
    identityHeaderLists.set(p, list);
  }
  return list;
}

/**
 * The headers sent back to the client: the upstream's minus hop-by-hop fields, plus the request id.
 *
 * @example
 * res.writeHead(status, clientResponseHeaders(upstream.headers, requestId));
 */
export function clientResponseHeaders(
  upstream: Record<string, string | string[] | undefined>,
  requestId: string,
): OutgoingHttpHeaders {
  const listed = connectionListed(upstream['connection']);
  const out: OutgoingHttpHeaders = {};
  for (const name in upstream) {
    if (HOP_BY_HOP.has(name) || listed?.has(name) || isProxyField(name)) continue;
    const value = upstream[name];
    if (value !== undefined) out[name] = value;
  }
  out['x-request-id'] = requestId;
  return out;
}

/**
 * A name with `_` that CGI-style upstreams (WSGI, PHP, Rack: `HTTP_X_GATEHOUSE_SUB`) read as one of the fields the
 * gateway sets or strips (`X-Gatehouse_Sub`, `X_Forwarded_For`): a client could forge an identity or an address with
 * it, so it is dropped like the field it spells.
 */
function spellsManaged(name: string): boolean {
  const n = name.replaceAll('_', '-');
  return (
    n.startsWith(IDENTITY_HEADER_PREFIX) ||
    n.startsWith('x-forwarded-') ||
    n === 'x-request-id' ||
    n === 'forwarded' ||
    isProxyField(n)
  );
}

function isWithheld(withheld: WithheldCredentials, name: string, value: string | string[]): boolean {
  if (withheld.fields.has(name)) return true;
  return withheld.bearerApiKey && name === 'authorization' && typeof value === 'string' && BEARER_API_KEY.test(value);
}

/**
 * Says in the log (`gateway_token_forwarded`, warn) which `jwt` routes send the caller's bearer token on to their
 * upstream (`auth.forwardToken`): a wider exposure of the token than the default, so an explicit, logged opt-in. Called
 * at start and at each reload.
 *
 * @example
 * warnForwardedTokens(config, logger);
 */
export function warnForwardedTokens(config: GatewayConfig, logger: Logger): void {
  const routes = config.routes.filter((r) => r.auth.kind === 'jwt' && r.auth.forwardToken).map((r) => r.name);
  if (routes.length === 0) return;
  logger.warn(
    { event: 'gateway_token_forwarded', routes },
    "routes with auth.forwardToken send the caller's bearer token to their upstream",
  );
}
