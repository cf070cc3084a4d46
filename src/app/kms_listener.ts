import { registerKmsRoutes, type KmsOperations } from '../http/index.js';
import type { PlatformCore } from './compose.js';
import type { IssuedListenerCert } from './listener_certificate.js';
import { platformKmsAuthorizer, type PlatformCallers } from './platform_authorizer.js';
import { httpsServerBuilder, listenerUrl, preparePlatformListener } from './platform_listener.js';

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
 * and API keys, with per-key scopes (docs/kms.md).
 *
 * @example
 * const kms = await prepareKmsListener({ core, ops: kmsOperations(core), callers, ticketKeys, ready: () => ready });
 * const url = await kms.listen();
 */
export async function prepareKmsListener(options: {
  core: PlatformCore;
  ops: KmsOperations;
  callers: PlatformCallers;
  ticketKeys: Buffer;
  ready: () => boolean;
  /** The operator's certificate and key (PEM) instead of one from the platform CA. */
  certificate?: { certPem: string; keyPem: string } | undefined;
}): Promise<KmsListener> {
  const { core } = options;
  const { config } = core;
  const logger = core.logger.child({ listener: 'kms' });
  const listener = await preparePlatformListener({
    core,
    component: 'kms',
    logger,
    certificate: options.certificate,
    build: httpsServerBuilder({
      name: 'kms',
      http: config.http,
      ticketKeys: options.ticketKeys,
      logger,
      ready: options.ready,
    }),
  });
  registerKmsRoutes(listener.server.app, {
    ops: options.ops,
    authorizer: platformKmsAuthorizer(options.callers, logger),
    logger,
    maxBatchItems: config.kms.maxBatchItems,
  });
  return {
    async listen() {
      const bound = await listener.listen(config.listen.host, config.listen.kms.port);
      return listenerUrl(config.listen.host, bound.port);
    },
    renewCertificate: () => listener.renewCertificate(),
    close: () => listener.close(),
  };
}
