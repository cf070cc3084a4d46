import { isIP } from 'node:net';
import { DAY_MS, finding, type Check } from './posture_finding.js';

/** KMS key versions older than this are a finding (AWS KMS rotates yearly). */
export const KMS_KEY_MAX_AGE_MS = 365 * DAY_MS;
/** Trusted-proxy CIDRs wider than these prefixes let most of the internet forge X-Forwarded-For. */
const WIDEST_TRUSTED_PREFIX = { 4: 8, 6: 7 } as const;

function prefixTooWide(cidr: string): boolean {
  const [address = '', bits] = cidr.split('/');
  const family = isIP(address);
  if (family === 0 || bits === undefined) return false;
  return Number(bits) < WIDEST_TRUSTED_PREFIX[family as 4 | 6];
}

/** The checks of KMS keys and of the gateway section in force. */
export const KMS_AND_GATEWAY_CHECKS: readonly Check[] = [
  {
    name: 'kms.key_rotation',
    run: ({ kmsKeys, now }) => {
      const stale = kmsKeys
        .filter((k) => !k.deleted)
        .filter((k) => {
          const primary = k.versions.find((v) => v.version === k.latestVersion);
          return primary !== undefined && now - primary.createdAt > KMS_KEY_MAX_AGE_MS;
        })
        .map((k) => k.name);
      return stale.length > 0
        ? [
            finding(
              'warning',
              'these KMS keys have encrypted with the same version for over a year',
              'gatehouse kms rotate NAME, then rewrap (docs/kms.md)',
              stale,
            ),
          ]
        : [];
    },
  },
  {
    name: 'kms.deletion_allowed',
    run: ({ kmsKeys }) => {
      const deletable = kmsKeys.filter((k) => !k.deleted && k.deletionAllowed).map((k) => k.name);
      return deletable.length > 0
        ? [
            finding(
              'notice',
              'these KMS keys may be deleted (deletion_allowed): data under them is lost with them',
              'gatehouse kms key config NAME --no-deletion-allowed, unless a deletion is planned',
              deletable,
            ),
          ]
        : [];
    },
  },
  {
    name: 'gateway.trusted_proxies',
    run: ({ gateway }) => {
      const wide = gateway.trustedProxies.filter(prefixTooWide);
      return wide.length > 0
        ? [
            finding(
              'critical',
              'gateway.trustedProxies holds ranges so wide that clients can forge X-Forwarded-For, and with it their address limits',
              'list only the addresses of your own proxies',
              wide,
            ),
          ]
        : [];
    },
  },
  {
    name: 'gateway.waf_mode',
    run: ({ gateway }) => {
      const weak = gateway.routes.filter((r) => r.waf.mode !== 'block').map((r) => `${r.name} (${r.waf.mode})`);
      return weak.length > 0
        ? [
            finding(
              'warning',
              'the WAF of these routes does not block',
              'set waf.mode to block once the log shows no false positives (docs/waf.md)',
              weak,
            ),
          ]
        : [];
    },
  },
  {
    name: 'gateway.shadow_limits',
    run: ({ gateway }) => {
      const shadow = gateway.routes.flatMap((r) => r.limits.filter((l) => l.shadow).map((l) => `${r.name}/${l.name}`));
      return shadow.length > 0
        ? [
            finding(
              'warning',
              'these rate limits only count (shadow): nothing over them is refused',
              'set shadow to false once the metrics show the limits fit',
              shadow,
            ),
          ]
        : [];
    },
  },
  {
    name: 'gateway.revocation',
    run: ({ gateway }) =>
      gateway.revocation.mode === 'off' && gateway.routes.some((r) => r.auth.kind === 'jwt')
        ? [
            finding(
              'warning',
              'JWT routes do not learn of revoked tokens (gateway.revocation.mode off): a revoked token works until it expires',
              'set gateway.revocation.mode to poll',
            ),
          ]
        : [],
  },
  {
    name: 'gateway.public_routes',
    run: ({ gateway }) => {
      const open = gateway.routes.filter((r) => r.auth.kind === 'none').map((r) => r.name);
      return open.length > 0
        ? [
            finding(
              'notice',
              'these gateway routes need no credential',
              'nothing, if they are meant to be public; else set auth.kind to jwt or api_key',
              open,
            ),
          ]
        : [];
    },
  },
];
