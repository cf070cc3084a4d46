import { readFileSync } from 'node:fs';
import type { Config } from '../config/index.js';
import { SessionTicketKeys, sha256Hex } from '../crypto/index.js';
import { GatehouseError, type Clock, type Logger } from '../core/index.js';
import { createGatewayServer, type GatewayConfig } from '../gateway/index.js';
import {
  appGatewayAuthenticator,
  type ApiKeyIntrospectionSettings,
  type VerifierIssuer,
} from './gateway_authenticator.js';
import { GatewayCapabilities, listenerChanges } from './gateway_capabilities.js';
import { openGateway } from './gateway_instance.js';
import { openStandaloneGatewayMesh } from './gateway_mesh.js';
import { gatewayNeeds } from './gateway_needs.js';
import { OperatorCertificate, type CertificatePair } from './listener_certificate.js';
import { probePorts } from './mesh_preflight.js';
import { listenMetrics } from './metrics_listener.js';
import { prepareCertifiedListener } from './platform_listener.js';
import { revocationPush } from './revocation_fanout.js';

/** The trimmed content of a secret file named by `gateway.credentials.<what>`. */
function readSecret(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new GatehouseError('ERR_CONFIG_UNREADABLE', {
      message: `cannot read gateway.credentials.${what} ${file}: ${(err as Error).message}`,
    });
  }
}

/**
 * The revocation-feed credential of a standalone gateway: `gateway.credentials.feedApiKey` (or the env variable), else
 * the content of `feedApiKeyFile`, read when a verifier is built or a reload is checked; with the key's SHA-256 as its
 * fingerprint (a reload with another key rebuilds the verifier). Undefined when neither is set.
 */
function feedApiKey(
  credentials: GatewayConfig['credentials'],
): { feedCredential: () => Promise<string>; feedFingerprint: string } | undefined {
  let key = credentials.feedApiKey;
  if (key === undefined && credentials.feedApiKeyFile !== undefined) {
    key = readSecret(credentials.feedApiKeyFile, 'feedApiKeyFile');
  }
  if (key === undefined || key === '') return undefined;
  const value = key;
  return { feedCredential: async () => value, feedFingerprint: sha256Hex(value) };
}

/**
 * API keys by introspection when `gateway.credentials.clientId` and a secret (`clientSecret`, the env variable, or
 * `clientSecretFile`, read when a verifier is built) are set; undefined otherwise.
 */
function introspectionSettings(gateway: GatewayConfig): ApiKeyIntrospectionSettings | undefined {
  const { clientId, clientSecretFile } = gateway.credentials;
  let secret = gateway.credentials.clientSecret;
  if (secret === undefined && clientSecretFile !== undefined) secret = readSecret(clientSecretFile, 'clientSecretFile');
  if (clientId === undefined || secret === undefined || secret === '') return undefined;
  return {
    clientId,
    clientSecret: secret,
    cacheTtlMs: gateway.apiKeys.cacheTtl,
    negativeTtlMs: gateway.apiKeys.negativeCacheTtl,
    maxEntries: gateway.apiKeys.maxEntries,
  };
}

/** A gateway running alone (`gatehouse gateway`). */
export interface StandaloneGateway {
  url: string;
  /** The plain-HTTP Prometheus endpoint on 127.0.0.1, when a metrics port was given. */
  metricsUrl: string | undefined;
  /**
   * Swaps routes, limits and upstreams (SIGHUP), first building and starting what the section adds (the JWT verifier,
   * the SVID of `gateway.mesh`); rejects with ERR_CONFIG_INVALID naming what is missing and keeps the old ones.
   */
  reload(gateway: GatewayConfig, issuer?: VerifierIssuer): Promise<void>;
  /**
   * The keys of `gateway` that a reload would not apply: a changed `gateway.mesh` once the SVID runs (it is kept, not
   * bootstrapped again), and the listener's `gateway.http2` and `gateway.slowClients`. For the `config_reload_ignored` warning; empty before the SVID runs (a reload adding
   * `gateway.mesh` applies it).
   */
  restartOnly(gateway: GatewayConfig): string[];
  /**
   * Swaps a renewed `--cert`/`--key` pair into the listener (SIGHUP): new connections get it, open ones keep theirs.
   * Throws ERR_CONFIG_INVALID, changing nothing, when the pair does not check (see `OperatorCertificate`).
   */
  reloadCertificate(pem: CertificatePair): { serialNumber: string; notAfter: number };
  /**
   * Drops every response-cache entry (SIGUSR2: a standalone gateway has no admin API) and answers how many went (Vary
   * variants included); fills running now are answered but not stored, as with the admin API's purge.
   */
  purgeCache(): number;
  close(): Promise<void>;
}

/**
 * `gatehouse gateway`: the data plane alone, with a certificate from files, the global tier on Redis when
 * `redis.url` is set, JWT routes verified against `identity.issuer` (JWKS and revocation feed trusted through
 * `issuerCaPem` or the system roots; the feed read with `gateway.credentials.feedApiKey`; with `redis.url`,
 * revocations also pushed over the Redis revocation bus of the identity replicas), and `/metrics` on a
 * separate 127.0.0.1 listener. The certificate and key are checked before anything opens (ERR_CONFIG_INVALID naming
 * `--cert` or `--key`) and replaced with `reloadCertificate`, as for the components alone. With `gateway.mesh`, the
 * listener and metrics ports are checked free before the SVID's bootstrap spends the join token.
 *
 * @example
 * const gw = await startStandaloneGateway({ config, certPem, keyPem, clock: systemClock, logger, metricsPort: 9446 });
 */
export async function startStandaloneGateway(o: {
  config: Config;
  certPem: string;
  keyPem: string;
  issuerCaPem?: string;
  metricsPort?: number;
  clock: Clock;
  logger: Logger;
}): Promise<StandaloneGateway> {
  const { config, clock, logger } = o;
  const certificate = OperatorCertificate.load({ certPem: o.certPem, keyPem: o.keyPem }, logger);
  const cleanups: Array<() => Promise<void> | void> = [];
  const unwind = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    // With Redis (the identity replicas' redis.url and keyPrefix), revocations are pushed at once; the feed stays the truth.
    const push = revocationPush(config, logger);
    const authenticator = appGatewayAuthenticator({
      gateway: config.gateway,
      issuer: config.identity.issuer,
      ...(o.issuerCaPem === undefined ? {} : { trustBundlePem: o.issuerCaPem }),
      // Read from each section: the start one and every reload (a verifier is rebuilt when they, the audience or the
      // revocation settings changed).
      credentials: (section) => {
        const feed = feedApiKey(section.credentials);
        const apiKeyIntrospection = introspectionSettings(section);
        return {
          ...feed,
          ...(apiKeyIntrospection === undefined ? {} : { apiKeyIntrospection }),
        };
      },
      ...(push === undefined ? {} : { revocationPush: push }),
      apiKeyHeader: config.identity.apiKeys.header,
      clock,
      logger,
    });
    const capabilities = new GatewayCapabilities({
      authenticator,
      openMesh: (section) => openStandaloneGatewayMesh({ section, trustDomain: config.trustDomain, clock, logger }),
      logger,
    });
    cleanups.push(() => capabilities.close());
    if (config.gateway.mesh !== undefined && gatewayNeeds(config.gateway).mesh) {
      // The SVID's bootstrap spends the one-time join token: a port taken now would cost it (as for the sidecar).
      await probePorts([
        ['gateway', config.listen.host, config.listen.gateway.port],
        ...(o.metricsPort === undefined ? [] : [['gateway metrics', '127.0.0.1', o.metricsPort] as const]),
      ]);
    }
    const mesh = await capabilities.start(config.gateway);
    const gateway = openGateway({
      config,
      routes: config.gateway,
      authenticator,
      ...(mesh ? { mesh } : {}),
      clock,
      logger,
      cleanups,
    });
    const ticketKeys = new SessionTicketKeys();
    ticketKeys.start(config.http.ticketKeyRotation);
    cleanups.push(() => ticketKeys.stop());
    const listener = await prepareCertifiedListener(certificate.source(), (issued) =>
      createGatewayServer({
        gateway,
        http: config.http,
        slowClients: config.gateway.slowClients,
        http2: config.gateway.http2,
        certPem: issued.certPem,
        keyPem: issued.keyPem,
        ticketKeys,
        logger,
      }),
    );
    const bound = await listener.listen(config.listen.host, config.listen.gateway.port);
    cleanups.push(() => listener.close());
    let metricsUrl: string | undefined;
    if (o.metricsPort !== undefined) {
      const metrics = await listenMetrics(
        o.metricsPort,
        () => gateway.metrics.text(),
        () => gateway.metrics.contentType,
      );
      cleanups.push(() => metrics.close());
      metricsUrl = metrics.url;
    }
    const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
    return {
      url: `https://${host}:${bound.port}`,
      metricsUrl,
      reload: (g, issuer) => capabilities.reload(gateway, g, issuer),
      restartOnly: (g) => [...capabilities.meshChanges(g), ...listenerChanges(config.gateway, g)],
      reloadCertificate: (pem) => {
        const { serialNumber, notAfter } = certificate.replace(pem);
        return { serialNumber, notAfter };
      },
      purgeCache: () => gateway.cache.purge({}),
      close: unwind,
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
