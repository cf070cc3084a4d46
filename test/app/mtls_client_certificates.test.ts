import type { TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { MemoryRecordStore } from '../../src/adapters/index.js';
import { MtlsClientCertificates } from '../../src/app/mtls_client_certificates.js';
import { MemoryLogger, systemClock } from '../../src/core/index.js';
import { Revocations } from '../../src/pki/index.js';
import { GARBAGE_EXTENSIONS, selfSigned } from '../support/crafted_certs.js';

/** The part of a TLSSocket the handshake check reads. */
function socketWith(der: Buffer, authorized: boolean): TLSSocket {
  return {
    getPeerCertificate: () => ({ raw: der }),
    authorized,
    authorizationError: authorized ? null : new Error('DEPTH_ZERO_SELF_SIGNED_CERT'),
    remoteAddress: '192.0.2.9',
  } as unknown as TLSSocket;
}

// The identity issuer's mTLS listener judges client certificates in secureConnection like the CA listener: the chain
// first, and an undecodable extension is a refusal with a reason, not a throw.
describe('MtlsClientCertificates.refusal with undecodable extensions', () => {
  const certificates = new MtlsClientCertificates({
    trustDomain: 'gatehouse.test',
    revocations: new Revocations(new MemoryRecordStore({ clock: systemClock }), systemClock, 86_400_000),
    clock: systemClock,
    logger: new MemoryLogger(),
  });

  it('refuses an untrusted chain first, naming the leaf malformed', async () => {
    for (const [name, garbage] of Object.entries(GARBAGE_EXTENSIONS)) {
      const { der } = await selfSigned([garbage()]);
      expect(certificates.refusal(socketWith(der, false)), name).toEqual({
        reason: 'untrusted_chain',
        tlsError: 'Error: DEPTH_ZERO_SELF_SIGNED_CERT',
        svid: 'malformed',
      });
      expect(certificates.refusal(socketWith(der, true)), name).toEqual({ reason: 'malformed' });
    }
  });
});
