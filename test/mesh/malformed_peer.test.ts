import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { MemoryLogger } from '../../src/core/index.js';
import {
  createMtlsAgent,
  createMtlsServer,
  type ConnectorStats,
  type IdentitySource,
  type MtlsListener,
} from '../../src/mesh/index.js';
import { x509 } from '../../src/pki/x509.js';
import { GARBAGE_EXTENSIONS, presentCertificate, selfSigned, underIntermediate } from '../support/crafted_certs.js';
import { id, identityFor, meshCa, TD } from './helpers.js';

/** A well-formed SVID's extensions around one garbage extension, so that only that one cannot be decoded. */
function svidExtensionsWith(garbage: x509.Extension): x509.Extension[] {
  const good = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    new x509.SubjectAlternativeNameExtension([{ type: 'url', value: id('crafted') }], false),
  ];
  return [...good.filter((e) => e.type !== garbage.type), garbage];
}

// A client certificate whose extensions cannot be decoded used to throw from @peculiar/x509 inside the listener's
// secureConnection handler and end the process. It must be refused like any other bad certificate, with a reason,
// and the listener must go on serving.
describe('malformed peer certificates (mTLS server and client)', () => {
  let ca: Awaited<ReturnType<typeof meshCa>>;
  let serverIdentity: IdentitySource;
  let clientIdentity: IdentitySource;
  let server: MtlsListener;
  let port: number;
  const logger = new MemoryLogger();
  const refusals = () => logger.lines.filter((l) => l.msg === 'mTLS peer refused');

  beforeAll(async () => {
    ca = await meshCa();
    serverIdentity = await identityFor(ca.client, id('backend'));
    clientIdentity = await identityFor(ca.client, id('frontend'));
    server = createMtlsServer({
      identity: serverIdentity,
      trustDomain: TD,
      logger,
      handler: (_req, res, peer) => res.end(`hello ${peer?.spiffeId}`),
    });
    port = (await server.listen('127.0.0.1', 0)).port;
  });
  afterAll(async () => {
    await server?.close();
    serverIdentity?.stop();
    clientIdentity?.stop();
  });

  async function goodClientServed(): Promise<void> {
    const agent = createMtlsAgent({ identity: clientIdentity, trustDomain: TD, expect: id('backend') });
    try {
      const res = await request(`https://127.0.0.1:${port}/`, { dispatcher: agent });
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe(`hello ${id('frontend')}`);
    } finally {
      await agent.close();
    }
  }

  it('refuses a self-signed certificate with garbage SAN bytes as untrusted_chain, then serves a good client', async () => {
    const before = server.stats.refused;
    const outcome = await presentCertificate(port, await selfSigned([GARBAGE_EXTENSIONS.san()]));
    expect(outcome).toEqual({ handshake: true, answer: '' });
    expect(server.stats.refused).toBe(before + 1);
    expect(refusals().at(-1)).toMatchObject({ level: 'warn', reason: 'untrusted_chain' });
    expect(refusals().at(-1)?.spiffeId).toBeUndefined();
    await goodClientServed();
  });

  it('refuses certificates of our CA with undecodable extensions, each with its reason, then serves a good client', async () => {
    // OpenSSL decodes the x400Address SAN, so that chain verifies and the SVID rules see it; it refuses the others.
    const expected: Record<keyof typeof GARBAGE_EXTENSIONS, string> = {
      san: 'untrusted_chain',
      sanX400: 'malformed',
      sanEdi: 'untrusted_chain',
      keyUsage: 'untrusted_chain',
      basicConstraints: 'untrusted_chain',
      eku: 'untrusted_chain',
      ski: 'untrusted_chain',
    };
    for (const [name, garbage] of Object.entries(GARBAGE_EXTENSIONS)) {
      const before = refusals().length;
      const outcome = await presentCertificate(port, await underIntermediate(ca, svidExtensionsWith(garbage())));
      expect(outcome.answer, name).toBe('');
      expect(refusals().length, name).toBe(before + 1);
      expect(refusals().at(-1), name).toMatchObject({ reason: expected[name as keyof typeof GARBAGE_EXTENSIONS] });
    }
    await goodClientServed();
  });

  it('outbound: a server of our CA whose SAN cannot be decoded is refused, not a crash', async () => {
    const crafted = await underIntermediate(ca, svidExtensionsWith(GARBAGE_EXTENSIONS.sanX400()));
    const evil: TlsServer = createTlsServer(
      { cert: crafted.certPem, key: crafted.keyPem, minVersion: 'TLSv1.3' },
      (s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'),
    );
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    const stats: ConnectorStats = { connected: 0, resumed: 0, refused: 0 };
    const agent = createMtlsAgent({ identity: clientIdentity, trustDomain: TD, expect: id('evil'), stats });
    try {
      const evilPort = (evil.address() as AddressInfo).port;
      const failure = await request(`https://127.0.0.1:${evilPort}/`, { dispatcher: agent }).then(
        () => undefined,
        (err: Error) => err,
      );
      expect(failure).toBeInstanceOf(Error);
      expect(String(failure?.message)).toContain('server SVID refused: malformed');
      expect(stats.connected).toBe(0);
    } finally {
      await agent.close();
      await new Promise<void>((resolve) => evil.close(() => resolve()));
    }
    await goodClientServed();
  });
});
