import { describe, expect, it } from 'vitest';
import {
  API_KEY_MAX_AGE_MS,
  auditPosture,
  KMS_KEY_MAX_AGE_MS,
  LONG_ACCESS_TOKEN_MS,
  POSTURE_CHECKS,
} from '../../src/app/posture_checks.js';
import type { PostureFacts } from '../../src/app/posture_facts.js';
import { loadConfig } from '../../src/config/index.js';

const NOW = Date.parse('2026-06-01T00:00:00Z');
const DAY = 86_400_000;

/** The facts of a deployment with nothing to report; `change` edits a copy. */
function facts(overrides: Record<string, unknown> = {}, change: (f: PostureFacts) => void = () => {}): PostureFacts {
  const config = loadConfig({ overrides });
  const f: PostureFacts = {
    now: NOW,
    config,
    gateway: config.gateway,
    rootKey: { source: 'flag-file', file: '/run/secrets/root', fileMode: 0o600 },
    dataDir: { path: '/var/lib/gatehouse', mode: 0o700 },
    adminToken: { file: '/var/lib/gatehouse/admin.token', mode: 0o600 },
    caWarnings: [],
    clients: [{ clientId: 'ghc_web', name: 'web', legacyImplicit: false }],
    apiKeys: [{ id: 'ak_1', name: 'ci', createdAt: NOW - DAY, expiresAt: NOW + 30 * DAY, revokedAt: null }],
    signingKeys: [
      { kid: 'k1', alg: 'ES256', createdAt: NOW - 10 * DAY, activatesAt: NOW - 10 * DAY, retiresAt: null },
      { kid: 'r1', alg: 'RS256', createdAt: NOW - 10 * DAY, activatesAt: NOW - 10 * DAY, retiresAt: null },
    ],
    kmsKeys: [
      {
        name: 'orders',
        deleted: false,
        deletionAllowed: false,
        latestVersion: 2,
        versions: [
          { version: 1, createdAt: NOW - 400 * DAY, encryptions: 10 },
          { version: 2, createdAt: NOW - 20 * DAY, encryptions: 3 },
        ],
      },
    ],
  };
  change(f);
  return f;
}

const checksOf = (f: PostureFacts) => auditPosture(f).findings.map((x) => `${x.severity} ${x.check}`);

describe('gatehouse doctor: the posture checks', () => {
  it('finds nothing on a strict deployment, and lists every check as passed', () => {
    const report = auditPosture(facts());
    expect(report.findings).toEqual([]);
    expect(report.passed).toEqual(POSTURE_CHECKS.map((c) => c.name));
    expect(report.checkedAt).toBe(NOW);
  });

  it('flags the root key beside the data, and secret files or the directory open to others', () => {
    const f = facts({}, (x) => {
      x.rootKey = { source: 'data-dir', file: '/d/root.key', fileMode: 0o640 };
      x.adminToken.mode = 0o604;
      x.dataDir.mode = 0o770;
    });
    const report = auditPosture(f);
    expect(checksOf(f)).toEqual([
      'critical root_key.file_mode',
      'critical admin_token.file_mode',
      'critical data_dir.permissions',
      'warning root_key.location',
    ]);
    expect(report.findings[0]).toMatchObject({ summary: expect.stringContaining('0640'), subjects: ['/d/root.key'] });
    // --root-key-file pointing into the data directory is the same exposure as DIR/root.key.
    const flagged = facts({}, (x) => (x.rootKey = { source: 'flag-file', file: '/var/lib/gatehouse/keys/root' }));
    expect(checksOf(flagged)).toEqual(['warning root_key.location']);
    const beside = facts({}, (x) => (x.rootKey = { source: 'flag-file', file: '/var/lib/gatehouse-root.key' }));
    expect(checksOf(beside)).toEqual([]);
    // A readable (not writable) directory and a root key from the environment are fine.
    expect(checksOf(facts({}, (x) => ((x.dataDir.mode = 0o755), (x.rootKey = { source: 'env' }))))).toEqual([]);
    // A file that does not exist has no mode: nothing to judge.
    expect(checksOf(facts({}, (x) => (x.adminToken = { file: '/d/admin.token' })))).toEqual([]);
  });

  it('notices an admin token not rotated for over 90 days', () => {
    const aged = (days: number) => facts({}, (x) => (x.adminToken.rotatedAt = NOW - days * DAY));
    expect(checksOf(aged(90))).toEqual([]);
    expect(checksOf(aged(91))).toEqual(['notice admin_token.age']);
  });

  it('passes the CA expiry warnings on as critical findings', () => {
    const f = facts({}, (x) => (x.caWarnings = ['intermediate expires in 12 days']));
    expect(auditPosture(f).findings).toEqual([
      expect.objectContaining({
        check: 'ca.expiry',
        severity: 'critical',
        summary: 'intermediate expires in 12 days',
      }),
    ]);
  });

  it('flags the implicit flow, long access tokens and a refresh reuse window', () => {
    const f = facts(
      { identity: { accessTokenTtl: '2h', signIn: { legacyImplicit: true, refreshGraceWindow: '10s' } } },
      (x) => {
        x.clients = [
          { clientId: 'ghc_spa', name: 'old spa', legacyImplicit: true },
          { clientId: 'ghc_job', name: 'batch', legacyImplicit: false, accessTokenTtlMs: LONG_ACCESS_TOKEN_MS + 1 },
          { clientId: 'ghc_ok', name: 'ok', legacyImplicit: false, accessTokenTtlMs: LONG_ACCESS_TOKEN_MS },
        ];
      },
    );
    const report = auditPosture(f);
    expect(checksOf(f)).toEqual([
      'warning identity.implicit_flow',
      'warning identity.access_token_lifetime',
      'warning identity.access_token_lifetime',
      'notice identity.refresh_reuse_window',
    ]);
    expect(report.findings[0]?.subjects).toEqual(['ghc_spa (old spa)']);
    expect(report.findings[2]?.subjects).toEqual(['ghc_job (batch)']);
    // A client registered for implicit is no finding while the server refuses the flow.
    expect(checksOf(facts({}, (x) => (x.clients = [{ clientId: 'c', name: 'n', legacyImplicit: true }])))).toEqual([]);
  });

  it('wants an issuer and Redis on shared storage', () => {
    const storage = { kind: 'postgres', postgres: { url: 'postgres://db/gatehouse' } };
    expect(checksOf(facts({ storage }))).toEqual(['warning identity.issuer', 'notice redis.revocation_fanout']);
    expect(
      checksOf(facts({ storage, identity: { issuer: 'https://id.example' }, redis: { url: 'redis://cache:6379' } })),
    ).toEqual([]);
  });

  it('wants certificate names when the listeners bind beyond loopback', () => {
    expect(checksOf(facts({ listen: { host: '0.0.0.0' } }))).toEqual(['warning listen.certificate_names']);
    expect(checksOf(facts({ listen: { host: '0.0.0.0', certificateNames: ['idp.example.com'] } }))).toEqual([]);
    expect(checksOf(facts({ listen: { host: '::1' } }))).toEqual([]);
  });

  it('warns when a key set has been due for rotation for over a day, judging each algorithm on its own', () => {
    const rotateEvery = 30 * DAY;
    const prePublish = 3_600_000;
    const key = (kid: string, alg: string, activated: number, retires: number | null = null) => ({
      kid,
      alg,
      createdAt: NOW - activated - prePublish,
      activatesAt: NOW - activated,
      retiresAt: retires === null ? null : NOW - retires,
    });
    const due = rotateEvery - prePublish; // the signer's age at which the scheduled job publishes a successor
    const rs = key('r1', 'RS256', DAY);
    expect(checksOf(facts({}, (x) => (x.signingKeys = [key('k1', 'ES256', due + DAY), rs])))).toEqual([]);
    const overdue = facts({}, (x) => (x.signingKeys = [key('k1', 'ES256', due + DAY + 1), rs]));
    expect(auditPosture(overdue).findings).toEqual([
      expect.objectContaining({
        check: 'identity.signing_key_rotation',
        severity: 'warning',
        subjects: ['k1 (ES256)'],
      }),
    ]);
    // A pending successor (published, not yet signing) means the job ran.
    const pending = { ...key('k2', 'ES256', -prePublish / 2), createdAt: NOW - prePublish / 2 };
    expect(checksOf(facts({}, (x) => (x.signingKeys = [key('k1', 'ES256', 60 * DAY), pending, rs])))).toEqual([]);
    // A rotation of one algorithm (ES256 rotated yesterday) does not hide another stuck for 60 days (RS256 ID tokens).
    const mixed = facts({}, (x) => {
      x.signingKeys = [key('k1', 'ES256', 60 * DAY, DAY), key('k2', 'ES256', DAY), key('r1', 'RS256', 60 * DAY)];
    });
    expect(auditPosture(mixed).findings.map((f) => f.subjects)).toEqual([['r1 (RS256)']]);
  });

  it('flags old API keys and notices keys without expiry; revoked and expired keys do not count', () => {
    const old = NOW - API_KEY_MAX_AGE_MS - 1;
    const f = facts({}, (x) => {
      x.apiKeys = [
        { id: 'ak_old', name: 'legacy', createdAt: old, expiresAt: NOW + DAY, revokedAt: null },
        { id: 'ak_forever', name: 'ops', createdAt: NOW - DAY, expiresAt: null, revokedAt: null },
        { id: 'ak_revoked', name: 'gone', createdAt: old, expiresAt: null, revokedAt: NOW - DAY },
        { id: 'ak_expired', name: 'done', createdAt: old, expiresAt: NOW - DAY, revokedAt: null },
        { id: 'ak_edge', name: 'edge', createdAt: NOW - API_KEY_MAX_AGE_MS, expiresAt: NOW + DAY, revokedAt: null },
      ];
    });
    const findings = auditPosture(f).findings;
    expect(findings.map((x) => [x.severity, x.check, x.subjects])).toEqual([
      ['warning', 'identity.api_key_expiry', ['ak_old (legacy)']],
      ['notice', 'identity.api_key_expiry', ['ak_forever (ops)']],
    ]);
  });

  it('flags KMS keys whose primary version is over a year old, and notices deletable keys', () => {
    const f = facts({}, (x) => {
      x.kmsKeys = [
        {
          name: 'stale',
          deleted: false,
          deletionAllowed: true,
          latestVersion: 1,
          versions: [{ version: 1, createdAt: NOW - KMS_KEY_MAX_AGE_MS - 1, encryptions: 0 }],
        },
        {
          name: 'deleted',
          deleted: true,
          deletionAllowed: true,
          latestVersion: 1,
          versions: [{ version: 1, createdAt: NOW - 2 * KMS_KEY_MAX_AGE_MS, encryptions: 0 }],
        },
      ];
    });
    expect(auditPosture(f).findings.map((x) => [x.severity, x.check, x.subjects])).toEqual([
      ['warning', 'kms.key_rotation', ['stale']],
      ['notice', 'kms.deletion_allowed', ['stale']],
    ]);
  });

  it('judges the gateway section: proxies, WAF, shadow limits, revocation and public routes', () => {
    const gateway = {
      upstreams: [{ name: 'app', hosts: ['http://127.0.0.1:9000'] }],
      trustedProxies: ['10.0.0.0/8', 'fc00::/7', '0.0.0.0/0', '::/0', '192.168.1.7', '2001:db8::/48'],
      revocation: { mode: 'off' },
      routes: [
        { name: 'api', pathPrefix: '/api/', upstream: 'app', auth: { kind: 'jwt' }, waf: { mode: 'log' } },
        {
          name: 'open',
          pathPrefix: '/',
          upstream: 'app',
          limits: [{ name: 'per-ip', key: ['ip'], rate: 10, shadow: true }],
        },
      ],
    };
    const report = auditPosture(facts({ gateway }));
    expect(report.findings.map((x) => [x.severity, x.check, x.subjects])).toEqual([
      ['critical', 'gateway.trusted_proxies', ['0.0.0.0/0', '::/0']],
      ['warning', 'gateway.waf_mode', ['api (log)']],
      ['warning', 'gateway.shadow_limits', ['open/per-ip']],
      ['warning', 'gateway.revocation', undefined],
      ['notice', 'gateway.public_routes', ['open']],
    ]);
    // IPv6 ranges that cover IPv4 (the gateway matches IPv4 peers against IPv4-mapped ranges), wide mapped IPv4
    // ranges, and public IPv6 wider than /32 trust far too much; private IPv6 up to /7 and narrow ranges are fine.
    const wide = ['::ffff:0.0.0.0/96', '::ffff:0:0/96', '::/8', '::/64', '::ffff:0.0.0.0/97', '2a00::/8', 'fc00::/6'];
    const narrow = ['::ffff:10.0.0.0/104', '2001:db8::/32', 'fd12:3456::/48', 'fe80::/10', '10.1.2.3'];
    const judged = auditPosture(facts({ gateway: { trustedProxies: [...wide, ...narrow] } })).findings;
    expect(judged.map((f) => [f.check, f.subjects])).toEqual([['gateway.trusted_proxies', wide]]);
    // Revocation off matters only with JWT routes.
    const noJwt = { ...gateway, trustedProxies: [], routes: [{ ...gateway.routes[1], limits: [] }] };
    expect(checksOf(facts({ gateway: noJwt }))).toEqual(['notice gateway.public_routes']);
    // HSTS is on by default; turned off, it is a notice.
    expect(checksOf(facts({ gateway: { ...noJwt, hsts: { maxAge: '0s' } } }))).toEqual([
      'notice gateway.hsts',
      'notice gateway.public_routes',
    ]);
  });
});
