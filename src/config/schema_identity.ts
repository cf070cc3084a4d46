// The `identity` section of the configuration schema: the OAuth2 authorization server (docs/identity.md).
import { z } from 'zod';
import { duration, rateBudget } from './schema_fields.js';

/** Longest `identity.signIn.refreshGraceWindow` (ORY Hydra's bound): beyond it reuse detection means little. */
const MAX_REFRESH_GRACE_MS = 5 * 60_000;
/** The longest a replaced client secret or API key may keep working (the identity registries refuse longer ones). */
const MAX_ROTATION_OVERLAP_MS = 30 * 86_400_000;
const overlap = (what: string) =>
  duration('24h', what).refine(
    (ms) => ms <= MAX_ROTATION_OVERLAP_MS,
    'at most 30d (a longer overlap defeats rotation)',
  );

/**
 * The issuer identifier (RFC 8414 §2): an https URL without query or fragment, held without a trailing slash, since
 * every verifier compares `iss` exactly.
 */
function issuerUrl() {
  return z
    .string()
    .url()
    .superRefine((value, ctx) => {
      if (!value.toLowerCase().startsWith('https://')) {
        ctx.addIssue({ code: 'custom', message: 'expected an https URL (RFC 8414: the issuer uses https)' });
      }
      if (value.includes('?') || value.includes('#')) {
        ctx.addIssue({ code: 'custom', message: 'expected an issuer URL without query or fragment' });
      }
    })
    .transform((value) => value.replace(/\/+$/, ''));
}

/** The `identity` section: issuer, signing keys, clients, tokens, API keys, sign-in, limits and revocation. */
export function identitySection() {
  return z
    .strictObject({
      issuer: issuerUrl()
        .optional()
        .describe(
          'Issuer URL (RFC 8414: https, no query or fragment; a trailing slash is dropped, so tokens, metadata and verifiers all see one value). Default: https://127.0.0.1:<bound identity port>.',
        ),
      accessTokenTtl: duration(
        '15m',
        'Default access token lifetime (a client may set its own with --access-token-ttl).',
      ),
      maxAccessTokenTtl: duration(
        '24h',
        'Longest access token lifetime a client may be given; retired signing keys stay published this long.',
      ),
      secretRotationOverlap: overlap(
        'How long the previous client secret stays valid after `gatehouse client rotate-secret` (at most 30d).',
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
          failedAuthPerClient: rateBudget(10, '1m', 10, 'Failed client authentications tolerated per client_id.'),
          failedAuthPerAddress: rateBudget(30, '1m', 30, 'Failed client authentications tolerated per source address.'),
          tokenRequestsPerAddress: rateBudget(
            6000,
            '1m',
            1000,
            'Token requests admitted per source address (flood guard).',
          ),
          introspectionRequestsPerAddress: rateBudget(
            6000,
            '1m',
            1000,
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
            'Concurrent-refresh window: a reuse inside it gets the same unused successor (0: every reuse revokes the family). At most 5m (the bound ORY Hydra uses): a longer window would let a stolen refresh token be reused without revoking the family.',
          ).refine((ms) => ms <= MAX_REFRESH_GRACE_MS, {
            message:
              'expected at most 5m: a longer window lets a stolen refresh token be reused without revoking the family (refresh reuse detection)',
          }),
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
            .describe(
              "Password hashes computed at once (the rest wait in a bounded queue). Each holds one of libuv's thread-pool threads (4 unless UV_THREADPOOL_SIZE says otherwise), which the token endpoint also signs on: keep it below the pool size (a value that is not is logged at start as hash_concurrency_fills_thread_pool).",
            ),
          hashQueue: z
            .number()
            .int()
            .min(1)
            .max(10_000)
            .default(64)
            .describe('Password hashes that may wait; beyond it sign-in answers 503 at once.'),
          failedLoginPerAccount: rateBudget(
            5,
            '1m',
            5,
            'Failed sign-ins tolerated per username (checked before hashing).',
          ),
          failedLoginPerAddress: rateBudget(
            20,
            '1m',
            20,
            'Failed sign-ins tolerated per source address (checked before hashing).',
          ),
          newSessionsPerAddress: rateBudget(
            600,
            '1m',
            300,
            'New browser sessions per source address: each visit of a sign-in page without a session cookie stores one (its CSRF token), so this bounds what a client dropping cookies can make the store hold; beyond it the page answers 429 with Retry-After.',
          ),
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
            .describe(
              'Pending device authorizations at most; beyond it the device authorization endpoint answers 503 temporarily_unavailable with Retry-After.',
            ),
          failedEntryPerAccount: rateBudget(5, '1m', 5, 'Failed user code entries tolerated per signed-in account.'),
          failedEntryPerAddress: rateBudget(10, '1m', 10, 'Failed user code entries tolerated per source address.'),
          failedEntryGlobal: rateBudget(
            60,
            '1m',
            60,
            'Failed user code entries tolerated in total (bounds guessing; see docs/sign-in.md).',
          ),
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
          rotationOverlap: overlap(
            'How long the previous key stays valid after `gatehouse apikey rotate` (at most 30d).',
          ),
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
    .describe('Identity: the OAuth2 authorization server.');
}
