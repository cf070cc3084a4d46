import { X509Certificate } from 'node:crypto';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMtlsAgent, newKeyAndCsr, type IdentitySource, type Sidecar } from '../../src/mesh/index.js';
import type { MemoryLogger } from '../../src/core/index.js';
import { freePort, startNginx, type RunningNginx } from '../support/nginx.js';
import { closeServer, echoApp, id, identityFor, meshCa, sidecarFor, TD } from './helpers.js';

// nginx (Debian's /usr/sbin/nginx) as a real mTLS peer of the mesh, both ways:
//  - front  : nginx with ssl_verify_client on and our trust bundle in front of a tiny app; our sidecar (outbound) and
//             the library-mode agent call it with their SVIDs.
//  - proxy  : plain HTTP in, nginx proxies to our backend sidecar with proxy_ssl_certificate: /own/ with an SVID of
//             our CA, /foreign/ with a certificate of another CA (same SPIFFE ID) that the sidecar must refuse.

type Ca = Awaited<ReturnType<typeof meshCa>>;
type Echo = Awaited<ReturnType<typeof echoApp>>;

async function material(ca: Ca, sa: string): Promise<{ chainPem: string; keyPem: string }> {
  const { keyPem, csrPem } = await newKeyAndCsr();
  const svid = ca.authority.issueSvid({ csrPem, spiffeId: id(sa), dnsNames: ['localhost'] });
  return { chainPem: svid.chainPem, keyPem };
}

let ca: Ca;
let foreignCa: Ca;
let nginx: RunningNginx;
let frontApp: Echo;
let backendApp: Echo;
let front: number;
let proxy: number;
let backend: { sidecar: Sidecar; logger: MemoryLogger };
let frontend: { sidecar: Sidecar; logger: MemoryLogger };
let caller: IdentitySource;
let stranger: IdentitySource;

beforeAll(async () => {
  ca = await meshCa();
  foreignCa = await meshCa(); // another CA for the same trust domain: its certificates must not pass
  frontApp = await echoApp('behind-nginx');
  backendApp = await echoApp('backend');
  backend = await sidecarFor(ca.client, 'backend', backendApp.address, {
    policies: [{ name: 'nginx-only', action: 'ALLOW', rules: [{ from: [{ principals: [id('nginx')] }] }] }],
  });
  [front, proxy] = [await freePort(), await freePort()];
  frontend = await sidecarFor(ca.client, 'frontend', frontApp.address, {
    outbound: {
      host: '127.0.0.1',
      port: 0,
      upstreams: [{ name: 'legacy', address: `127.0.0.1:${front}`, spiffeId: id('nginx') }],
    },
  });
  caller = await identityFor(ca.client, id('frontend'));
  stranger = await identityFor(foreignCa.client, id('frontend'));
  const own = await material(ca, 'nginx');
  const foreign = await material(foreignCa, 'nginx');
  const sidecar = `https://127.0.0.1:${backend.sidecar.inboundAddress.port}/`;
  nginx = await startNginx({
    ports: [front, proxy],
    files: {
      'bundle.pem': ca.authority.trustBundlePem(),
      'nginx.pem': own.chainPem,
      'nginx.key': own.keyPem,
      'foreign.pem': foreign.chainPem,
      'foreign.key': foreign.keyPem,
    },
    http: (dir) => `
  server {
    listen 127.0.0.1:${front} ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate ${dir}/nginx.pem;
    ssl_certificate_key ${dir}/nginx.key;
    ssl_client_certificate ${dir}/bundle.pem;
    ssl_verify_client on;
    ssl_verify_depth 2;
    location / {
      proxy_pass http://${frontApp.address};
      proxy_set_header x-client-verify $ssl_client_verify;
      proxy_set_header x-client-cert $ssl_client_escaped_cert;
    }
  }
  server {
    listen 127.0.0.1:${proxy};
    proxy_ssl_protocols TLSv1.3;
    # nginx caches one upstream TLS session per address, shared by both locations: /foreign/ would resume the session
    # /own/ made (authenticated with our SVID) and never present its certificate.
    proxy_ssl_session_reuse off;
    location /own/ {
      proxy_pass ${sidecar};
      proxy_ssl_certificate ${dir}/nginx.pem;
      proxy_ssl_certificate_key ${dir}/nginx.key;
    }
    location /foreign/ {
      proxy_pass ${sidecar};
      proxy_ssl_certificate ${dir}/foreign.pem;
      proxy_ssl_certificate_key ${dir}/foreign.key;
    }
  }`,
  });
}, 30_000);

afterAll(async () => {
  caller?.stop();
  stranger?.stop();
  await nginx?.stop();
  await frontend?.sidecar.stop();
  await backend?.sidecar.stop();
  if (frontApp) await closeServer(frontApp.server);
  if (backendApp) await closeServer(backendApp.server);
});

/** What the app behind nginx saw of the client certificate. */
function clientSeenBehindNginx(body: string): { verify: string; uris: string[] } {
  const headers = (JSON.parse(body) as { headers: Record<string, string> }).headers;
  const pem = decodeURIComponent(headers['x-client-cert'] ?? '');
  const san = new X509Certificate(pem).subjectAltName ?? '';
  return {
    verify: headers['x-client-verify'] ?? '',
    uris: san
      .split(', ')
      .filter((n) => n.startsWith('URI:'))
      .map((n) => n.slice(4)),
  };
}

describe('nginx with ssl_verify_client on and our trust bundle, as the server', () => {
  it('serves our sidecar, which calls it with its SVID (and checks the SVID nginx presents)', async () => {
    const res = await request(`http://127.0.0.1:${frontend.sidecar.outboundAddress!.port}/hello`, {
      headers: { host: 'legacy' },
    });
    const body = await res.body.text();
    expect(res.statusCode, body).toBe(200);
    expect(clientSeenBehindNginx(body)).toEqual({ verify: 'SUCCESS', uris: [id('frontend')] });
    expect(frontend.sidecar.stats().outbound).toMatchObject({ refused: 0 });
    expect(frontend.sidecar.stats().outbound!.connected).toBeGreaterThanOrEqual(1);
  });

  it('serves the library-mode undici agent', async () => {
    const agent = createMtlsAgent({ identity: caller, trustDomain: TD, expect: id('nginx') });
    try {
      const res = await request(`https://127.0.0.1:${front}/library`, { dispatcher: agent });
      const body = await res.body.text();
      expect(res.statusCode, body).toBe(200);
      expect(clientSeenBehindNginx(body)).toEqual({ verify: 'SUCCESS', uris: [id('frontend')] });
    } finally {
      await agent.close();
    }
  });

  it('refuses a client certificate from another CA (even with one of our SPIFFE IDs) and no certificate at all', async () => {
    const before = frontApp.requests.length;
    const ask = async (client?: { cert: string; key: string }) => {
      const agent = new Agent({
        connect: {
          ca: ca.authority.trustBundlePem(),
          minVersion: 'TLSv1.3',
          checkServerIdentity: () => undefined, // the server is not what is tested here
          ...(client ?? {}),
        },
      });
      try {
        const res = await request(`https://127.0.0.1:${front}/stranger`, { dispatcher: agent });
        return { status: res.statusCode, body: await res.body.text() };
      } finally {
        await agent.close();
      }
    };
    const foreign = await ask({ cert: stranger.current!.chainPem, key: stranger.current!.keyPem });
    expect(foreign.status).toBe(400);
    expect(foreign.body).toContain('The SSL certificate error');
    const none = await ask();
    expect(none.status).toBe(400);
    expect(none.body).toContain('No required SSL certificate was sent');
    expect(frontApp.requests.length).toBe(before);
    expect(nginx.errorLog()).toMatch(/client SSL certificate verify error/);
  });
});

describe('nginx as a client of our sidecar (proxy_ssl_certificate)', () => {
  it('is admitted with an SVID of our CA; the app sees its SPIFFE ID', async () => {
    const res = await request(`http://127.0.0.1:${proxy}/own/orders`);
    const body = await res.body.text();
    expect(res.statusCode, body).toBe(200);
    const echo = JSON.parse(body) as { url: string; headers: Record<string, string> };
    expect(echo.url).toBe('/orders');
    expect(echo.headers['x-forwarded-client-cert']).toContain(`URI=${id('nginx')}`);
  });

  it('is refused by our sidecar with a certificate of another CA, with a logged reason', async () => {
    const before = backendApp.requests.length;
    const refusedBefore = backend.sidecar.stats().inbound.refused;
    const res = await request(`http://127.0.0.1:${proxy}/foreign/orders`);
    await res.body.dump();
    expect(res.statusCode).toBe(502);
    expect(backendApp.requests.length).toBe(before);
    expect(backend.sidecar.stats().inbound.refused).toBeGreaterThan(refusedBefore);
    const refusal = backend.logger.lines.find((l) => l.msg === 'mTLS peer refused');
    expect(refusal).toMatchObject({ reason: 'untrusted_chain', spiffeId: id('nginx') });
    expect(nginx.errorLog()).toMatch(/upstream/);
  });
});
