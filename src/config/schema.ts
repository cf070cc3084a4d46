import { z } from 'zod';
import { parseDuration } from '../core/index.js';

/** A duration written as `15m`, `24h`, `30d`, ... and held as milliseconds. */
function duration(defaultText: string, description: string) {
  return z
    .union([z.string(), z.number()])
    .default(defaultText)
    .describe(description)
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration such as 500ms, 30s, 15m, 24h or 30d` });
        return z.NEVER;
      }
      return ms;
    });
}

function port(defaultPort: number, description: string) {
  return z.number().int().min(0).max(65535).default(defaultPort).describe(description);
}

const tlsMode = z
  .enum(['auto', 'require', 'disable'])
  .default('auto')
  .describe(
    'TLS to the server: auto = TLS unless the host is loopback; require = always; disable = never (logged as insecure when the host is not loopback).',
  );

const level = z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']);

const policyName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'expected a lowercase name (letters, digits, _ and -)');

/** The per-route WAF rules (docs/waf.md). */
function wafRule() {
  const count = (n: number, what: string) => z.number().int().min(1).default(n).describe(what);
  return z
    .strictObject({
      mode: z
        .enum(['block', 'log', 'off'])
        .default('block')
        .describe('block = 403 naming the rule; log = count and log only; off = no checks.'),
      methods: z
        .array(z.string().regex(/^[A-Z]+$/))
        .default(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
        .describe('Allowed request methods.'),
      contentTypes: z
        .array(z.string())
        .default(['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'])
        .describe('Allowed media types of request bodies (parameters ignored; +json suffixes count as JSON).'),
      maxBody: count(1048576, 'Largest request body, in bytes.'),
      inspectBody: count(
        65536,
        'Bodies up to this size are read and their parameters checked; larger ones are refused.',
      ),
      maxHeaders: count(100, 'Most request header fields.'),
      maxHeaderBytes: count(8192, 'Longest single header field (name + value), in bytes.'),
      maxUrlLength: count(4096, 'Longest request target (path and query), in bytes.'),
      maxArgs: count(256, 'Most query and body parameters.'),
      maxArgLength: count(8192, 'Longest decoded parameter value.'),
    })
    .prefault({});
}

/** Policies of the mesh (docs/mesh.md): Istio AuthorizationPolicy semantics. */
function meshPolicies() {
  const strings = z.array(z.string().min(1).max(2048)).max(256).optional();
  const rule = z.strictObject({
    from: z
      .array(z.strictObject({ principals: strings, notPrincipals: strings }))
      .optional()
      .describe('Callers: SPIFFE IDs (with or without spiffe://), exact, prefix* or *suffix.'),
    to: z
      .array(z.strictObject({ methods: strings, notMethods: strings, paths: strings, notPaths: strings }))
      .optional()
      .describe('Operations: methods and paths, exact, prefix* or *suffix.'),
  });
  return z
    .array(
      z.strictObject({
        name: policyName.describe('Policy name (logged and named in 403 bodies).'),
        action: z.enum(['ALLOW', 'DENY']).describe('Any DENY match denies; with ALLOW policies one must match.'),
        rules: z.array(rule).max(256).describe('A policy matches when any rule does; no rules: matches nothing.'),
      }),
    )
    .default([])
    .describe(
      'Authorization policies evaluated like Istio: DENY first, no ALLOW policy allows, else an ALLOW must match.',
    );
}

/** The `sidecar` section: a standalone `gatehouse sidecar --config FILE` (docs/mesh.md). */
function sidecarSection() {
  const address = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port');
  return z
    .strictObject({
      spiffeId: z.string().optional().describe('The SPIFFE ID the join token is bound to (checked when set).'),
      joinToken: z
        .string()
        .optional()
        .describe(
          'One-time join token (`gatehouse ca join-token`); prefer GATEHOUSE_SIDECAR__JOIN_TOKEN or joinTokenFile.',
        ),
      joinTokenFile: z.string().optional().describe('File holding the join token (read at each bootstrap).'),
      ca: z
        .strictObject({
          url: z.string().url().describe('The CA API, e.g. https://127.0.0.1:8445 (endpoints.json `ca`).'),
          bundleFile: z
            .string()
            .describe('Trust bundle PEM that authenticates the CA listener (DIR/trust-bundle.pem).'),
        })
        .describe('Where the sidecar gets and renews its SVID.'),
      mode: z
        .enum(['STRICT', 'PERMISSIVE'])
        .default('STRICT')
        .describe('STRICT: mTLS only. PERMISSIVE: mTLS or plaintext on the inbound port.'),
      inbound: z
        .strictObject({
          host: z.string().default('127.0.0.1').describe('Address the inbound mTLS listener binds.'),
          port: port(15001, 'Inbound mTLS port.'),
          app: address.default('127.0.0.1:8080').describe('The local app (plain HTTP on loopback), host:port.'),
          bindTokens: z
            .boolean()
            .default(false)
            .describe(
              'Refuse (401 invalid_token) a Bearer JWT bound to a client certificate (`cnf.x5t#S256`, RFC 8705) that is not the mTLS certificate of the caller. The app still verifies the token itself.',
            ),
        })
        .prefault({})
        .describe('Peers to the local app.'),
      outbound: z
        .strictObject({
          host: z.string().default('127.0.0.1').describe('Address the outbound listener binds (keep it loopback).'),
          port: port(15101, 'Outbound port: the app calls http://<service>:<port>/... (Host names the service).'),
          upstreams: z
            .array(
              z.strictObject({
                name: z
                  .string()
                  .regex(/^[a-z0-9][a-z0-9.-]{0,62}$/)
                  .describe('Service name (the Host the app sends).'),
                address: address.describe("The peer sidecar's inbound address, host:port."),
                spiffeId: z.string().describe('The SPIFFE ID the peer must present.'),
              }),
            )
            .default([])
            .describe('Peer services.'),
        })
        .prefault({})
        .describe('The local app to peers.'),
      policies: meshPolicies(),
      limits: z
        .strictObject({
          perCaller: z
            .strictObject({
              rate: z.number().int().min(1).describe('Requests admitted per `per`.'),
              per: duration('1s', 'The period of `rate`.'),
              burst: z.number().int().min(0).default(0).describe('Extra requests admitted at once.'),
            })
            .optional()
            .describe('Burst limit per caller SPIFFE ID on the inbound side (429).'),
          breaker: z
            .strictObject({
              consecutiveFailures: z.number().int().min(1).default(5).describe('Failures in a row that open it.'),
              openDuration: duration('10s', 'How long it stays open before a trial.'),
            })
            .prefault({})
            .describe('Circuit breaker per upstream on the outbound side (503 while open).'),
        })
        .prefault({})
        .describe('Local limits.'),
      renewAtFraction: z
        .number()
        .gt(0)
        .lt(1)
        .default(2 / 3)
        .describe('Renew the SVID after this fraction of its lifetime (from issuance), with ±5 % jitter.'),
      ticketKeyRotation: duration('1h', 'How often the TLS session ticket keys are replaced.'),
    })
    .optional()
    .describe('A standalone sidecar (`gatehouse sidecar --config FILE`); unused by `gatehouse up`.');
}

/** The `gateway` section: routes, upstreams, trusted proxies (docs/gateway.md). */
function gatewaySection() {
  const limit = z.strictObject({
    name: policyName.describe('Policy name, sent in RateLimit-Policy.'),
    key: z
      .array(z.enum(['api_key', 'client', 'user', 'ip', 'route']))
      .min(1)
      .describe(
        'What the limit counts per: API key, client, user, source address (IPv6 by /64), route, or a combination.',
      ),
    rate: z.number().int().min(1).describe('Requests admitted per `per`.'),
    per: duration('1s', 'The period of `rate`.'),
    burst: z.number().int().min(0).default(0).describe('Extra requests admitted at once.'),
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
        maxWait: duration('500ms', 'Longest delay before a 429.'),
        maxQueue: z.number().int().min(1).max(10_000).default(100).describe('Requests queued per key.'),
      })
      .optional()
      .describe('Delay requests over the limit instead of rejecting them at once (local tier).'),
  });
  const route = z.strictObject({
    name: policyName.describe('Route name (metrics label).'),
    host: z.string().optional().describe('Host header to match (no port); unset = any host.'),
    pathPrefix: z.string().regex(/^\//, 'expected a path starting with /').describe('Path prefix to match.'),
    upstream: z.string().describe('Name of the upstream requests go to.'),
    auth: z
      .strictObject({
        kind: z.enum(['none', 'jwt', 'api_key']).default('none').describe('How callers authenticate.'),
        scopes: z.array(z.string()).default([]).describe('Every one of these scopes is required.'),
        anyScopes: z.array(z.string()).default([]).describe('At least one of these scopes is required.'),
        roles: z.array(z.string()).default([]).describe('Every one of these roles is required.'),
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
  });
  const upstream = z.strictObject({
    name: policyName.describe('Upstream name.'),
    hosts: z.array(z.string().url()).min(1).describe('Origins (http://host:port) requests are balanced over.'),
    connections: z.number().int().min(1).max(10_000).default(64).describe('Keep-alive connections per host.'),
    maxConcurrent: z.number().int().min(1).default(1024).describe('Requests in flight before queueing.'),
    maxQueue: z.number().int().min(0).default(1024).describe('Requests queued before 503 (x-gatehouse-overloaded).'),
    timeout: duration('30s', 'Time the upstream has for response headers, and between body chunks.'),
    mtls: z
      .strictObject({
        spiffeId: z
          .string()
          .regex(/^spiffe:\/\/[^/]+\/.+/, 'expected a SPIFFE ID such as spiffe://gatehouse.local/ns/demo/sa/backend')
          .describe('The SPIFFE ID the upstream (a sidecar inbound, a library-mode server) must present.'),
      })
      .optional()
      .describe(
        "Originate mutual TLS with the gateway's own SVID (TLS 1.3, hosts https://); the server's SVID must chain to the mesh bundle and name `spiffeId`.",
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
        baseEjection: duration('30s', 'Ejection time, multiplied by the ejection count.'),
        maxEjectionPercent: z.number().int().min(0).max(100).default(50).describe('Most hosts ejected at once.'),
      })
      .prefault({})
      .describe('Outlier ejection of single hosts.'),
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
          feedApiKeyFile: z.string().optional().describe('File holding the feed API key (read at start).'),
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
          clientSecretFile: z.string().optional().describe('File holding the client secret (read at start).'),
        })
        .prefault({})
        .describe(
          'How a standalone gateway authenticates to the identity server (`gatehouse up` wires its gateway in process).',
        ),
      mesh: z
        .strictObject({
          ca: z
            .strictObject({
              url: z.string().url().describe('The CA API, e.g. https://127.0.0.1:8445 (endpoints.json `ca`).'),
              bundleFile: z
                .string()
                .describe('Trust bundle PEM that authenticates the CA listener (DIR/trust-bundle.pem).'),
            })
            .describe('Where the gateway gets and renews its SVID.'),
          joinToken: z
            .string()
            .optional()
            .describe(
              'One-time join token (`gatehouse ca join-token`); prefer GATEHOUSE_GATEWAY__MESH__JOIN_TOKEN or joinTokenFile.',
            ),
          joinTokenFile: z.string().optional().describe('File holding the join token (read at each bootstrap).'),
          spiffeId: z.string().optional().describe('The SPIFFE ID the join token is bound to (checked when set).'),
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
        })
        .prefault({})
        .describe('Slow-client and flood defences of the gateway listener (docs/waf.md).'),
    })
    .prefault({})
    .describe('API gateway (data plane).');
}

/**
 * The one configuration schema of gatehouse. docs/configuration.md is generated from it.
 * Every key has a default, so an empty file (or none) runs the platform on embedded defaults.
 */
export const configSchema = z.strictObject({
  dataDir: z
    .string()
    .min(1)
    .default('./.gatehouse')
    .describe('Data directory: database, sealed keys, admin token, endpoints.json. `--data-dir` overrides it.'),
  trustDomain: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9._-]{0,253}[a-z0-9])?$/, 'expected a lowercase trust domain such as gatehouse.local')
    .default('gatehouse.local')
    .describe('SPIFFE trust domain: every certificate the CA issues names spiffe://<trustDomain>/...'),
  log: z
    .strictObject({
      level: level.default('info').describe('Log level.'),
    })
    .prefault({})
    .describe('Logging.'),
  storage: z
    .strictObject({
      kind: z
        .enum(['sqlite', 'postgres'])
        .default('sqlite')
        .describe('Where state lives: sqlite (embedded, one machine) or postgres (shared by replicas).'),
      sqlite: z
        .strictObject({
          file: z
            .string()
            .min(1)
            .default('gatehouse.db')
            .describe('SQLite database file, relative to dataDir unless absolute.'),
          busyTimeout: duration('5s', 'How long a writer waits for the SQLite write lock.'),
        })
        .prefault({})
        .describe('SQLite settings.'),
      postgres: z
        .strictObject({
          url: z
            .string()
            .optional()
            .describe(
              'Connection URL, e.g. postgres://gatehouse@db.internal:5432/gatehouse. Required when kind is postgres.',
            ),
          schema: z
            .string()
            .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lowercase SQL identifier')
            .default('gatehouse')
            .describe('Schema that holds gatehouse tables (created if missing).'),
          poolSize: z.number().int().min(1).max(200).default(10).describe('Maximum connections per process.'),
          tls: tlsMode,
          caFile: z
            .string()
            .optional()
            .describe('PEM bundle that signs the server certificate (default: system roots).'),
        })
        .prefault({})
        .describe('PostgreSQL settings.'),
    })
    .prefault({})
    .describe('Storage.'),
  redis: z
    .strictObject({
      url: z
        .string()
        .optional()
        .describe('Redis URL, e.g. redis://cache.internal:6379. Unset: limits stay in process.'),
      keyPrefix: z.string().default('gatehouse:').describe('Prefix of every Redis key gatehouse writes.'),
      tls: tlsMode,
    })
    .prefault({})
    .describe('Redis (optional).'),
  listen: z
    .strictObject({
      host: z.string().default('127.0.0.1').describe('Address the public listeners bind.'),
      admin: z
        .strictObject({ port: port(8440, 'Admin API port (always bound to 127.0.0.1). 0 = any free port.') })
        .prefault({})
        .describe('Admin API listener.'),
      identity: z
        .strictObject({
          port: port(
            8443,
            'Identity issuer (OAuth2 authorization server) port (binds listen.host). 0 = any free port.',
          ),
        })
        .prefault({})
        .describe('Identity issuer listener.'),
      identityMtls: z
        .strictObject({
          port: port(
            8447,
            'Identity issuer mTLS port (RFC 8705: token, introspection, revocation, device authorization with client certificates; binds listen.host). 0 = any free port.',
          ),
          url: z
            .string()
            .url()
            .optional()
            .describe(
              'Public base URL of the mTLS listener in the metadata `mtls_endpoint_aliases` (default https://<listen.host>:<bound port>).',
            ),
        })
        .prefault({})
        .describe(
          'Identity issuer mTLS listener: tls_client_auth and certificate-bound access tokens; no HTML pages, so browsers are never asked for a certificate.',
        ),
      kms: z
        .strictObject({ port: port(8444, 'KMS transit API port (binds listen.host). 0 = any free port.') })
        .prefault({})
        .describe('KMS transit API listener.'),
      ca: z
        .strictObject({
          port: port(
            8445,
            'CA API port (SVID signing, renewal over mTLS, bundles; binds listen.host). 0 = any free port.',
          ),
        })
        .prefault({})
        .describe('Certificate authority listener.'),
      gateway: z
        .strictObject({ port: port(8446, 'Gateway (data plane) port (binds listen.host). 0 = any free port.') })
        .prefault({})
        .describe('API gateway listener.'),
    })
    .prefault({})
    .describe('Listeners. Every listener speaks TLS 1.3 only with a certificate from the platform CA.'),
  http: z
    .strictObject({
      headersTimeout: duration('10s', 'Time a client has to send the complete request headers.'),
      requestTimeout: duration('30s', 'Time a client has to send the complete request.'),
      keepAliveTimeout: duration('5s', 'Idle time before a keep-alive connection is closed.'),
      connectionsCheckingInterval: duration(
        '1s',
        'How often the server checks connections against the two timeouts above.',
      ),
      bodyLimit: z
        .number()
        .int()
        .min(1024)
        .max(1073741824)
        .default(1048576)
        .describe('Largest request body accepted, in bytes.'),
      maxHeaderSize: z
        .number()
        .int()
        .min(1024)
        .max(65536)
        .default(16384)
        .describe('Largest request header block, in bytes.'),
      hstsMaxAge: duration('730d', 'Strict-Transport-Security max-age sent on every HTTPS response.'),
    })
    .prefault({})
    .describe('HTTP server limits shared by every listener.'),
  pki: z
    .strictObject({
      rootTtl: duration('3650d', 'Lifetime of the root CA certificate.'),
      intermediateTtl: duration('365d', 'Lifetime of the intermediate CA certificate.'),
      listenerCertTtl: duration('24h', "Lifetime of each platform listener's certificate."),
      renewAtFraction: z
        .number()
        .gt(0)
        .lt(1)
        .default(2 / 3)
        .describe('Fraction of a certificate lifetime after which it is renewed.'),
      expiryWarning: duration('30d', 'A CA certificate closer than this to expiry is reported loudly.'),
      svidTtl: duration('24h', 'Default lifetime of a workload X.509-SVID.'),
      maxSvidTtl: duration('24h', 'Longest SVID lifetime a caller may request (also how long revocations are listed).'),
      joinTokenTtl: duration('10m', 'Default lifetime of a one-time join token (`gatehouse ca join-token`).'),
      caActivationDelay: duration(
        '24h',
        'CA rotation: how long a prepared intermediate is published in the bundle before it starts signing.',
      ),
      bundleRefreshHint: duration('5m', 'The `spiffe_refresh_hint` of the SPIFFE bundle (how often peers refetch it).'),
    })
    .prefault({})
    .describe('Certificate authority.'),
  keyring: z
    .strictObject({
      rootKeyFile: z
        .string()
        .optional()
        .describe(
          'File holding the 32-byte root key (hex or base64). Default: <dataDir>/root.key, created on first start.',
        ),
      usageBlock: z
        .number()
        .int()
        .min(1)
        .max(1_000_000)
        .default(10_000)
        .describe('Encryptions reserved durably at a time per key version (a crash can only over-count by this much).'),
      maxEncryptionsPerVersion: z
        .number()
        .int()
        .min(1)
        .max(4294967296)
        .default(3865470566)
        .describe('A key version rotates automatically before this many encryptions (0.9 × 2^32, NIST SP 800-38D).'),
    })
    .prefault({})
    .describe('The sealed keyring: root key and named key versions.'),
  kms: z
    .strictObject({
      maxBatchItems: z
        .number()
        .int()
        .min(1)
        .max(100_000)
        .default(1000)
        .describe('Most items a transit `batch_input` may hold (larger batches are refused with 413).'),
      dataKeyCache: z
        .strictObject({
          enabled: z
            .boolean()
            .default(false)
            .describe(
              'Reuse a data key for single-shot encryptions under the same key and context (high-volume writers; logged at start). Off: a fresh data key per message.',
            ),
          maxAge: duration('5m', 'A cached data key is dropped once this old.'),
          maxMessages: z
            .number()
            .int()
            .min(1)
            .max(2 ** 32)
            .default(10_000)
            .describe('Messages one cached data key may seal.'),
          maxBytes: z
            .number()
            .int()
            .min(1)
            .default(1024 ** 3)
            .describe('Plaintext bytes one cached data key may seal.'),
          maxEntries: z
            .number()
            .int()
            .min(1)
            .max(100_000)
            .default(1000)
            .describe('Cached data keys held at most (one per key name and context).'),
        })
        .prefault({})
        .describe('Data-key caching of the transit `encrypt` (the AWS Encryption SDK caching thresholds).'),
    })
    .prefault({})
    .describe('KMS transit API.'),
  identity: z
    .strictObject({
      issuer: z
        .string()
        .url()
        .optional()
        .describe('Issuer URL (https, no query or fragment). Default: https://127.0.0.1:<bound identity port>.'),
      accessTokenTtl: duration(
        '15m',
        'Default access token lifetime (a client may set its own with --access-token-ttl).',
      ),
      maxAccessTokenTtl: duration(
        '24h',
        'Longest access token lifetime a client may be given; retired signing keys stay published this long.',
      ),
      secretRotationOverlap: duration(
        '24h',
        'How long the previous client secret stays valid after `gatehouse client rotate-secret`.',
      ),
      clientCacheTtl: duration(
        '5s',
        'How long a replica trusts its in-memory copy of a client (changes on this replica invalidate it at once).',
      ),
      signing: z
        .strictObject({
          alg: z.enum(['ES256', 'EdDSA', 'RS256']).default('ES256').describe('Algorithm of new signing keys.'),
          prePublish: duration(
            '1h',
            'How long a new signing key is published in the JWKS before it signs (JWKS max-age is at most half of it).',
          ),
          rotateEvery: duration('30d', 'Automatic signing key rotation period (checked under a lease).'),
        })
        .prefault({})
        .describe('Access token signing keys (sealed in the KMS).'),
      limits: z
        .strictObject({
          maxBodyBytes: z
            .number()
            .int()
            .min(256)
            .max(65536)
            .default(8192)
            .describe('Largest token request body, in bytes (larger: 400 invalid_request).'),
          maxParameters: z
            .number()
            .int()
            .min(4)
            .max(256)
            .default(32)
            .describe('Most form parameters a token request may carry.'),
          failedAuthPerClient: z
            .strictObject({
              rate: z.number().int().min(1).default(10).describe('Requests admitted per period.'),
              period: duration('1m', 'The period of `rate`.'),
              burst: z.number().int().min(0).default(10).describe('Extra requests admitted at once.'),
            })
            .prefault({})
            .describe('Failed client authentications tolerated per client_id.'),
          failedAuthPerAddress: z
            .strictObject({
              rate: z.number().int().min(1).default(30).describe('Requests admitted per period.'),
              period: duration('1m', 'The period of `rate`.'),
              burst: z.number().int().min(0).default(30).describe('Extra requests admitted at once.'),
            })
            .prefault({})
            .describe('Failed client authentications tolerated per source address.'),
          tokenRequestsPerAddress: z
            .strictObject({
              rate: z.number().int().min(1).default(6000).describe('Requests admitted per period.'),
              period: duration('1m', 'The period of `rate`.'),
              burst: z.number().int().min(0).default(1000).describe('Extra requests admitted at once.'),
            })
            .prefault({})
            .describe('Token requests admitted per source address (flood guard).'),
          introspectionRequestsPerAddress: z
            .strictObject({
              rate: z.number().int().min(1).default(6000).describe('Requests admitted per period.'),
              period: duration('1m', 'The period of `rate`.'),
              burst: z.number().int().min(0).default(1000).describe('Extra requests admitted at once.'),
            })
            .prefault({})
            .describe(
              'Introspection, revocation and revocation-feed requests admitted per source address (flood guard).',
            ),
        })
        .prefault({})
        .describe('Token endpoint protection.'),
      signIn: z
        .strictObject({
          codeTtl: duration('60s', 'Lifetime of an authorization code (one-time use).'),
          sessionTtl: duration('12h', 'Absolute lifetime of a browser session after sign-in.'),
          sessionIdleTtl: duration('1h', 'A browser session ends after this long without a request.'),
          refreshIdleTtl: duration('14d', 'A refresh token family ends after this long without a refresh.'),
          refreshAbsoluteTtl: duration('90d', 'Longest life of a refresh token family, whatever its use.'),
          refreshGraceWindow: duration(
            '0s',
            'Concurrent-refresh window: a reuse inside it gets the same unused successor (0: every reuse revokes the family).',
          ),
          legacyImplicit: z
            .boolean()
            .default(false)
            .describe('Allow response_type=token for clients created with --legacy-implicit (deprecated; off).'),
          implicitTokenTtl: duration('5m', 'Access token lifetime of the legacy implicit flow.'),
          scryptCost: z
            .number()
            .int()
            .min(10)
            .max(22)
            .default(17)
            .describe('log2 of the scrypt cost N for new password hashes (OWASP: 17, r=8, p=1).'),
          hashConcurrency: z
            .number()
            .int()
            .min(1)
            .max(64)
            .default(2)
            .describe('Password hashes computed at once (the rest wait in a bounded queue).'),
          hashQueue: z
            .number()
            .int()
            .min(1)
            .max(10_000)
            .default(64)
            .describe('Password hashes that may wait; beyond it sign-in answers 503 at once.'),
          failedLoginPerAccount: z
            .strictObject({
              rate: z.number().int().min(1).default(5).describe('Requests admitted per period.'),
              period: duration('1m', 'The period of `rate`.'),
              burst: z.number().int().min(0).default(5).describe('Extra requests admitted at once.'),
            })
            .prefault({})
            .describe('Failed sign-ins tolerated per username (checked before hashing).'),
          failedLoginPerAddress: z
            .strictObject({
              rate: z.number().int().min(1).default(20).describe('Requests admitted per period.'),
              period: duration('1m', 'The period of `rate`.'),
              burst: z.number().int().min(0).default(20).describe('Extra requests admitted at once.'),
            })
            .prefault({})
            .describe('Failed sign-ins tolerated per source address (checked before hashing).'),
        })
        .prefault({})
        .describe('People: users, browser sessions, the authorization endpoint, codes and refresh tokens.'),
      device: z
        .strictObject({
          codeTtl: duration('10m', 'Lifetime of a device authorization (device_code and user_code), RFC 8628.'),
          interval: z
            .number()
            .int()
            .min(1)
            .max(60)
            .default(5)
            .describe('Seconds a device must wait between polls (`interval`); each `slow_down` adds 5.'),
          maxPending: z
            .number()
            .int()
            .min(1)
            .max(100_000)
            .default(1000)
            .describe('Pending device authorizations at most; beyond it new ones answer slow_down with Retry-After.'),
          failedEntryPerAccount: z
            .strictObject({
              rate: z.number().int().min(1).default(5).describe('Requests admitted per period.'),
              period: duration('1m', 'The period of `rate`.'),
              burst: z.number().int().min(0).default(5).describe('Extra requests admitted at once.'),
            })
            .prefault({})
            .describe('Failed user code entries tolerated per signed-in account.'),
          failedEntryPerAddress: z
            .strictObject({
              rate: z.number().int().min(1).default(10).describe('Requests admitted per period.'),
              period: duration('1m', 'The period of `rate`.'),
              burst: z.number().int().min(0).default(10).describe('Extra requests admitted at once.'),
            })
            .prefault({})
            .describe('Failed user code entries tolerated per source address.'),
          failedEntryGlobal: z
            .strictObject({
              rate: z.number().int().min(1).default(60).describe('Requests admitted per period.'),
              period: duration('1m', 'The period of `rate`.'),
              burst: z.number().int().min(0).default(60).describe('Extra requests admitted at once.'),
            })
            .prefault({})
            .describe('Failed user code entries tolerated in total (bounds guessing; see docs/sign-in.md).'),
        })
        .prefault({})
        .describe('The Device Authorization Grant (RFC 8628): codes, polling interval, code-entry limits.'),
      platformAudience: z
        .string()
        .min(1)
        .max(512)
        .default('urn:gatehouse:platform')
        .describe(
          'Audience (`aud`) an access token must carry to be accepted by the KMS, object and admin APIs (register it with `gatehouse api create --audience` and the scopes `admin`, `kms:encrypt:<key>`, ...).',
        ),
      apiKeys: z
        .strictObject({
          header: z
            .string()
            .regex(/^[a-z0-9-]{1,64}$/, 'expected a lowercase header name')
            .default('x-api-key')
            .describe('Header API keys are presented in (also accepted: `Authorization: Bearer ghk_…`).'),
          rotationOverlap: duration('24h', 'How long the previous key stays valid after `gatehouse apikey rotate`.'),
          refreshEvery: duration(
            '5s',
            'How often a replica re-reads API keys into its in-memory index (its own changes apply at once).',
          ),
          lastUsedEvery: duration('1m', "A key's last-used time is written at most once per this period."),
        })
        .prefault({})
        .describe('API keys (`ghk_…`).'),
      revocation: z
        .strictObject({
          refreshEvery: duration(
            '1s',
            'How often a replica re-reads revocations written by other replicas (without Redis fan-out).',
          ),
          feedPageSize: z
            .number()
            .int()
            .min(10)
            .max(10000)
            .default(1000)
            .describe('Most items one `GET /revocations` page returns.'),
        })
        .prefault({})
        .describe('Token and API key revocation (deny list kept until each token expires).'),
    })
    .prefault({})
    .describe('Identity: the OAuth2 authorization server.'),
  ratelimit: z
    .strictObject({
      memory: z
        .strictObject({
          maxKeys: z
            .number()
            .int()
            .min(100)
            .max(100_000_000)
            .default(1_000_000)
            .describe(
              'In-process limiter store: most keys held; a key used among the last maxKeys / 2 distinct keys is never evicted (two-generation LRU).',
            ),
        })
        .prefault({})
        .describe('In-process limiter store.'),
    })
    .prefault({})
    .describe('Rate limiting.'),
  gateway: gatewaySection(),
  mesh: z
    .strictObject({
      demo: z
        .strictObject({
          enabled: z.boolean().default(true).describe('Start the demo mesh (frontend → backend) in `gatehouse up`.'),
          frontendPort: port(
            15001,
            'Inbound port of the demo frontend sidecar (PERMISSIVE). A taken port falls back to a free one (endpoints.json).',
          ),
          backendPort: port(
            15002,
            'Inbound mTLS port of the demo backend sidecar (STRICT). A taken port falls back to a free one (endpoints.json).',
          ),
        })
        .prefault({})
        .describe('The demo mesh of `gatehouse up` (docs/mesh.md).'),
    })
    .prefault({})
    .describe('Service mesh.'),
  sidecar: sidecarSection(),
});

/** The validated, frozen configuration that is passed explicitly to every component. */
export type Config = z.output<typeof configSchema>;
/** What a configuration file may contain (every key optional). */
export type ConfigInput = z.input<typeof configSchema>;
