// The `gateway` section of the configuration schema (docs/gateway.md); the per-route rule blocks are in
// schema_route_rules.ts.
import { z } from 'zod';
import { normalizeRequestTarget } from '../core/index.js';
import { duration, policyName, caConnection, positive, retrySettings, tunnelSettings } from './schema_fields.js';
import { corsRule, headerRuleSide, wafRule } from './schema_route_rules.js';

/** The largest Structured Field integer (RFC 9651 §3.3.1: at most 15 digits), as sent in the RateLimit headers. */
const SF_INTEGER_MAX = 999_999_999_999_999;

/** The longest throttle wait: a delayed request holds its connection open (and a timer) all along. */
const MAX_THROTTLE_WAIT_MS = 3_600_000;

/** An upstream origin: http or https, a host and an optional port, nothing else (the request path is appended). */
const origin = z.string().refine(
  (text) => {
    if (!URL.canParse(text)) return false;
    const u = new URL(text);
    const bare = u.pathname === '/' && u.search === '' && u.hash === '' && u.username === '' && u.password === '';
    return (u.protocol === 'http:' || u.protocol === 'https:') && bare && !text.endsWith('?') && !text.endsWith('#');
  },
  { message: 'expected an origin such as http://10.1.0.11:8080 (http or https, no path, query or credentials)' },
);

/** The `gateway` section: routes, upstreams, trusted proxies (docs/gateway.md). */
export function gatewaySection() {
  const limit = z.strictObject({
    name: policyName.describe('Policy name, sent in RateLimit-Policy.'),
    key: z
      .array(z.enum(['api_key', 'client', 'user', 'ip', 'route']))
      .min(1)
      .describe(
        'What the limit counts per: API key, client (an API key without an owner is its own), user, source address (IPv6 by /64), route, or a combination; routes with `auth.kind: none` count by ip and route only, `jwt` routes not by api_key.',
      ),
    rate: z
      .number()
      .int()
      .min(1)
      .max(SF_INTEGER_MAX, 'at most 15 digits (RateLimit-Policy sends it as a Structured Field integer)')
      .describe('Requests admitted per `per`.'),
    per: positive(duration('1s', 'The period of `rate`.')),
    burst: z
      .number()
      .int()
      .min(0)
      .max(SF_INTEGER_MAX, 'at most 15 digits (RateLimit sends the remaining count as a Structured Field integer)')
      .default(0)
      .describe('Extra requests admitted at once.'),
    tier: z
      .enum(['local', 'global'])
      .default('local')
      .describe('local = in process; global = Redis, shared by gateways.'),
    shadow: z.boolean().default(false).describe('Count over-limit requests, do not enforce.'),
    failure: z
      .enum(['open', 'closed'])
      .default('open')
      .describe('When Redis is unreachable: admit (open) or 503 (closed).'),
    throttle: z
      .strictObject({
        maxWait: duration(
          '500ms',
          "Longest delay before a 429; above zero and at most 1h (for nginx's `limit_req ... nodelay`, leave `throttle` out: `burst` is admitted at once).",
        )
          .refine(
            (ms) => ms > 0,
            "expected a duration above zero: a throttle that never waits delays nothing (nginx's nodelay is a limit with burst and no throttle)",
          )
          .refine(
            (ms) => Number.isInteger(ms) && ms <= MAX_THROTTLE_WAIT_MS,
            'expected whole milliseconds, at most 1h: a request is held open while it waits',
          ),
        maxQueue: z
          .number()
          .int()
          .min(1)
          .max(10_000)
          .default(100)
          .describe('Requests waiting per key in each gateway process (global tier: sleeping on a reservation).'),
      })
      .optional()
      .describe(
        'Delay requests over the limit instead of rejecting them at once; on the global tier Redis reserves each delayed request its slot, shared by every gateway. Shadow limits never delay.',
      ),
  });
  const route = z.strictObject({
    name: policyName.describe('Route name (metrics label).'),
    host: z
      .string()
      .regex(
        /^(\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+)$/,
        'expected a host name or address without a port, e.g. api.example.com',
      )
      .optional()
      .describe('Host header to match (no port); unset = any host.'),
    pathPrefix: z
      .string()
      .regex(/^\//, 'expected a path starting with /')
      .refine((p) => !p.includes('?') && normalizeRequestTarget(p) === p, {
        message:
          'expected a normalized path (no // or dot segments, no query; escapes of letters, digits and -._~ decoded, others uppercased, e.g. /a/%2Fb): requests are routed on their normalized path, so this prefix would never match',
      })
      .describe('Path prefix to match (normalized: requests are routed on their normalized path).'),
    prefixRewrite: z
      .string()
      .regex(/^\//, 'expected a path starting with /')
      .refine((p) => !p.includes('?') && normalizeRequestTarget(p) === p, {
        message: 'expected a normalized path (no // or dot segments, no query), e.g. / or /v1',
      })
      .optional()
      .describe(
        "Replaces the matched `pathPrefix` in the path sent upstream, one slash where they join (Envoy's prefix_rewrite; `/` strips the prefix as Kong's strip_path); the upstream gets the original prefix in X-Forwarded-Prefix. Unset: the path is sent as routed.",
      ),
    upstream: z.string().describe('Name of the upstream requests go to.'),
    canary: z
      .strictObject({
        upstream: z.string().describe('Name of the upstream the canary share goes to (the new version).'),
        percent: z
          .number()
          .min(0)
          .max(100)
          .refine((p) => Math.abs(p * 100 - Math.round(p * 100)) < 1e-6, {
            message: 'expected at most two decimals (0.01 is one request in 10,000)',
          })
          .describe('Share of requests sent to the canary, 0–100, at most two decimals (0.25 is one in 400).'),
        hashOn: z
          .enum(['none', 'client', 'address'])
          .default('none')
          .describe(
            "`none`: each request drawn at random; `client`: the authenticated caller (a JWT's subject, an API key's id; the address for an anonymous call) decides, so one caller stays on one side; `address`: the client address decides.",
          ),
        header: z
          .strictObject({
            name: z
              .string()
              .regex(/^[a-z0-9-]+$/, 'expected a lowercase field name')
              .describe('Request field name.'),
            value: z.string().min(1).describe('Its value, compared exactly.'),
          })
          .optional()
          .describe('Requests carrying this field with this value always go to the canary (testers, smoke tests).'),
      })
      .optional()
      .describe(
        'Canary release (Kong\'s canary plugin, Envoy\'s weighted clusters): `percent` of the requests go to `canary.upstream` instead of `upstream`, both speaking the same protocol (docs/gateway.md "Canary releases"). Reloadable: raise the percent, then swap `upstream`.',
      ),
    auth: z
      .strictObject({
        kind: z.enum(['none', 'jwt', 'api_key']).default('none').describe('How callers authenticate.'),
        scopes: z.array(z.string()).default([]).describe('Every one of these scopes is required.'),
        anyScopes: z.array(z.string()).default([]).describe('At least one of these scopes is required.'),
        roles: z.array(z.string()).default([]).describe('Every one of these roles is required.'),
        forwardToken: z
          .boolean()
          .default(false)
          .describe(
            "`jwt` routes: send the caller's `Authorization` header on to the upstream. Off by default: the upstream gets the verified identity (`x-gatehouse-*`) and not a bearer token it could replay (Envoy's jwt_authn `forward`, Istio's `forwardOriginalToken`). Turn on for an upstream that verifies the token again or relays it; logged as `gateway_token_forwarded` (warn) at start and reload.",
          ),
      })
      .refine((a) => !a.forwardToken || a.kind === 'jwt', {
        message: 'forwardToken applies to `jwt` routes only (API keys are never forwarded)',
        path: ['forwardToken'],
      })
      .prefault({})
      .describe('Authentication and authorization of the route.'),
    limits: z.array(limit).default([]).describe('Rate limits, all of which must admit a request.'),
    waf: wafRule().describe('WAF rules of the route (docs/waf.md).'),
    cache: z
      .strictObject({
        enabled: z.boolean().default(false).describe('Serve GET/HEAD from the shared response cache (RFC 9111).'),
      })
      .prefault({})
      .describe('Response cache of the route (docs/gateway-cache.md).'),
    grpcWeb: z
      .boolean()
      .default(false)
      .describe(
        'Translate gRPC-Web calls (`application/grpc-web`, `application/grpc-web-text`, from browsers) to gRPC for the route\'s upstream, which must speak HTTP/2 (`protocol: h2c` or `h2`; Envoy\'s grpc_web filter); other requests pass unchanged (docs/gateway.md "gRPC-Web").',
      ),
    sources: z
      .strictObject({
        allow: z
          .array(z.string())
          .default([])
          .describe('CIDRs (or addresses) allowed to call the route; empty = any address.'),
        deny: z.array(z.string()).default([]).describe('CIDRs (or addresses) refused, even when `allow` lists them.'),
      })
      .prefault({})
      .describe(
        'Source address lists of the route, judged on the client address (X-Forwarded-For behind `trustedProxies`): 403 ERR_GATEWAY_SOURCE_DENIED before the WAF rules and authentication (docs/gateway.md "Source address lists").',
      ),
    headers: z
      .strictObject({
        request: headerRuleSide('request').describe('Rules for the request sent upstream.'),
        response: headerRuleSide('response').describe(
          "Rules for the upstream's answer (proxied or from the cache; not the gateway's own refusals).",
        ),
      })
      .prefault({})
      .describe(
        'Header rules of the route: `remove` then `set` (docs/gateway.md "Header rules"). Fields the gateway manages (framing, X-Forwarded-*, the request id, identity, rate limits, CORS, HSTS) are refused.',
      ),
    cors: corsRule(),
    websocket: z
      .boolean()
      .default(false)
      .describe(
        "Carry WebSocket handshakes (HTTP/1.1 `Upgrade: websocket`) to the upstream through the route's stages, then pipe the connection both ways after the upstream's 101 (docs/gateway.md); false = 501 ERR_GATEWAY_UPGRADE_UNSUPPORTED.",
      ),
  });
  const upstream = z
    .strictObject({
      name: policyName.describe('Upstream name.'),
      hosts: z.array(origin).min(1).describe('Origins (http://host:port) requests are balanced over.'),
      connections: z.number().int().min(1).max(10_000).default(64).describe('Keep-alive connections per host.'),
      maxConcurrent: z.number().int().min(1).default(1024).describe('Requests in flight before queueing.'),
      maxQueue: z.number().int().min(0).default(1024).describe('Requests queued before 503 (x-gatehouse-overloaded).'),
      timeout: positive(duration('30s', 'Time the upstream has for response headers, and between body chunks.')),
      protocol: z
        .enum(['http/1.1', 'h2c', 'h2'])
        .default('http/1.1')
        .describe(
          "How the gateway talks to the hosts: `http/1.1` (keep-alive pools of `connections` per host), `h2c` (HTTP/2 with prior knowledge, http:// hosts) or `h2` (HTTP/2 over TLS with ALPN h2, https:// hosts, the certificate checked against node's trust store: its bundled Mozilla roots, or the system's with --use-openssl-ca, plus NODE_EXTRA_CA_CERTS, or `caFile`, or with `mtls` the mesh's SVID checks); both HTTP/2 kinds use one multiplexed connection per host and relay the answer trailers: what gRPC services need, as nginx's `grpc_pass grpc://` / `grpcs://`. docs/gateway.md \"gRPC\".",
        ),
      caFile: z
        .string()
        .min(1)
        .optional()
        .describe(
          "PEM bundle the hosts' server certificates must chain to (https:// hosts, `http/1.1` or `h2`), instead of node's default trust store; relative to `dataDir`; read at start and at each reload. Unset: node's bundled roots (or the system's with --use-openssl-ca) plus NODE_EXTRA_CA_CERTS.",
        ),
      mtls: z
        .strictObject({
          spiffeId: z
            .string()
            .regex(/^spiffe:\/\/[^/]+\/.+/, 'expected a SPIFFE ID such as spiffe://gatehouse.local/ns/demo/sa/backend')
            .describe('The SPIFFE ID the upstream (a sidecar inbound, a library-mode server) must present.'),
        })
        .optional()
        .describe(
          "Originate mutual TLS with the gateway's own SVID (TLS 1.3, hosts https://); the server's SVID must chain to the mesh bundle and name `spiffeId`. With `protocol: h2` the connection offers ALPN `h2` (a sidecar inbound with `http2: true`: gRPC into the mesh).",
        ),
      breaker: z
        .strictObject({
          consecutiveFailures: z.number().int().min(1).default(5).describe('Failures in a row that open it.'),
          errorRate: z.number().gt(0).max(1).default(0.5).describe('Failure ratio over the window that opens it.'),
          minimumRequests: z.number().int().min(1).default(20).describe('Outcomes needed before the ratio counts.'),
          window: duration('10s', 'Rolling window of the error rate.'),
          openDuration: duration('30s', 'Time open before half-open trials.'),
          halfOpenTrials: z.number().int().min(1).default(1).describe('Concurrent trials while half-open.'),
        })
        .prefault({})
        .describe('Circuit breaker of the upstream.'),
      outlier: z
        .strictObject({
          consecutiveFailures: z.number().int().min(1).default(5).describe('Failures in a row that eject a host.'),
          baseEjection: positive(
            duration(
              '30s',
              'Ejection time, multiplied by the ejection count; the count drops by one for each such period a host stays in the rotation.',
            ),
          ),
          maxEjection: duration(
            '300s',
            'Longest ejection, whatever the ejection count (raised to `baseEjection` if lower).',
          ),
          maxEjectionPercent: z.number().int().min(0).max(100).default(50).describe('Most hosts ejected at once.'),
        })
        .prefault({})
        .describe('Outlier ejection of single hosts.'),
      healthCheck: z
        .strictObject({
          path: z
            .string()
            .regex(/^\/[^\s]*$/, 'expected a request target starting with /, e.g. /healthz')
            .optional()
            .describe('Request target of an HTTP check (`GET`); 2xx or 3xx within `timeout` is a success.'),
          grpc: z
            .strictObject({
              service: z
                .string()
                .max(127)
                .default('')
                .describe('The service asked about (`HealthCheckRequest.service`); empty: the server as a whole.'),
            })
            .optional()
            .describe(
              "A gRPC check instead (`h2c` and `h2` upstreams): grpc.health.v1.Health/Check, a success when the answer is SERVING (Envoy's grpc_health_check).",
            ),
          interval: positive(duration('10s', 'Time between two checks of a host.')),
          timeout: positive(duration('2s', 'Time a host has to answer a check.')),
          healthyThreshold: z
            .number()
            .int()
            .min(1)
            .default(2)
            .describe('Successes in a row that bring a host back into the rotation.'),
          unhealthyThreshold: z
            .number()
            .int()
            .min(1)
            .default(3)
            .describe('Failures in a row that take a host out of the rotation.'),
        })
        .optional()
        .describe(
          'Active health checks of each host: an HTTP GET of `path`, or the gRPC health protocol (`grpc`, HTTP/2 upstreams); docs/gateway.md "Health checks". Unset: hosts leave the rotation only through outlier ejection.',
        ),
      retries: retrySettings(1, 'Retries of failed attempts on the next host (docs/gateway.md "Retries").'),
      tunnels: tunnelSettings({
        max: 'WebSocket tunnels open (or being opened) to the upstream at once, across routes; a handshake past it gets 503 ERR_GATEWAY_TUNNELS_FULL.',
        idleTimeoutNote: '',
        section: 'WebSocket tunnels of routes with `websocket: true` (docs/gateway.md).',
      }),
    })
    .superRefine((u, ctx) => {
      const check = u.healthCheck;
      if (check !== undefined && (check.path === undefined) === (check.grpc === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: ['healthCheck'],
          message: 'a health check has either `path` (an HTTP GET) or `grpc` (the gRPC health protocol), not both',
        });
      }
      if (check?.grpc !== undefined && u.protocol === 'http/1.1') {
        ctx.addIssue({
          code: 'custom',
          path: ['healthCheck', 'grpc'],
          message: 'gRPC health checks need an HTTP/2 upstream (protocol h2c or h2)',
        });
      }
      if (u.healthCheck !== undefined && u.healthCheck.timeout > u.healthCheck.interval) {
        ctx.addIssue({
          code: 'custom',
          path: ['healthCheck', 'timeout'],
          message: 'a check must end before the next starts (timeout at most interval)',
        });
      }
      if (u.caFile !== undefined) {
        if (u.mtls !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['caFile'],
            message: 'an mtls upstream is checked against the mesh bundle: caFile does not apply',
          });
        }
        const plain = u.hosts.findIndex((h) => !h.startsWith('https://'));
        if (plain !== -1) {
          ctx.addIssue({
            code: 'custom',
            path: ['hosts', plain],
            message: 'caFile applies to https:// hosts only (it checks their server certificates)',
          });
        }
      }
      if (u.protocol === 'http/1.1') return;
      if (u.mtls !== undefined && u.protocol === 'h2c') {
        ctx.addIssue({
          code: 'custom',
          path: ['mtls'],
          message:
            'protocol h2c is plaintext: an mtls upstream speaks http/1.1 or h2 (HTTP/2 over the mTLS connection)',
        });
      }
      const scheme = u.protocol === 'h2c' ? 'http://' : 'https://';
      const wrong = u.hosts.findIndex((h) => !h.startsWith(scheme));
      if (wrong !== -1) {
        ctx.addIssue({
          code: 'custom',
          path: ['hosts', wrong],
          message:
            u.protocol === 'h2c'
              ? 'protocol h2c needs http:// hosts (HTTP/2 with prior knowledge, no TLS)'
              : 'protocol h2 needs https:// hosts (HTTP/2 over TLS)',
        });
      }
    });
  return z
    .strictObject({
      routes: z.array(route).default([]).describe('Routes, matched by host then longest path prefix.'),
      upstreams: z.array(upstream).default([]).describe('Upstream services.'),
      trustedProxies: z
        .array(z.string())
        .default([])
        .describe('CIDRs of proxies whose X-Forwarded-For is believed (read from the right).'),
      jwtAudience: z
        .string()
        .min(1)
        .default('gateway')
        .describe('Audience (`aud`) that JWT access tokens must carry on routes with `auth.kind: jwt`.'),
      redisTimeout: duration('100ms', 'Longest wait for a global (Redis) rate-limit decision.'),
      redisRetry: duration('1s', 'After a Redis failure, time before it is tried again.'),
      revocation: z
        .strictObject({
          mode: z
            .enum(['poll', 'off'])
            .default('poll')
            .describe(
              "How JWT routes learn of revoked tokens: poll = the issuer's /revocations feed (a standalone gateway needs `gateway.credentials.feedApiKey`); off = revoked tokens stay valid until they expire (logged as INSECURE).",
            ),
          interval: duration('5s', 'Poll period of the revocation feed.'),
          maxStaleness: duration(
            '60s',
            'When the feed has not answered for this long, JWT routes answer 503 (fail closed).',
          ),
        })
        .prefault({})
        .describe('Revocation of JWTs on routes with `auth.kind: jwt` (docs/gateway.md).'),
      credentials: z
        .strictObject({
          feedApiKey: z
            .string()
            .optional()
            .describe(
              'API key with scope revocations:read that reads the revocation feed; prefer GATEHOUSE_GATEWAY__CREDENTIALS__FEED_API_KEY or feedApiKeyFile.',
            ),
          feedApiKeyFile: z
            .string()
            .optional()
            .describe('File holding the feed API key (read at start and at each reload).'),
          clientId: z
            .string()
            .optional()
            .describe(
              'Confidential client of the gateway (role resource-server, audience `jwtAudience`): API keys are introspected (RFC 7662) as this client.',
            ),
          clientSecret: z
            .string()
            .optional()
            .describe('Its secret; prefer GATEHOUSE_GATEWAY__CREDENTIALS__CLIENT_SECRET or clientSecretFile.'),
          clientSecretFile: z
            .string()
            .optional()
            .describe('File holding the client secret (read at start and at each reload).'),
        })
        .prefault({})
        .describe(
          'How a standalone gateway authenticates to the identity server (`gatehouse up` wires its gateway in process).',
        ),
      mesh: z
        .strictObject({
          ca: caConnection('gateway'),
          joinToken: z
            .string()
            .optional()
            .describe(
              'One-time join token (`gatehouse ca join-token`); prefer GATEHOUSE_GATEWAY__MESH__JOIN_TOKEN or joinTokenFile.',
            ),
          joinTokenFile: z
            .string()
            .optional()
            .describe('File holding the join token on its first line (read at each bootstrap).'),
          spiffeId: z
            .string()
            .optional()
            .describe(
              'The SPIFFE ID the join token is bound to: sent with it, so the CA refuses a mismatch without using the token up.',
            ),
        })
        .optional()
        .describe(
          'The mesh identity of a standalone gateway, for upstreams with `mtls` (`gatehouse up` issues its gateway an SVID in process).',
        ),
      apiKeys: z
        .strictObject({
          cacheTtl: duration('10s', 'How long an active API key is reused without asking again (the staleness bound).'),
          negativeCacheTtl: duration('5s', 'How long a refused API key is refused without asking again.'),
          maxEntries: z
            .number()
            .int()
            .min(1)
            .default(10000)
            .describe('Most API keys remembered, each way (and most introspections in flight).'),
        })
        .prefault({})
        .describe(
          'API keys on a standalone gateway, introspected at the identity server with `gateway.credentials.clientId` (docs/gateway.md).',
        ),
      cache: z
        .strictObject({
          maxBytes: z.number().int().min(0).default(67108864).describe('Memory of the response cache, in bytes.'),
          maxEntries: z.number().int().min(0).default(10000).describe('Most responses kept.'),
          maxObjectSize: z.number().int().min(0).default(1048576).describe('Largest response body stored.'),
          heuristicMax: duration('1h', 'Cap of heuristic freshness (10 % of the Last-Modified age).'),
        })
        .prefault({})
        .describe('The shared response cache (docs/gateway-cache.md).'),
      slowClients: z
        .strictObject({
          maxConnections: z
            .number()
            .int()
            .min(1)
            .default(10000)
            .describe('Open client connections; above it the oldest still reading a request are closed.'),
          minBodyRate: z
            .number()
            .int()
            .min(0)
            .default(1024)
            .describe('Least request-body rate in bytes/s (0 = off), checked after `bodyGrace`.'),
          bodyGrace: duration('5s', 'Time a request body may arrive slower than `minBodyRate`.'),
          sendTimeout: duration(
            '60s',
            "Longest a response may wait on a client that reads none of it (nginx's send_timeout); then the connection is closed, freeing its upstream slot (0 = off).",
          ),
        })
        .prefault({})
        .describe('Slow-client and flood defences of the gateway listener (docs/waf.md).'),
      http2: z
        .strictObject({
          enabled: z
            .boolean()
            .default(false)
            .describe(
              'Offer HTTP/2 (ALPN `h2`) beside HTTP/1.1 on the gateway listener; clients that do not ask for it keep HTTP/1.1 (docs/gateway.md "HTTP/2"). Needs a restart.',
            ),
          maxConcurrentStreams: z
            .number()
            .int()
            .min(1)
            .max(1000)
            .default(100)
            .describe(
              'Streams (requests) one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS; nginx 128).',
            ),
        })
        .prefault({})
        .describe('HTTP/2 on the gateway listener (off by default, as nginx `listen ... http2`).'),
      hsts: z
        .strictObject({
          maxAge: duration(
            '730d',
            'Strict-Transport-Security max-age the gateway adds to every response whose upstream sent none; 0 = none added (logged as a warning at start and reload).',
          ),
          includeSubDomains: z
            .boolean()
            .default(false)
            .describe(
              'Add `includeSubDomains` (off by default on the gateway: every subdomain of the hosts it fronts must then serve HTTPS too).',
            ),
          preload: z
            .boolean()
            .default(false)
            .describe(
              'Add `preload` (needs `includeSubDomains` and a maxAge of at least 365d, as the preload list does).',
            ),
        })
        .prefault({})
        .refine((h) => !h.preload || (h.includeSubDomains && h.maxAge >= 365 * 86_400_000), {
          message: 'preload needs includeSubDomains and a maxAge of at least 365d',
        })
        .describe('Strict-Transport-Security on the gateway listener (RFC 6797; docs/gateway.md).'),
    })
    .prefault({})
    .describe('API gateway (data plane).');
}
