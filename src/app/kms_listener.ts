import { registerKmsRoutes, type KmsOperations } from '../http/index.js';
import type { PlatformCore } from './compose.js';
import type { IssuedListenerCert, OperatorCertificate } from './listener_certificate.js';
import { platformKmsAuthorizer, type PlatformCallers } from './platform_authorizer.js';
import { httpsServerBuilder, listenerUrl, preparePlatformListener } from './platform_listener.js';
import { WorkloadCertificates } from './workload_certificates.js';
import type { SessionTicketKeys } from '../crypto/index.js';

/** The KMS transit API's listener, prepared (routes registered, certificate issued) and then started. */
export interface KmsListener {
  /** Binds `listen.host`:`listen.kms.port`; returns the KMS URL. */
  listen(): Promise<string>;
  renewCertificate(): Promise<IssuedListenerCert>;
  close(): Promise<void>;
}

/**
 * Prepares the KMS transit API on its own TLS 1.3 listener with a certificate from the platform CA (renewed like the
 * others) or the operator's `certificate`; callers are the admin token, our access tokens for the platform audience
 * and API keys, with per-key scopes, and workloads presenting an X.509-SVID of the platform CA whose SPIFFE ID a
 * client holds (a client certificate is requested, never required: see {@link WorkloadCertificates}; docs/kms.md).
 *
 * @example
 * const kms = await prepareKmsListener({ core, ops: kmsOperations(core), callers, ticketKeys, ready: () => ready });
 * const url = await kms.listen();
 */
export async function prepareKmsListener(options: {
  core: PlatformCore;
  ops: KmsOperations;
  callers: PlatformCallers;
  ticketKeys: SessionTicketKeys;
  ready: () => boolean;
  /** The operator's certificate and key (`--cert`/`--key`) instead of one from the platform CA. */
  certificate?: OperatorCertificate | undefined;
}): Promise<KmsListener> {
  const { core } = options;
  const { config } = core;
  const logger = core.logger.child({ listener: 'kms' });
  const workloads = await WorkloadCertificates.open(core, logger);
  const listener = await preparePlatformListener({
    core,
    component: 'kms',
    logger,
    certificate: options.certificate,
    build: httpsServerBuilder({
      name: 'kms',
      http: config.http,
      requestStats: core.requestStats,
      ticketKeys: options.ticketKeys,
      logger,
      ready: options.ready,
      clientAuth: workloads.clientAuth(),
    }),
  });
  registerKmsRoutes(listener.server.app, {
    ops: options.ops,
    authorizer: platformKmsAuthorizer(options.callers, logger, workloads),
    logger,
    maxBatchItems: config.kms.maxBatchItems,
  });
  return {
    async listen() {
      const bound = await listener.listen(config.listen.host, config.listen.kms.port);
      workloads.start(listener.server);
      return listenerUrl(config.listen.host, bound.port);
    },
    renewCertificate: () => listener.renewCertificate(),
    async close() {
      workloads.stop();
      await listener.close();
    },
  };
}
