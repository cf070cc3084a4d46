import { connect as h2connect } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { createMtlsAgent, createMtlsServer, type IdentitySource, type MtlsListener } from '../../src/mesh/index.js';
import { MemoryLogger } from '../../src/core/index.js';
import { closeServer, echoApp, frontendOnly, id, identityFor, meshCa, sidecarFor } from './helpers.js';

type Echo = { headers: Record<string, string> };

describe('STRICT and PERMISSIVE', () => {
  it('PERMISSIVE serves plaintext and TLS without a client certificate (no XFCC), still refuses a bad certificate', async () => {
    const ca = await meshCa();
    const foreign = await meshCa();
    const app = await echoApp('backend');
    const { sidecar: permissive } = await sidecarFor(ca.client, 'backend', app.address, { mode: 'PERMISSIVE' });
    const { sidecar: strict } = await sidecarFor(ca.client, 'backend', app.address, { mode: 'STRICT' });
    const { sidecar: guarded } = await sidecarFor(ca.client, 'backend', app.address, {
      mode: 'PERMISSIVE',
      policies: frontendOnly,
    });
    const frontend = await identityFor(ca.client, id('frontend'));
    const stranger = await identityFor(foreign.client, id('frontend'));
    const anonymous = new Agent({ connect: { rejectUnauthorized: false } });
    try {
      const plain = await request(`http://127.0.0.1:${permissive.inboundAddress.port}/p`, {
        headers: { 'x-forwarded-client-cert': 'By=forged', 'x-forwarded_client-cert': 'By=forged' },
      });
      expect(plain.statusCode).toBe(200);
      const seen = ((await plain.body.json()) as Echo).headers;
      expect(seen['x-forwarded-client-cert']).toBeUndefined();
      // An underscore spelling reaches CGI-style apps (WSGI, PHP, Rack) as the same field: dropped too.
      expect(seen['x-forwarded_client-cert']).toBeUndefined();
      const tlsNoCert = await request(`https://127.0.0.1:${permissive.inboundAddress.port}/t`, {
        dispatcher: anonymous,
      });
      expect(tlsNoCert.statusCode).toBe(200);
      await tlsNoCert.body.dump();
      const mtls = createMtlsAgent({
        identity: frontend,
        trustDomain: ca.authority.trustDomain,
        expect: id('backend'),
      });
      const withCert = await request(`https://127.0.0.1:${permissive.inboundAddress.port}/m`, { dispatcher: mtls });
      expect(((await withCert.body.json()) as Echo).headers['x-forwarded-client-cert']).toContain(
        `URI=${id('frontend')}`,
      );
      await mtls.close();
      // a certificate from another CA is refused in PERMISSIVE too (it is not "no certificate")
      const wrong = createMtlsAgent({
        identity: stranger,
        trustDomain: ca.authority.trustDomain,
        expect: id('backend'),
      });
      await expect(
        request(`https://127.0.0.1:${permissive.inboundAddress.port}/w`, { dispatcher: wrong }),
      ).rejects.toThrow();
      await wrong.close();
      // a policy naming principals denies plaintext callers
      const denied = await request(`http://127.0.0.1:${guarded.inboundAddress.port}/p`);
      expect(denied.statusCode).toBe(403);
      await denied.body.dump();
      // STRICT: plaintext gets no HTTP answer; TLS without a client certificate is closed
      await expect(request(`http://127.0.0.1:${strict.inboundAddress.port}/p`)).rejects.toThrow();
      await expect(
        request(`https://127.0.0.1:${strict.inboundAddress.port}/t`, { dispatcher: anonymous }),
      ).rejects.toThrow();
      expect(strict.stats().inbound.refused).toBe(1);
    } finally {
      frontend.stop();
      stranger.stop();
      await anonymous.close();
      await Promise.all([permissive.stop(), strict.stop(), guarded.stop()]);
      await closeServer(app.server);
    }
  });

  it('PERMISSIVE stops without waiting out the drain for idle keep-alive connections, plaintext and TLS', async () => {
    const ca = await meshCa();
    const app = await echoApp('backend');
    const { sidecar } = await sidecarFor(ca.client, 'backend', app.address, { mode: 'PERMISSIVE', drainMs: 30_000 });
    const anonymous = new Agent({ connect: { rejectUnauthorized: false } });
    try {
      // One idle keep-alive connection of each kind (undici keeps both open after the answer).
      const plain = await request(`http://127.0.0.1:${sidecar.inboundAddress.port}/p`);
      await plain.body.dump();
      const tls = await request(`https://127.0.0.1:${sidecar.inboundAddress.port}/t`, { dispatcher: anonymous });
      await tls.body.dump();
      const outcome = await Promise.race([
        sidecar.stop().then(() => 'stopped'),
        new Promise((resolve) => setTimeout(() => resolve('still draining after 20 s'), 20_000)),
      ]);
      expect(outcome).toBe('stopped');
    } finally {
      await anonymous.close();
      await closeServer(app.server);
    }
  });
});

describe('library mode: createMtlsServer + createMtlsAgent', () => {
  let server: MtlsListener;
  let serverIdentity: IdentitySource;
  let clientIdentity: IdentitySource;
  let url: string;
  let trustDomain: string;

  beforeAll(async () => {
    const ca = await meshCa();
    trustDomain = ca.authority.trustDomain;
    serverIdentity = await identityFor(ca.client, id('backend'));
    clientIdentity = await identityFor(ca.client, id('frontend'));
    server = createMtlsServer({
      identity: serverIdentity,
      trustDomain,
      logger: new MemoryLogger(),
      policies: [{ name: 'read-only', action: 'ALLOW', rules: [{ to: [{ methods: ['GET'] }] }] }],
      handler: (req, res, peer) => res.end(JSON.stringify({ peer: peer?.spiffeId, url: req.url })),
    });
    const address = await server.listen('127.0.0.1', 0);
    url = `https://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    serverIdentity?.stop();
    clientIdentity?.stop();
    await server?.close();
  });

  it('authenticates both ends, applies the policy, and keeps working across rotation of both', async () => {
    const agent = createMtlsAgent({ identity: clientIdentity, trustDomain, expect: id('backend') });
    try {
      const res = await request(`${url}/hello`, { dispatcher: agent });
      expect(await res.body.json()).toEqual({ peer: id('frontend'), url: '/hello' });
      const post = await request(`${url}/hello`, { dispatcher: agent, method: 'POST', body: 'x' });
      expect(post.statusCode).toBe(403);
      await post.body.dump();
      const before = serverIdentity.current!.serialNumber;
      await serverIdentity.renewNow();
      await clientIdentity.renewNow();
      expect(serverIdentity.current!.serialNumber).not.toBe(before);
      const again = await request(`${url}/again`, { dispatcher: agent, reset: true });
      expect(await again.body.json()).toEqual({ peer: id('frontend'), url: '/again' });
    } finally {
      await agent.close();
    }
  });

  it('serves HTTP/2 with http2: true: the peer checked, the policy applied per stream, the target normalized', async () => {
    const h2server = createMtlsServer({
      identity: serverIdentity,
      trustDomain,
      logger: new MemoryLogger(),
      http2: true,
      policies: [{ name: 'read-only', action: 'ALLOW', rules: [{ to: [{ methods: ['GET'] }] }] }],
      handler: (req, res, peer) =>
        res.end(JSON.stringify({ peer: peer?.spiffeId, url: req.url, host: req.headers.host, v: req.httpVersion })),
    });
    const { port } = await h2server.listen('127.0.0.1', 0);
    const material = clientIdentity.current!;
    const session = h2connect(`https://127.0.0.1:${port}`, {
      cert: material.chainPem,
      key: material.keyPem,
      ca: clientIdentity.bundle.pem,
      checkServerIdentity: () => undefined, // a SPIFFE ID has no DNS name; the server's SVID chains to the bundle
    });
    session.on('error', () => {});
    const ask = (method: string, path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = session.request({ ':method': method, ':path': path, ':authority': 'backend.example' });
        let body = '';
        stream.setEncoding('utf8');
        stream.on('response', (h) => {
          stream.on('data', (c: string) => (body += c));
          stream.on('end', () => resolve({ status: Number(h[':status']), body }));
        });
        stream.on('error', reject);
        stream.end();
      });
    try {
      const ok = await ask('GET', '/a/../hello');
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.body)).toEqual({ peer: id('frontend'), url: '/hello', host: 'backend.example', v: '2.0' });
      expect((await ask('DELETE', '/hello')).status).toBe(403);
    } finally {
      session.destroy();
      await h2server.close();
    }
  });

  it('refuses a server that holds another identity', async () => {
    const agent = createMtlsAgent({ identity: clientIdentity, trustDomain, expect: id('someone-else') });
    try {
      await expect(request(`${url}/`, { dispatcher: agent })).rejects.toThrow(/unexpected_identity/);
    } finally {
      await agent.close();
    }
  });
});
