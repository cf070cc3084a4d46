import { isIP } from 'node:net';
import { z } from 'zod';
import { connectionUrl, DNS_NAME_PATTERN, duration, port, rateBudget } from './schema_fields.js';
import { gatewaySection } from './schema_gateway.js';
import { identitySection } from './schema_identity.js';
import { sidecarSection } from './schema_sidecar.js';

const tlsMode = z
  .enum(['auto', 'require', 'disable'])
  .default('auto')
  .describe(
    'TLS to the server: auto = TLS unless the host is loopback; require = always; disable = never (logged as insecure when the host is not loopback).',
  );

const level = z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']);

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
      level: level
        .default('info')
        .describe(
          'Log level (the `--log-level` flag of `up`, `gateway`, `sidecar` and a component alone overrides it); read at start only.',
        ),
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
          url: connectionUrl(['postgres:', 'postgresql:'], 'postgres://gatehouse@db.internal:5432/gatehouse')
            .optional()
            .describe(
              'Connection URL, e.g. postgres://gatehouse@db.internal:5432/gatehouse (postgres:// or postgresql://, or a Unix socket path). Required when kind is postgres.',
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
      url: connectionUrl(['redis:', 'rediss:'], 'redis://cache.internal:6379')
        .optional()
        .describe(
          'Redis URL, e.g. redis://cache.internal:6379 (redis:// or rediss://, or a Unix socket path; a host without a scheme is refused): shared rate-limit counters, and revocations pushed to identity replicas and gateways at once. Unset: limits stay in process and revocations travel through the store and the feed.',
        ),
      keyPrefix: z
        .string()
        .default('gatehouse:')
        .describe(
          'Prefix of every Redis key and channel gatehouse uses; revocations go out on `<keyPrefix>revocations`, so identity replicas and gateways share one prefix.',
        ),
      tls: tlsMode,
    })
    .prefault({})
    .describe('Redis (optional).'),
  listen: z
    .strictObject({
      host: z.string().default('127.0.0.1').describe('Address the public listeners bind.'),
      certificateNames: z
        .array(
          z
            .string()
            .refine(
              (name) => isIP(name) !== 0 || (DNS_NAME_PATTERN.test(name) && !name.startsWith('*')),
              'expected a lowercase DNS name (no wildcard) or an IP address',
            ),
        )
        .max(32)
        .default([])
        .describe(
          'Names clients reach the listeners by (a load balancer, the host of identity.issuer or listen.identityMtls.url, the machine): DNS names or IP addresses added to every listener certificate the platform CA issues, which otherwise names only localhost, 127.0.0.1 and ::1. Not used for --cert/--key.',
        ),
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
      ticketKeyRotation: duration(
        '1h',
        'How often the TLS session ticket keys of the admin, identity, KMS, CA and gateway listeners are replaced (a ticket issued before then is no longer resumed: that connection makes a full handshake). At least 1s.',
      ).refine((ms) => ms >= 1000, 'expected at least 1s'),
      hstsMaxAge: duration(
        '730d',
        'Strict-Transport-Security max-age sent on every response of the admin, identity, KMS and CA listeners (the gateway has its own: `gateway.hsts`).',
      ),
    })
    .prefault({})
    .describe('HTTP server limits shared by every listener.'),
  pki: z
    .strictObject({
      rootTtl: duration('3650d', 'Lifetime of the root CA certificate.'),
      intermediateTtl: duration(
        '365d',
        'Lifetime of the intermediate CA certificate. Must exceed twice the longest leaf lifetime (max of pki.maxSvidTtl and pki.listenerCertTtl): the next intermediate, prepared at half of this, is published in the bundle for a while before it signs.',
      ),
      listenerCertTtl: duration('24h', "Lifetime of each platform listener's certificate."),
      renewAtFraction: z
        .number()
        .gt(0)
        .lt(1)
        .default(2 / 3)
        .describe('Fraction of a certificate lifetime after which it is renewed.'),
      expiryWarning: duration(
        '30d',
        'A CA certificate closer than this to expiry is reported loudly (an intermediate whose published successor takes over before then: an info line that rotation is scheduled).',
      ),
      svidTtl: duration('24h', 'Default lifetime of a workload X.509-SVID.'),
      maxSvidTtl: duration('24h', 'Longest SVID lifetime a caller may request (also how long revocations are listed).'),
      joinTokenTtl: duration('10m', 'Default lifetime of a one-time join token (`gatehouse ca join-token`).'),
      maxJoinTokenTtl: duration(
        '24h',
        'Longest lifetime a join token may be given (`ca join-token --ttl`; as kubeadm bootstrap tokens): an unused bootstrap credential should not outlive a day.',
      ),
      caActivationDelay: duration(
        '24h',
        'CA rotation: how long a prepared intermediate is published in the bundle before it starts signing.',
      ),
      bundleRefreshHint: duration('5m', 'The `spiffe_refresh_hint` of the SPIFFE bundle (how often peers refetch it).'),
      allowedDnsNames: z
        .array(
          z
            .string()
            .max(253)
            .regex(DNS_NAME_PATTERN, 'expected a lowercase DNS name, or *. and a suffix such as *.svc.cluster.local'),
        )
        .max(256)
        .optional()
        .describe(
          'DNS names workloads may ask for in their SVIDs (`dns_names` of `POST /v1/ca/sign`, kept on renewal): exact names or `*.suffix` patterns. Unset: any name. `localhost`, `*.localhost` and names that parse as IP addresses are always refused.',
        ),
      limits: z
        .strictObject({
          signPerAddress: rateBudget(
            60,
            '1m',
            30,
            'Enrollments (`POST /v1/ca/sign`, join token or access token) per source address. A fleet booting behind one NAT enrolls 31 nodes at once, then one a second (the rest are answered 429 with Retry-After, and the sidecar waits and tries again with the same, unspent join token).',
          ),
          failedBootstrapPerAddress: rateBudget(
            10,
            '1m',
            10,
            'Refused bootstrap credentials (an unknown, expired or used join token; an invalid access token; none) per source address. Once spent, every enrollment from the address is refused with 429 until it refills (checked before the token is looked up).',
          ),
          renewPerAddress: rateBudget(
            120,
            '1m',
            60,
            'Renewals (`POST /v1/ca/renew`) per source address, counted before the client certificate is judged.',
          ),
          renewPerSpiffeId: rateBudget(
            60,
            '1m',
            30,
            'Renewals per SPIFFE ID of the client certificate (replicas of one workload share it). A healthy sidecar renews at 2/3 of its SVID lifetime (every 16 h with 24 h SVIDs); a loop beyond this is a bug or an attack.',
          ),
        })
        .prefault({})
        .describe(
          'Rate limits of the CA listener, per source address and per SPIFFE ID: over a limit the CA answers 429 `ERR_PKI_RATE_LIMITED` with Retry-After. Counted with the identity throttles (in Redis when `redis.url` is set, shared by replicas). The bundle and deny-list GETs are not limited.',
        ),
    })
    .refine((pki) => pki.joinTokenTtl <= pki.maxJoinTokenTtl, {
      message: 'expected pki.joinTokenTtl at most pki.maxJoinTokenTtl',
      path: ['joinTokenTtl'],
    })
    // Prepared at half of its life, the next intermediate must still have time in the bundle before the active one
    // stops covering a full leaf lifetime; otherwise it would sign in the same pass that publishes it.
    .refine((pki) => pki.intermediateTtl > 2 * Math.max(pki.maxSvidTtl, pki.listenerCertTtl), {
      message:
        'expected pki.intermediateTtl longer than twice max(pki.maxSvidTtl, pki.listenerCertTtl), so that a next intermediate is published before it signs',
      path: ['intermediateTtl'],
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
  identity: identitySection(),
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
