import { isIP } from 'node:net';
import type { PostureFacts } from './posture_facts.js';

/**
 * How bad a finding is. critical: exploitable or failing now (a secret others can read, a CA about to expire);
 * warning: weaker than gatehouse's strict default, or hygiene that is overdue; notice: worth knowing, nothing to fix.
 */
export type Severity = 'critical' | 'warning' | 'notice';

/** One thing `gatehouse doctor` found. */
export interface Finding {
  /** The check's stable name (docs/operations.md lists them). */
  check: string;
  severity: Severity;
  /** What is wrong, in one sentence. */
  summary: string;
  /** What to do about it. */
  fix: string;
  /** The clients, keys, routes or files concerned. */
  subjects?: string[];
}

/** The answer of `GET /v1/doctor`. */
export interface PostureReport {
  checkedAt: number;
  findings: Finding[];
  /** Checks that found nothing. */
  passed: string[];
}

const DAY_MS = 86_400_000;
/** Access tokens living longer than this are a finding (the default is 15 minutes). */
export const LONG_ACCESS_TOKEN_MS = 3_600_000;
/** API keys older than this without rotation are a finding. */
export const API_KEY_MAX_AGE_MS = 90 * DAY_MS;
/** KMS key versions older than this are a finding (AWS KMS rotates yearly). */
export const KMS_KEY_MAX_AGE_MS = 365 * DAY_MS;
/** Trusted-proxy CIDRs wider than these prefixes let most of the internet forge X-Forwarded-For. */
const WIDEST_TRUSTED_PREFIX = { 4: 8, 6: 7 } as const;

interface Check {
  name: string;
  run(facts: PostureFacts): Omit<Finding, 'check'>[];
}

const finding = (severity: Severity, summary: string, fix: string, subjects?: string[]): Omit<Finding, 'check'> => ({
  severity,
  summary,
  fix,
  ...(subjects && subjects.length > 0 ? { subjects } : {}),
});

const clientName = (c: PostureFacts['clients'][number]) => `${c.clientId} (${c.name})`;
const keyName = (k: PostureFacts['apiKeys'][number]) => `${k.id} (${k.name})`;
const opensToOthers = (mode: number | undefined) => mode !== undefined && (mode & 0o077) !== 0;
const octal = (mode: number) => `0${mode.toString(8)}`;

function prefixTooWide(cidr: string): boolean {
  const [address = '', bits] = cidr.split('/');
  const family = isIP(address);
  if (family === 0 || bits === undefined) return false;
  return Number(bits) < WIDEST_TRUSTED_PREFIX[family as 4 | 6];
}

/** Every check, in the order the report lists them. */
export const POSTURE_CHECKS: readonly Check[] = [
  {
    name: 'root_key.location',
    run: ({ rootKey }) =>
      rootKey.source === 'data-dir'
        ? [
            finding(
              'warning',
              'the root key sits in the data directory: a copy of the directory (a backup, a disk image) opens every secret',
              'move it to a secret mount and start with --root-key-file FILE or GATEHOUSE_ROOT_KEY (docs/operations.md)',
              rootKey.file === undefined ? undefined : [rootKey.file],
            ),
          ]
        : [],
  },
  {
    name: 'root_key.file_mode',
    run: ({ rootKey }) =>
      opensToOthers(rootKey.fileMode)
        ? [
            finding(
              'critical',
              `the root key file is readable by group or others (mode ${octal(rootKey.fileMode!)})`,
              'chmod 600 it',
              [rootKey.file!],
            ),
          ]
        : [],
  },
  {
    name: 'admin_token.file_mode',
    run: ({ adminToken }) =>
      opensToOthers(adminToken.mode)
        ? [
            finding(
              'critical',
              `the admin token file is readable by group or others (mode ${octal(adminToken.mode!)})`,
              'chmod 600 it, then gatehouse admin rotate-token (the old token may have been read)',
              [adminToken.file],
            ),
          ]
        : [],
  },
  {
    name: 'data_dir.permissions',
    run: ({ dataDir }) =>
      dataDir.mode !== undefined && (dataDir.mode & 0o022) !== 0
        ? [
            finding(
              'critical',
              `the data directory is writable by group or others (mode ${octal(dataDir.mode)}): they can replace its files`,
              'chmod 700 it',
              [dataDir.path],
            ),
          ]
        : [],
  },
  {
    name: 'ca.expiry',
    run: ({ caWarnings }) =>
      caWarnings.map((warning) =>
        finding(
          'critical',
          warning,
          'gatehouse ca rotate (an intermediate), or plan a new root (docs/ca.md, "CA rotation")',
        ),
      ),
  },
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
      const overdue = signingKeys
        .filter((k) => k.retiresAt === null && k.activatesAt <= now)
        .filter((k) => !signingKeys.some((n) => n.activatesAt > k.activatesAt && n.retiresAt === null))
        .filter((k) => now - k.activatesAt > rotateEvery + prePublish + DAY_MS)
        .map((k) => k.kid);
      return overdue.length > 0
        ? [
            finding(
              'warning',
              'a signing key has been signing for over identity.signing.rotateEvery plus a day: automatic rotation is not running',
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
  {
    name: 'redis.revocation_fanout',
    run: ({ config }) =>
      config.storage.kind === 'postgres' && config.redis.url === undefined
        ? [
            finding(
              'notice',
              'replicas share storage but no Redis: revocations reach the others only every identity.revocation.refreshEvery, and limits count per replica',
              'set redis.url',
            ),
          ]
        : [],
  },
];

const RANK: Record<Severity, number> = { critical: 0, warning: 1, notice: 2 };

/**
 * Runs every check on the facts: the findings, most severe first (checks in their listed order within a severity),
 * and the names of the checks that found nothing.
 *
 * @example
 * const report = auditPosture(facts);
 * if (report.findings.some((f) => f.severity !== 'notice')) process.exitCode = 4;
 */
export function auditPosture(facts: PostureFacts): PostureReport {
  const findings: Finding[] = [];
  const passed: string[] = [];
  for (const check of POSTURE_CHECKS) {
    const found = check.run(facts);
    if (found.length === 0) passed.push(check.name);
    for (const f of found) findings.push({ check: check.name, ...f });
  }
  findings.sort((a, b) => RANK[a.severity] - RANK[b.severity]);
  return { checkedAt: facts.now, findings, passed };
}
