import { createHttpsServer, registerIdentityMtlsRoutes } from '../http/index.js';
import type { PlatformCore } from './compose.js';
import type { IdentityServer } from './identity_server.js';
import type { IssuedListenerCert, OperatorCertificate } from './listener_certificate.js';
import { MtlsClientCertificates } from './mtls_client_certificates.js';
import { listenerUrl, preparePlatformListener } from './platform_listener.js';
import type { SessionTicketKeys } from '../crypto/index.js';

/** The identity issuer's mTLS listener (RFC 8705 `mtls_endpoint_aliases`), prepared and then started. */
export interface IdentityMtlsListener {
  /** Binds `listen.host`:`listen.identityMtls.port`, publishes the aliases in the metadata; returns its base URL. */
  listen(): Promise<string>;
  renewCertificate(): Promise<IssuedListenerCert>;
  close(): Promise<void>;
}

/**
 * Prepares the identity issuer's second listener, for mutual TLS (RFC 8705): TLS 1.3 with client certificates
 * requested (never required) against the platform trust bundle and judged on every connection (chain, SVID rules,
 * deny list; see {@link MtlsClientCertificates}), serving only the token, introspection, revocation and device
 * authorization endpoints, so browsers on the sign-in pages of the main listener are never asked for a certificate.
 * Clients registered for tls_client_auth authenticate here with their SVID, and access tokens issued to a request that
 * came with a certificate carry `cnf.x5t#S256`. Every 10 s the deny list is reloaded and a changed trust bundle is
 * swapped in. Its certificate is the identity listener's own (`spiffe://<td>/gatehouse/identity`, from the platform CA,
 * renewed) or the operator's `certificate` (`--cert`/`--key` of `gatehouse identity` alone).
 *
 * @example
 * const mtls = await prepareIdentityMtlsListener({ core, identity, ticketKeys, ready: () => ready });
 * const url = await mtls.listen(); // 'https://127.0.0.1:8447'
 */
export async function prepareIdentityMtlsListener(options: {
  core: PlatformCore;
  identity: IdentityServer;
  ticketKeys: SessionTicketKeys;
  ready: () => boolean;
  /** The operator's certificate and key (`--cert`/`--key`) instead of one from the platform CA. */
  certificate?: OperatorCertificate | undefined;
}): Promise<IdentityMtlsListener> {
  const { core, identity } = options;
  const { config, authority } = core;
  const logger = core.logger.child({ listener: 'identity-mtls' });
  const certificates = await MtlsClientCertificates.forPlatform(core, logger);
  const bundle = authority.trustBundlePem();
  const listener = await preparePlatformListener({
    core,
    component: 'identity',
    logger,
    certificate: options.certificate,
    build: (issued) =>
      createHttpsServer({
        name: 'identity-mtls',
        http: config.http,
        requestStats: core.requestStats,
        certPem: issued.certPem,
        keyPem: issued.keyPem,
        ticketKeys: options.ticketKeys,
        logger,
        ready: options.ready,
        clientAuth: {
          ca: bundle,
          check: (socket) => {
            const refusal = certificates.refusal(socket);
            return refusal ? { ...refusal } : undefined;
          },
        },
      }),
  });
  const { server } = listener;
  const device = identity.token.grantTypes().includes('urn:ietf:params:oauth:grant-type:device_code');
  registerIdentityMtlsRoutes(server.app, {
    token: identity.token,
    introspection: identity.introspection,
    revocation: identity.revocation,
    ...(device ? { deviceAuthorization: identity.people.device.endpoint } : {}),
    clientCertificate: (socket) => certificates.of(socket),
    maxBodyBytes: config.identity.limits.maxBodyBytes,
  });
  let stopRefresh: (() => void) | undefined;
  return {
    async listen() {
      const bound = await listener.listen(config.listen.host, config.listen.identityMtls.port);
      const url = config.listen.identityMtls.url?.replace(/\/+$/, '') ?? listenerUrl(config.listen.host, bound.port);
      identity.setMtlsBaseUrl(url);
      stopRefresh = certificates.keepFresh(core, listener.server, bundle);
      return url;
    },
    renewCertificate: () => listener.renewCertificate(),
    async close() {
      stopRefresh?.();
      await listener.close();
    },
  };
}
