import { BlockList, isIP } from 'node:net';
import { DAY_MS, finding, type Check } from './posture_finding.js';

/** KMS key versions older than this are a finding (AWS KMS rotates yearly). */
export const KMS_KEY_MAX_AGE_MS = 365 * DAY_MS;
/** IPv4 trusted-proxy ranges wider than /8 let most of the internet forge X-Forwarded-For. */
const WIDEST_IPV4_PREFIX = 8;
/** Public IPv6 ranges wider than /32 (an ISP's allocation): no proxy fleet is that large. */
const WIDEST_PUBLIC_IPV6_PREFIX = 32;
/** Private IPv6 (unique local fc00::/7, link-local fe80::/10): as wide as /7 is fine. */
const WIDEST_PRIVATE_IPV6_PREFIX = 7;

function subnet(address: string, prefix: number): BlockList {
  const list = new BlockList();
  list.addSubnet(address, prefix, 'ipv6');
  return list;
}
/** IPv4-mapped IPv6: Node's BlockList (and so the gateway's ClientAddresses) matches IPv4 peers against it. */
const MAPPED_IPV4 = subnet('::ffff:0:0', 96);
const PRIVATE_IPV6 = new BlockList();
PRIVATE_IPV6.addSubnet('fc00::', 7, 'ipv6');
PRIVATE_IPV6.addSubnet('fe80::', 10, 'ipv6');

/**
 * Whether a `gateway.trustedProxies` entry trusts far more than a proxy fleet: IPv4 wider than /8; an IPv6 range that
 * covers all of IPv4 (it holds ::ffff:0:0 with a prefix of 96 or less) or a mapped IPv4 range wider than /8; private
 * IPv6 wider than /7; public IPv6 wider than /32.
 */
function prefixTooWide(cidr: string): boolean {
  const [address = '', bits] = cidr.split('/');
  const family = isIP(address);
  if (family === 0 || bits === undefined) return false;
  const prefix = Number(bits);
  if (family === 4) return prefix < WIDEST_IPV4_PREFIX;
  if (prefix <= 96 && subnet(address, prefix).check('::ffff:0:0', 'ipv6')) return true;
  if (MAPPED_IPV4.check(address, 'ipv6')) return prefix - 96 < WIDEST_IPV4_PREFIX;
  if (PRIVATE_IPV6.check(address, 'ipv6')) return prefix < WIDEST_PRIVATE_IPV6_PREFIX;
  return prefix < WIDEST_PUBLIC_IPV6_PREFIX;
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
    name: 'gateway.hsts',
    run: ({ gateway }) =>
      gateway.hsts.maxAge <= 0
        ? [
            finding(
              'notice',
              'gateway answers carry no Strict-Transport-Security (gateway.hsts.maxAge 0): a browser may try plain HTTP first and be led astray',
              'set gateway.hsts.maxAge (730d by default), unless every upstream sends its own',
            ),
          ]
        : [],
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
