import type { Config } from '../config/index.js';
import type { Logger, RequestStats } from '../core/index.js';
import { createHttpsServer, type ClientAuthOptions, type HttpsServer } from '../http/index.js';
import type { PlatformCore } from './compose.js';
import {
  ListenerCertificate,
  type IssuedListenerCert,
  type ListenerCertificateSource,
  type OperatorCertificate,
} from './listener_certificate.js';
import type { SessionTicketKeys } from '../crypto/index.js';

/** What a platform listener's server must offer: bind, swap its certificate, close. */
export interface CertifiedServer {
  setCertificate(certPem: string, keyPem: string): void;
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
}

/** A platform listener prepared with its first certificate from the CA; renewal starts once it listens. */
export interface PlatformListener<S extends CertifiedServer> {
  server: S;
  /** Binds the server, then renews its certificate on schedule, swapping each new one in with setSecureContext. */
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /** Renews the certificate now (admin `renew` operation) and swaps it in once listening. */
  renewCertificate(): Promise<IssuedListenerCert>;
  /** Stops the renewals, then closes the server. */
  close(): Promise<void>;
}

/**
 * Issues a listener certificate for `component` from the platform CA (`pki.listenerCertTtl`,
 * `pki.renewAtFraction`), or takes the operator's `certificate` (files given with `--cert`/`--key`, never renewed
 * here, swapped in when the operator replaces them), builds the server with it, and returns the listener ready to bind.
 *
 * @example
 * const kms = await preparePlatformListener({ core, component: 'kms', logger, build: (issued) =>
 *   createHttpsServer({ name: 'kms', http: core.config.http, ...issued, ticketKeys, logger }) });
 * await kms.listen('127.0.0.1', 0);
 */
export async function preparePlatformListener<S extends CertifiedServer>(o: {
  core: PlatformCore;
  component: string;
  logger: Logger;
  build: (issued: IssuedListenerCert) => S;
  /** The operator's certificate and key instead of one from the platform CA. */
  certificate?: OperatorCertificate | undefined;
}): Promise<PlatformListener<S>> {
  const { config, clock, authority } = o.core;
  const cert: ListenerCertificateSource = o.certificate
    ? o.certificate.source()
    : new ListenerCertificate({
        component: o.component,
        authority,
        names: config.listen.certificateNames,
        ttlMs: config.pki.listenerCertTtl,
        renewAtFraction: config.pki.renewAtFraction,
        clock,
        logger: o.logger,
      });
  return prepareCertifiedListener(cert, o.build);
}

/**
 * A listener whose certificate comes from `cert`: the server is built with its first certificate, and once bound every
 * new one (a renewal, an operator's replaced pair) is swapped in with setSecureContext. `preparePlatformListener`
 * uses it; so does the gateway alone (`gatehouse gateway`, whose certificate is always the operator's).
 *
 * @example
 * const gw = await prepareCertifiedListener(operator.source(), (issued) => createGatewayServer({ ...issued, ... }));
 * await gw.listen('0.0.0.0', 8443);
 */
export async function prepareCertifiedListener<S extends CertifiedServer>(
  cert: ListenerCertificateSource,
  build: (issued: IssuedListenerCert) => S,
): Promise<PlatformListener<S>> {
  const issued = await cert.issue();
  const server = build(issued);
  return {
    server,
    async listen(host, port) {
      const bound = await server.listen(host, port);
      cert.start((next) => server.setCertificate(next.certPem, next.keyPem));
      return bound;
    },
    renewCertificate: () => cert.renewNow(),
    async close() {
      cert.stop();
      await server.close();
    },
  };
}

/**
 * The `https://host:port` URL of a listener bound on `host`: a wildcard bind is reached on loopback; IPv6 literals
 * get brackets.
 *
 * @example
 * listenerUrl('0.0.0.0', 8443); // 'https://127.0.0.1:8443'
 */
export function listenerUrl(host: string, port: number): string {
  const urlHost =
    host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return `https://${urlHost}:${port}`;
}

/**
 * The usual `build` of a platform listener: a TLS 1.3 HTTPS server named `name` with the shared HTTP limits, the
 * process's session ticket keys (resumption survives certificate swaps), the readiness check and, for mTLS, the
 * client-certificate checks.
 *
 * @example
 * const kms = await preparePlatformListener({ core, component: 'kms', logger,
 *   build: httpsServerBuilder({ name: 'kms', http: config.http, ticketKeys, logger, ready }) });
 */
export function httpsServerBuilder(o: {
  name: string;
  http: Config['http'];
  ticketKeys: SessionTicketKeys;
  logger: Logger;
  ready: () => boolean;
  clientAuth?: ClientAuthOptions;
  /** Where the listener's requests are counted (`core.requestStats`). */
  requestStats?: RequestStats;
}): (issued: IssuedListenerCert) => HttpsServer {
  return (issued) =>
    createHttpsServer({
      name: o.name,
      http: o.http,
      certPem: issued.certPem,
      keyPem: issued.keyPem,
      ticketKeys: o.ticketKeys,
      logger: o.logger,
      ready: o.ready,
      ...(o.clientAuth ? { clientAuth: o.clientAuth } : {}),
      ...(o.requestStats ? { requestStats: o.requestStats } : {}),
    });
}
