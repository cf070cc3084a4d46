import { GatehouseError, type Clock, type Logger } from '../core/index.js';
import { ClientAddresses } from './client_address.js';
import { CanarySplit } from './canary_split.js';
import { CorsPolicy } from './cors_policy.js';
import { HeaderRules } from './header_rules.js';
import { SourceAccess } from './source_access.js';
import type { GatewayConfig, RouteConfig } from './gateway_config.js';
import { compileLimits, type RouteLimits } from './route_limits.js';
import { unfilledPart } from './limit_key.js';
import type { GatewayMetrics } from './gateway_metrics.js';
import { RouteTable } from './route_table.js';
import { upstreamFingerprint, Upstream } from './upstream.js';
import { checkUpstreamMtls, type UpstreamMesh } from './upstream_mtls.js';

/** A route ready to serve. */
export interface CompiledRoute {
  config: RouteConfig;
  limits: RouteLimits;
  upstream: Upstream;
  /** The route's canary (undefined: every request goes to {@link upstream}). */
  canary: CanarySplit | undefined;
  /** The route's CORS policy (undefined: the gateway does no CORS on it). */
  cors: CorsPolicy | undefined;
  /** The route's source address lists (undefined: any address). */
  sources: SourceAccess | undefined;
  /** The route's header rules (undefined: none). */
  headers: HeaderRules | undefined;
}

/** One immutable generation of the gateway's configuration; hot reload swaps it whole. */
export interface GatewayState {
  table: RouteTable<CompiledRoute>;
  addresses: ClientAddresses;
  upstreams: ReadonlyMap<string, Upstream>;
}

/**
 * Builds a state from the `gateway` section, reusing the upstreams of `previous` whose configuration is unchanged
 * (their keep-alive pools, breaker and outlier state survive the reload). Validates everything before anything is
 * built, so a bad configuration throws ERR_CONFIG_INVALID (naming the key path, as the schema's errors do) and leaves
 * the running state untouched.
 *
 * @example
 * const { state, retired } = buildGatewayState(config.gateway, previous, deps);
 */
export function buildGatewayState(
  config: GatewayConfig,
  previous: GatewayState | undefined,
  deps: GatewayStateDeps,
): { state: GatewayState; retired: Upstream[] } {
  const names = new Set<string>();
  const http2 = new Set<string>();
  const trust = new Map<string, string>();
  for (const [i, u] of config.upstreams.entries()) {
    if (names.has(u.name)) throw invalid(`upstreams.${i}.name`, `two upstreams are named ${u.name}`);
    names.add(u.name);
    if (u.caFile !== undefined) trust.set(u.name, readTrustAnchors(u.caFile, `upstreams.${i}.caFile`, deps.readFile));
    if (u.protocol !== 'http/1.1') http2.add(u.name);
    checkUpstreamMtls(u, deps.mesh, `gateway.upstreams.${i}`);
  }
  const limits = new Map<string, RouteLimits>();
  const sources = new Map<string, SourceAccess | undefined>();
  const routeNames = new Set<string>();
  for (const [i, r] of config.routes.entries()) {
    if (!names.has(r.upstream)) {
      throw invalid(`routes.${i}.upstream`, `route ${r.name} names unknown upstream ${r.upstream}`);
    }
    if (r.canary !== undefined) {
      const c = r.canary.upstream;
      if (!names.has(c)) throw invalid(`routes.${i}.canary.upstream`, `route ${r.name} names unknown upstream ${c}`);
      if (c === r.upstream) {
        throw invalid(`routes.${i}.canary.upstream`, `route ${r.name} names its own upstream ${c} as its canary`);
      }
      if (http2.has(c) !== http2.has(r.upstream)) {
        throw invalid(
          `routes.${i}.canary.upstream`,
          `route ${r.name} splits between ${r.upstream} and ${c}, which speak different protocols (HTTP/1.1 and HTTP/2): a canary must speak its primary's`,
        );
      }
    }
    if (r.websocket && http2.has(r.upstream)) {
      throw invalid(
        `routes.${i}.websocket`,
        `route ${r.name} carries WebSocket handshakes (HTTP/1.1 Upgrade) to upstream ${r.upstream}, which speaks HTTP/2 (h2c or h2)`,
      );
    }
    if (r.grpcWeb && !http2.has(r.upstream)) {
      throw invalid(
        `routes.${i}.grpcWeb`,
        `route ${r.name} translates gRPC-Web to gRPC, which upstream ${r.upstream} does not speak (it needs protocol h2c or h2)`,
      );
    }
    if (r.cors !== undefined && r.waf.mode !== 'off' && !r.waf.methods.includes('OPTIONS')) {
      throw invalid(
        `routes.${i}.cors`,
        `route ${r.name} answers CORS preflights, which are OPTIONS requests its waf.methods refuse (add OPTIONS)`,
      );
    }
    if (routeNames.has(r.name)) throw invalid(`routes.${i}.name`, `two routes are named ${r.name}`);
    routeNames.add(r.name);
    const seen = new Set<string>();
    for (const [j, l] of r.limits.entries()) {
      if (seen.has(l.name)) {
        throw invalid(`routes.${i}.limits.${j}.name`, `route ${r.name} has two limits named ${l.name}`);
      }
      seen.add(l.name);
      const unfilled = unfilledPart(l.key, r.auth.kind);
      if (unfilled !== undefined) {
        throw invalid(
          `routes.${i}.limits.${j}.key`,
          `limit ${l.name} of route ${r.name} counts by ${unfilled}, which a route with auth.kind ${r.auth.kind} never has (every caller would share one counter; count by ip or route instead)`,
        );
      }
    }
    limits.set(r.name, compileLimits(r.limits));
    sources.set(r.name, SourceAccess.of(r.sources, `gateway.routes.${i}.sources`));
  }
  const addresses = new ClientAddresses(config.trustedProxies);
  new RouteTable(config.routes.map((route) => ({ route, value: null }))); // validates before any pool is created
  const upstreams = new Map<string, Upstream>();
  for (const u of config.upstreams) {
    const old = previous?.upstreams.get(u.name);
    const ca = trust.get(u.name);
    // A CA file rewritten under the same name is a change too: the fingerprint covers its content.
    const fingerprint = upstreamFingerprint(u, ca);
    upstreams.set(
      u.name,
      old && old.fingerprint === fingerprint ? old : new Upstream(u, { ...deps, ...(ca === undefined ? {} : { ca }) }),
    );
  }
  const entries = config.routes.map((route) => ({
    route,
    value: {
      config: route,
      limits: limits.get(route.name) as RouteLimits,
      upstream: upstreams.get(route.upstream) as Upstream,
      canary:
        route.canary === undefined
          ? undefined
          : new CanarySplit(upstreams.get(route.canary.upstream) as Upstream, route.canary),
      sources: sources.get(route.name),
      headers: HeaderRules.of(route.headers),
      cors:
        route.cors === undefined
          ? undefined
          : new CorsPolicy(route.cors, {
              authKind: route.auth.kind,
              apiKeyHeader: deps.apiKeyHeader ?? 'x-api-key',
              grpcWeb: route.grpcWeb,
            }),
    },
  }));
  const table = new RouteTable(entries);
  const kept = new Set(upstreams.values());
  const retired = previous ? [...previous.upstreams.values()].filter((u) => !kept.has(u)) : [];
  return { state: { table, addresses, upstreams }, retired };
}

/** What building a state needs besides the configuration. */
export interface GatewayStateDeps {
  clock: Clock;
  logger: Logger;
  metrics: GatewayMetrics;
  mesh?: UpstreamMesh;
  /** The header API keys arrive in (allowed in CORS preflights of `api_key` routes); default x-api-key. */
  apiKeyHeader?: string;
  /** Reads a file the configuration names (`caFile`); unset: such a configuration is refused. */
  readFile?: (path: string) => string;
}

/** An upstream's `caFile` as PEM, or ERR_CONFIG_INVALID naming `key` (unreadable, or holding no certificate). */
function readTrustAnchors(file: string, key: string, readFile: ((path: string) => string) | undefined): string {
  if (readFile === undefined) throw invalid(key, `${file}: this gateway reads no files`);
  let pem: string;
  try {
    pem = readFile(file);
  } catch (err) {
    throw invalid(key, `cannot read ${file}: ${(err as Error).message}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw invalid(key, `${file} holds no PEM certificate`);
  return pem;
}

/** ERR_CONFIG_INVALID naming the key below `gateway` as the schema's errors do (`config: gateway.routes.2.upstream: ...`). */
function invalid(key: string, message: string): GatehouseError {
  return new GatehouseError('ERR_CONFIG_INVALID', { message: `config: gateway.${key}: ${message}` });
}
