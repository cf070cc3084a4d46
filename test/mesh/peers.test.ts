import { createPrivateKey, createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMtlsAgent, type IdentitySource, type Sidecar } from '../../src/mesh/index.js';
import type { MemoryLogger } from '../../src/core/index.js';
import { exec, tempFiles } from '../pki/helpers.js';
import { closeServer, echoApp, id, identityFor, meshCa, sidecarFor } from './helpers.js';

type Ca = Awaited<ReturnType<typeof meshCa>>;
type Files = Awaited<ReturnType<typeof tempFiles>>;

async function writeIdentity(files: Files, name: string, identity: IdentitySource): Promise<void> {
  const { chainPem, keyPem } = identity.current!;
  const { writeFile } = await import('node:fs/promises');
  await writeFile(files.path(`${name}.pem`), chainPem);
  await writeFile(files.path(`${name}.key`), keyPem);
}

/** A cert with two URI SANs signed by the CA's own intermediate (openssl x509 -req with the intermediate key). */
async function twoUriCert(ca: Ca, files: Files): Promise<void> {
  const record = (await ca.store.get<{
    activeIntermediateId: string;
    intermediates: Array<{ id: string; certPem: string; keySecret: string }>;
  }>('pki_authorities', 'platform'))!.value;
  const active = record.intermediates.find((i) => i.id === record.activeIntermediateId)!;
  const der = (await ca.vault.getSecret(active.keySecret))!;
  const { writeFile } = await import('node:fs/promises');
  await writeFile(files.path('int.pem'), active.certPem);
  await writeFile(
    files.path('int.key'),
    createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }),
  );
  await writeFile(
    files.path('ext.cnf'),
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth,clientAuth',
      `subjectAltName=critical,URI:${id('frontend')},URI:${id('other')}`,
    ].join('\n'),
  );
  const d = files.dir;
  let res = await exec('openssl', [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${d}/two.key`,
    '-out',
    `${d}/two.csr`,
    '-subj',
    '/',
  ]);
  expect(res.code, res.output).toBe(0);
  res = await exec('openssl', [
    'x509',
    '-req',
    '-in',
    `${d}/two.csr`,
    '-CA',
    `${d}/int.pem`,
    '-CAkey',
    `${d}/int.key`,
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    `${d}/ext.cnf`,
    '-out',
    `${d}/two.leaf.pem`,
  ]);
  expect(res.code, res.output).toBe(0);
  await writeFile(files.path('two.pem'), (await readFile(`${d}/two.leaf.pem`, 'utf8')) + active.certPem);
}

const GET = 'GET / HTTP/1.1\r\nHost: backend\r\nConnection: close\r\n\r\n';

describe('inbound mTLS against real peers (openssl s_client, curl)', () => {
  let ca: Ca;
  let files: Files;
  let sidecar: Sidecar;
  let logger: MemoryLogger;
  let app: Awaited<ReturnType<typeof echoApp>>;
  let target: string;

  beforeAll(async () => {
    ca = await meshCa();
    files = await tempFiles({ 'bundle.pem': ca.authority.trustBundlePem() });
    app = await echoApp('backend');
    ({ sidecar, logger } = await sidecarFor(ca.client, 'backend', app.address));
    target = `127.0.0.1:${sidecar.inboundAddress.port}`;
    await writeIdentity(files, 'frontend', await identityFor(ca.client, id('frontend')));
    await writeIdentity(files, 'revoked', await identityFor(ca.client, id('revoked')));
    const foreign = await meshCa();
    await writeIdentity(files, 'foreign', await identityFor(foreign.client, id('frontend')));
    await twoUriCert(ca, files);
  });
  afterAll(async () => {
    await sidecar?.stop();
    if (app) await closeServer(app.server);
    await files?.cleanup();
  });

  const sClient = (extra: string[]) =>
    exec(
      'openssl',
      ['s_client', '-connect', target, '-CAfile', files.path('bundle.pem'), '-quiet', '-ign_eof', ...extra],
      GET,
    );
  const refusals = () => logger.lines.filter((l) => l.msg === 'mTLS peer refused');

  it('serves openssl s_client with a valid SVID over TLS 1.3', async () => {
    const res = await sClient(['-cert', files.path('frontend.pem'), '-key', files.path('frontend.key')]);
    expect(res.output).toContain('HTTP/1.1 200 OK');
    expect(res.output).toContain(`URI=${id('frontend')}`);
  });

  it.each([
    ['no client certificate', [] as string[], 'no_certificate'],
    ['a certificate from another CA', ['-cert', 'foreign.pem', '-key', 'foreign.key'], 'untrusted_chain'],
    ['two URI SANs', ['-cert', 'two.pem', '-key', 'two.key'], 'multiple_uri_sans'],
  ])('refuses %s with a logged reason', async (_name, args, reason) => {
    const before = refusals().length;
    const res = await sClient(args.map((a) => (a.endsWith('.pem') || a.endsWith('.key') ? files.path(a) : a)));
    expect(res.output).not.toContain('HTTP/1.1');
    const logged = refusals().slice(before);
    expect(logged.map((l) => l.reason)).toEqual([reason]);
  });

  it('refuses an expired SVID', async () => {
    const past = await meshCa();
    const { writeFile } = await import('node:fs/promises');
    // Same CA as the sidecar trusts, a certificate that expired: issue from a CA clock two days back.
    const clockBack = { now: () => Date.now() - 2 * 86_400_000 };
    const { IdentitySource } = await import('../../src/mesh/index.js');
    const { InProcessCaClient } = await import('../../src/app/mesh_ca_client.js');
    const { Authority } = await import('../../src/pki/index.js');
    const oldAuthority = await Authority.open({
      store: ca.store,
      vault: ca.vault,
      clock: clockBack,
      trustDomain: ca.authority.trustDomain,
      rootTtlMs: 3650 * 86_400_000,
      intermediateTtlMs: 365 * 86_400_000,
      logger: logger,
    });
    const client = new InProcessCaClient({
      authority: oldAuthority,
      revocations: past.revocations,
      clock: clockBack,
      ttlMs: 3_600_000,
      redeem: async () => id('frontend'),
    });
    const stale = new IdentitySource({ client, credential: () => 'x', clock: clockBack, logger });
    await stale.start();
    stale.stop();
    await writeFile(files.path('expired.pem'), stale.current!.chainPem);
    await writeFile(files.path('expired.key'), stale.current!.keyPem);
    const before = refusals().length;
    const res = await sClient(['-cert', files.path('expired.pem'), '-key', files.path('expired.key')]);
    expect(res.output).not.toContain('HTTP/1.1');
    const [line] = refusals().slice(before);
    expect(line).toMatchObject({ reason: 'untrusted_chain', tlsError: 'CERT_HAS_EXPIRED' });
  });

  it('refuses a revoked identity once the deny list is refreshed', async () => {
    const args = ['-cert', files.path('revoked.pem'), '-key', files.path('revoked.key')];
    expect((await sClient(args)).output).toContain('HTTP/1.1 200 OK');
    await ca.revocations.revoke(id('revoked'));
    await sidecar.identity.refreshDenyList();
    const before = refusals().length;
    expect((await sClient(args)).output).not.toContain('HTTP/1.1');
    expect(
      refusals()
        .slice(before)
        .map((l) => l.reason),
    ).toEqual(['revoked']);
  });

  it('refuses a client offering only TLS 1.2', async () => {
    const res = await sClient(['-tls1_2', '-cert', files.path('frontend.pem'), '-key', files.path('frontend.key')]);
    expect(res.code).not.toBe(0);
    expect(res.output).toMatch(/alert protocol version|unsupported protocol|no protocols available/i);
    // A line an operator can act on: warn level, the reason in words and the peer's address.
    expect(logger.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: 'mTLS handshake refused',
        code: 'ERR_SSL_UNSUPPORTED_PROTOCOL',
        why: 'the client offered only TLS versions below 1.3 (this listener speaks TLS 1.3 only)',
        remote: '127.0.0.1',
      }),
    );
  });

  it('serves curl with a client certificate (server pinned by its public key)', async () => {
    const server = new X509Certificate(sidecar.identity.current!.chainPem);
    const spki = server.publicKey.export({ type: 'spki', format: 'der' });
    const pin = `sha256//${createHash('sha256').update(spki).digest('base64')}`;
    const res = await exec('curl', [
      '-sS',
      '-k',
      '--pinnedpubkey',
      pin,
      '--tlsv1.3',
      '--cert',
      files.path('frontend.pem'),
      '--key',
      files.path('frontend.key'),
      '-H',
      'x-forwarded-client-cert: By=forged',
      `https://${target}/curl`,
    ]);
    expect(res.code, res.output).toBe(0);
    const echo = JSON.parse(res.output) as { url: string; headers: Record<string, string> };
    expect(echo.url).toBe('/curl');
    expect(echo.headers['x-forwarded-client-cert']).toMatch(
      new RegExp(`^By=${id('backend')};Hash=[A-Za-z0-9_-]{43};URI=${id('frontend')}$`),
    );
  });
});

describe('resumed sessions re-check the peer', () => {
  it('resumes, then refuses a resumed session once the client identity was revoked', async () => {
    const ca = await meshCa();
    const app = await echoApp('backend');
    const { sidecar, logger } = await sidecarFor(ca.client, 'backend', app.address);
    const frontend = await identityFor(ca.client, id('frontend'));
    const agent = createMtlsAgent({ identity: frontend, trustDomain: ca.authority.trustDomain, expect: id('backend') });
    const url = `https://127.0.0.1:${sidecar.inboundAddress.port}/`;
    try {
      for (let i = 0; i < 3; i++) {
        const res = await request(url, { dispatcher: agent, reset: true });
        expect(res.statusCode).toBe(200);
        await res.body.dump();
      }
      expect(sidecar.stats().inbound).toMatchObject({ admitted: 3, resumed: 2 });
      await ca.revocations.revoke(id('frontend'));
      await sidecar.identity.refreshDenyList();
      await request(url, { dispatcher: agent, reset: true }).then(
        () => {
          throw new Error('expected a refusal');
        },
        (err: Error & { detail?: string }) => expect(err.message + (err.detail ?? '')).not.toBe(''),
      );
      const refused = logger.lines.filter((l) => l.msg === 'mTLS peer refused');
      expect(refused).toMatchObject([{ reason: 'revoked', resumed: true, spiffeId: id('frontend') }]);
    } finally {
      frontend.stop();
      await agent.close();
      await sidecar.stop();
      await closeServer(app.server);
    }
  });
});
