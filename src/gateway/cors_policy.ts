import type { RouteConfig } from './gateway_config.js';

/** The `cors` block of a route, as the schema leaves it (durations in ms). */
export type CorsConfig = NonNullable<RouteConfig['cors']>;

/** What a route itself needs a browser to send, allowed on every CORS route besides `allowHeaders`. */
export interface CorsRouteNeeds {
  /** `none`, `jwt` or `api_key`: the credential header the route reads is allowed. */
  authKind: RouteConfig['auth']['kind'];
  /** The header API keys arrive in (besides `Authorization: Bearer`). */
  apiKeyHeader: string;
  /** gRPC-Web routes allow and expose the headers grpc-web clients send and read. */
  grpcWeb: boolean;
}

/** The verdict on a preflight: the headers of its 204, or why it is refused. */
export type PreflightVerdict = { allowed: true; headers: Record<string, string> } | { allowed: false; reason: string };

/** Request headers a browser never has to ask for (the Fetch standard's CORS-safelisted names, content-type aside). */
const SAFELISTED = new Set(['accept', 'accept-language', 'content-language']);

/** Response headers every CORS route lets scripts read: the request id and the rate-limit answer. */
const EXPOSED = ['x-request-id', 'retry-after', 'ratelimit', 'ratelimit-policy'];

/** What grpc-web clients (grpc-web, Connect, Improbable's) send and read, as Envoy's grpc_web examples allow. */
const GRPC_WEB_REQUEST = ['x-grpc-web', 'x-user-agent', 'grpc-timeout'];
const GRPC_WEB_RESPONSE = ['grpc-status', 'grpc-message', 'grpc-status-details-bin'];

/** How a preflight's answer may be cached by the browser varies by these (Fetch §3.2.5). */
const PREFLIGHT_VARY = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';

/**
 * A route's CORS policy (the Fetch standard's CORS protocol, as Envoy's cors filter and Kong's cors plugin answer
 * it): which origins may read the route's answers from a browser, with which methods and request headers, and which
 * answer headers their scripts may read. Built once per configuration generation; the checks are set lookups.
 *
 * Origins are exact (`https://app.example.com`), a subdomain wildcard (`https://*.example.com`: any host under
 * example.com, not example.com itself) or `*` (any origin, never with credentials).
 *
 * @example
 * const cors = new CorsPolicy(route.cors, { authKind: 'jwt', apiKeyHeader: 'x-api-key', grpcWeb: false });
 * cors.preflight('https://app.example.com', 'PUT', 'authorization, content-type');
 */
export class CorsPolicy {
  private readonly exact: ReadonlySet<string>;
  private readonly wildcards: readonly { prefix: string; suffix: string }[];
  private readonly anyOrigin: boolean;
  private readonly credentials: boolean;
  private readonly methods: ReadonlySet<string>;
  /** Lowercase names; undefined: any header (`allowHeaders: ['*']`). */
  private readonly headers: ReadonlySet<string> | undefined;
  private readonly preflightFixed: Record<string, string>;
  private readonly exposed: string;
  /** `Vary: Origin` on every answer unless every origin gets the same `*`. */
  readonly vary: string | undefined;
  /** The fields of every answer under `*` without credentials. */
  private readonly everyone: Readonly<Record<string, string>>;

  constructor(config: CorsConfig, needs: CorsRouteNeeds) {
    this.anyOrigin = config.allowOrigins.includes('*');
    this.credentials = config.allowCredentials;
    this.exact = new Set(config.allowOrigins.filter((o) => o !== '*' && !o.includes('://*.')));
    this.wildcards = config.allowOrigins
      .filter((o) => o.includes('://*.'))
      .map((o) => {
        const [scheme, rest] = o.split('://*') as [string, string];
        return { prefix: `${scheme}://`, suffix: rest };
      });
    this.methods = new Set(config.allowMethods);
    const own = ['content-type', 'x-request-id'];
    if (needs.authKind === 'jwt') own.push('authorization');
    if (needs.authKind === 'api_key') own.push('authorization', needs.apiKeyHeader.toLowerCase());
    if (needs.grpcWeb) own.push(...GRPC_WEB_REQUEST);
    const any = config.allowHeaders.includes('*');
    const allowed = unique([...own, ...config.allowHeaders.filter((h) => h !== '*').map((h) => h.toLowerCase())]);
    this.headers = any ? undefined : new Set(allowed);
    this.preflightFixed = {
      'access-control-allow-methods': config.allowMethods.join(', '),
      'access-control-max-age': String(Math.floor(config.maxAge / 1000)),
      ...(any ? {} : { 'access-control-allow-headers': allowed.join(', ') }),
      ...(this.credentials ? { 'access-control-allow-credentials': 'true' } : {}),
      vary: PREFLIGHT_VARY,
    };
    const exposed = [...EXPOSED, ...(needs.grpcWeb ? GRPC_WEB_RESPONSE : []), ...config.exposeHeaders];
    this.exposed = unique(exposed.map((h) => h.toLowerCase())).join(', ');
    this.vary = this.anyOrigin && !this.credentials ? undefined : 'Origin';
    this.everyone = { 'access-control-allow-origin': '*', 'access-control-expose-headers': this.exposed };
  }

  /** Whether `origin` (an `Origin` header as browsers serialize it) may read the route's answers. */
  allows(origin: string): boolean {
    if (this.anyOrigin || this.exact.has(origin)) return true;
    for (const w of this.wildcards) {
      if (
        origin.length > w.prefix.length + w.suffix.length &&
        origin.startsWith(w.prefix) &&
        origin.endsWith(w.suffix)
      ) {
        const label = origin.slice(w.prefix.length, origin.length - w.suffix.length);
        if (/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(label)) return true;
      }
    }
    return false;
  }

  /**
   * The answer to a preflight (an OPTIONS request with `Access-Control-Request-Method`): allowed when the origin, the
   * method and every requested header are; the reason names what was not.
   */
  preflight(origin: string, method: string, requestHeaders: string | undefined): PreflightVerdict {
    if (!this.allows(origin)) return { allowed: false, reason: `origin ${origin} is not allowed` };
    if (!this.methods.has(method)) return { allowed: false, reason: `method ${method} is not allowed` };
    const asked = parseHeaderList(requestHeaders);
    if (this.headers !== undefined) {
      for (const name of asked) {
        if (!this.headers.has(name) && !SAFELISTED.has(name)) {
          return { allowed: false, reason: `request header ${name} is not allowed` };
        }
      }
    }
    const headers: Record<string, string> = { 'access-control-allow-origin': this.allowOrigin(origin) };
    Object.assign(headers, this.preflightFixed);
    if (this.headers === undefined) {
      // `allowHeaders: ['*']` echoes what was asked: a literal `*` would not cover Authorization, nor anything with
      // credentials.
      if (asked.length > 0) headers['access-control-allow-headers'] = asked.join(', ');
    } else {
      // A safelisted name is asked for only when its value is not safelisted (Fetch: over 128 bytes, or characters
      // such as `"` or `:`); the browser then needs it named in the answer.
      const listed = this.headers;
      const extra = asked.filter((name) => !listed.has(name));
      if (extra.length > 0) {
        const fixed = this.preflightFixed['access-control-allow-headers'];
        headers['access-control-allow-headers'] =
          fixed === undefined ? extra.join(', ') : `${fixed}, ${extra.join(', ')}`;
      }
    }
    return { allowed: true, headers };
  }

  /**
   * The CORS fields of the answer to an actual request from `origin` (undefined: none). A policy of `*` without
   * credentials gives every answer the same fields, `Origin` or not (Fetch §3.2.5: nothing then varies by origin, so a
   * shared cache may hand any of them to anyone); otherwise an origin not allowed, or none, gets only `Vary: Origin`.
   */
  answerHeaders(origin: string | undefined): Record<string, string> | undefined {
    if (this.vary === undefined) return this.everyone;
    if (origin === undefined || !this.allows(origin)) return { vary: this.vary };
    const headers: Record<string, string> = {
      'access-control-allow-origin': this.allowOrigin(origin),
      'access-control-expose-headers': this.exposed,
    };
    if (this.credentials) headers['access-control-allow-credentials'] = 'true';
    if (this.vary !== undefined) headers['vary'] = this.vary;
    return headers;
  }

  private allowOrigin(origin: string): string {
    return this.anyOrigin && !this.credentials ? '*' : origin;
  }
}

/**
 * Removes the upstream's `Access-Control-*` fields from an answer on a route with a CORS policy: the gateway's policy
 * is the one in force, and an upstream's `*` must not reach an origin the policy does not allow.
 */
export function dropCorsFields(out: Record<string, unknown>): void {
  for (const name in out) if (name.startsWith('access-control-')) delete out[name];
}

/** The names of an `Access-Control-Request-Headers` value, lowercase, in order. */
function parseHeaderList(value: string | undefined): string[] {
  if (value === undefined) return [];
  const names: string[] = [];
  for (const part of value.split(',')) {
    const name = part.trim().toLowerCase();
    if (name !== '') names.push(name);
  }
  return names;
}

function unique(names: string[]): string[] {
  return [...new Set(names)];
}
