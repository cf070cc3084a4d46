import { pendingKey, signingKeyAt } from '../identity/index.js';
import type { PostureFacts } from './posture_facts.js';
import { DAY_MS, finding, type Check } from './posture_finding.js';

/** Access tokens living longer than this are a finding (the default is 15 minutes). */
export const LONG_ACCESS_TOKEN_MS = 3_600_000;
/** API keys older than this without rotation are a finding. */
export const API_KEY_MAX_AGE_MS = 90 * DAY_MS;

const clientName = (c: PostureFacts['clients'][number]) => `${c.clientId} (${c.name})`;
const keyName = (k: PostureFacts['apiKeys'][number]) => `${k.id} (${k.name})`;

/** The checks of the identity server: flows, token lifetimes, issuer, signing keys, API keys. */
export const IDENTITY_CHECKS: readonly Check[] = [
  {
    name: 'identity.implicit_flow',
    run: ({ config, clients }) => {
      const legacy = clients.filter((c) => c.legacyImplicit).map(clientName);
      if (!config.identity.signIn.legacyImplicit) return [];
      return [
        finding(
          'warning',
          'the deprecated implicit flow is on (identity.signIn.legacyImplicit): access tokens travel in URL fragments',
          'move these clients to authorization code + PKCE, then turn identity.signIn.legacyImplicit off',
          legacy,
        ),
      ];
    },
  },
  {
    name: 'identity.access_token_lifetime',
    run: ({ config, clients }) => {
      const out = [];
      if (config.identity.accessTokenTtl > LONG_ACCESS_TOKEN_MS) {
        out.push(
          finding(
            'warning',
            `the default access token lifetime (identity.accessTokenTtl) is over an hour: a leaked token stays useful that long`,
            'keep access tokens short (the default is 15m) and use refresh tokens or client credentials for longer sessions',
          ),
        );
      }
      const long = clients.filter((c) => (c.accessTokenTtlMs ?? 0) > LONG_ACCESS_TOKEN_MS).map(clientName);
      if (long.length > 0) {
        out.push(
          finding(
            'warning',
            'these clients get access tokens that live over an hour',
            'recreate them with a shorter --access-token-ttl (the default is 15m)',
            long,
          ),
        );
      }
      return out;
    },
  },
  {
    name: 'identity.refresh_reuse_window',
    run: ({ config }) =>
      config.identity.signIn.refreshGraceWindow > 0
        ? [
            finding(
              'notice',
              'a reused refresh token inside identity.signIn.refreshGraceWindow gets a successor instead of revoking its family',
              'set identity.signIn.refreshGraceWindow to 0s unless clients refresh concurrently',
            ),
          ]
        : [],
  },
  {
    name: 'identity.issuer',
    run: ({ config }) =>
      config.storage.kind === 'postgres' && config.identity.issuer === undefined
        ? [
            finding(
              'warning',
              'identity.issuer is unset on shared storage: each replica names itself, and refuses the tokens of the others',
              'set identity.issuer to the URL clients use (the load balancer in front of the replicas)',
            ),
          ]
        : [],
  },
  {
    name: 'identity.signing_key_rotation',
    run: ({ config, signingKeys, now }) => {
      const { rotateEvery, prePublish } = config.identity.signing;
      // One key set per algorithm (the access token one, RS256 and ES256 for ID tokens), judged on its own as the
      // scheduled job does (identity/signing_keys/timeline.ts): a rotation is due once the signer's activation plus
      // rotateEvery falls within prePublish; a pending successor means it ran. Overdue: still due a day later.
      const overdue = [...new Set(signingKeys.map((k) => k.alg))].flatMap((alg) => {
        const set = signingKeys.filter((k) => k.alg === alg);
        if (pendingKey(set, now)) return [];
        const signer = signingKeyAt(set, now);
        return signer && signer.activatesAt + rotateEvery - prePublish + DAY_MS < now ? [`${signer.kid} (${alg})`] : [];
      });
      return overdue.length > 0
        ? [
            finding(
              'warning',
              'a signing key should have had a successor for over a day (identity.signing.rotateEvery): automatic rotation is not running',
              'look for scheduler errors in the log, then gatehouse signing-keys rotate',
              overdue,
            ),
          ]
        : [];
    },
  },
  {
    name: 'identity.api_key_expiry',
    run: ({ apiKeys, now }) => {
      const forever = apiKeys.filter((k) => k.revokedAt === null && k.expiresAt === null).map(keyName);
      const old = apiKeys
        .filter((k) => k.revokedAt === null && (k.expiresAt === null || k.expiresAt > now))
        .filter((k) => now - k.createdAt > API_KEY_MAX_AGE_MS)
        .map(keyName);
      const out = [];
      if (old.length > 0) {
        out.push(
          finding(
            'warning',
            'these API keys were made over 90 days ago',
            'gatehouse apikey rotate ID (the old key keeps working for identity.apiKeys.rotationOverlap)',
            old,
          ),
        );
      }
      if (forever.length > 0) {
        out.push(
          finding(
            'notice',
            'these API keys never expire',
            'give new keys --expires-in, and rotate these on a schedule',
            forever,
          ),
        );
      }
      return out;
    },
  },
];
