import type { PlatformCore } from './compose.js';
import { prepareIdentityListener, type IdentityListener } from './identity_listener.js';
import { prepareIdentityMtlsListener, type IdentityMtlsListener } from './identity_mtls_listener.js';
import type { IdentityServer } from './identity_server.js';
import type { OperatorCertificate } from './listener_certificate.js';
import type { Scheduler } from './scheduler.js';
import type { SessionTicketKeys } from '../crypto/index.js';

/** The identity issuer's two listeners, prepared together and then started together. */
export interface IdentityListeners {
  identity: IdentityServer;
  /** Sign-in pages, metadata, JWKS and the protocol endpoints (`listen.identity`). */
  main: IdentityListener;
  /** The RFC 8705 aliases with client certificates (`listen.identityMtls`). */
  mtls: IdentityMtlsListener;
  /**
   * Binds the main listener, then the mTLS one (which publishes its aliases in the metadata), and schedules key
   * maintenance. Returns the issuer, where the main listener is bound and the mTLS base URL.
   */
  listen(scheduler: Scheduler): Promise<{ issuer: string; url: string; mtlsUrl: string }>;
  /** Closes the mTLS listener, then the main one (and the identity capability's stores). */
  close(): Promise<void>;
}

/**
 * Prepares the identity issuer as `gatehouse up` and `gatehouse identity` alone both run it: the main listener (see
 * {@link prepareIdentityListener}) and, on the same identity capability, the mTLS listener of RFC 8705 (see
 * {@link prepareIdentityMtlsListener}), both with a certificate from the platform CA or the operator's `certificate`.
 *
 * @example
 * const issuer = await prepareIdentityListeners({ core, ticketKeys, ready: () => ready });
 * const { issuer: url, mtlsUrl } = await issuer.listen(scheduler);
 */
export async function prepareIdentityListeners(options: {
  core: PlatformCore;
  ticketKeys: SessionTicketKeys;
  ready: () => boolean;
  /** The operator's certificate and key (`--cert`/`--key`) instead of one from the platform CA. */
  certificate?: OperatorCertificate | undefined;
}): Promise<IdentityListeners> {
  const main = await prepareIdentityListener(options);
  const mtls = await prepareIdentityMtlsListener({ ...options, identity: main.identity }).catch(
    async (err: unknown) => {
      await main.close();
      throw err;
    },
  );
  return {
    identity: main.identity,
    main,
    mtls,
    async listen(scheduler) {
      const issuer = await main.listen(scheduler);
      const mtlsUrl = await mtls.listen();
      return { issuer, url: main.boundUrl() ?? issuer, mtlsUrl };
    },
    async close() {
      try {
        await mtls.close();
      } finally {
        await main.close();
      }
    },
  };
}
