import { existsSync } from 'node:fs';
import type { Config } from '../config/index.js';
import { GatehouseError, writeFileAtomic, type Clock, type Logger } from '../core/index.js';
import { AdminToken } from './admin_token.js';
import { identityBootstrapVerifier } from './ca_bootstrap.js';
import { CA_REFRESH_MS, CaFollower } from './ca_follower.js';
import { caMetricsText } from './ca_metrics.js';
import { Cleanups } from './cleanups.js';
import { prepareCaListener } from './ca_listener.js';
import { notInitializedMessage, type PlatformCore } from './compose.js';
import { dataDirPaths, readManifest } from './data_dir.js';
import { openInProcessIdentity } from './identity_in_process.js';
import { prepareIdentityListeners } from './identity_listeners.js';
import { prepareKmsListener } from './kms_listener.js';
import { kmsOperations } from './kms_operations.js';
import { listenMetrics } from './metrics_listener.js';
import { OperatorCertificate, type CertificatePair } from './listener_certificate.js';
import { platformCallers } from './platform_authorizer.js';
import { ROOT_KEY_CHECK_MS, RootKeyFollower, type RootKeyCheck } from './root_key_follower.js';
import type { RootKeyInputs } from './root_key_source.js';
import { Scheduler, recordsPurgeJob } from './scheduler.js';
import { openSealedCore } from './sealed_core.js';
import { SessionTicketKeys } from '../crypto/index.js';

/** The components that run alone on the platform's storage (`gatehouse identity|kms|ca --config FILE`). */
export type StandaloneComponent = 'identity' | 'kms' | 'ca';

/** A component running alone, and how to stop it. */
export interface RunningComponent {
  component: StandaloneComponent;
  /** Where the listener is bound (`https://host:port`). */
  url: string;
  /** The identity issuer URL (`identity.issuer`, or the listener's own address when unset). */
  issuer?: string;
  /** Identity only: the mTLS listener's base URL (RFC 8705 `mtls_endpoint_aliases`, `listen.identityMtls`). */
  mtlsUrl?: string;
  /** The plain-HTTP Prometheus endpoint on 127.0.0.1 (CA expiry, HTTP requests), when a metrics port was given. */
  metricsUrl?: string;
  /** trust-bundle.pem in the data directory, when the directory exists (the listener's CA when no --cert is given). */
  trustBundle: string | undefined;
  /**
   * Swaps a renewed `--cert`/`--key` pair into every listener of the component (the CLI calls it on SIGHUP): new
   * connections get it, open ones keep theirs. Throws ERR_CONFIG_INVALID, changing nothing, when the pair does not
   * check (see `OperatorCertificate`) or when the component was started without `certificate` (its certificates come
   * from the platform CA and renew themselves).
   */
  reloadCertificate(pem: CertificatePair): { serialNumber: string; notAfter: number };
  /**
   * Follows a CA rotation made elsewhere (`gatehouse up`, the CA) now; it is also checked every 10 s. Resolves with
   * whether the stored CA had changed and its bundle sequence.
   */
  refreshCa(): Promise<{ changed: boolean; bundleSequence: number }>;
  /**
   * Follows a root rotation made through `gatehouse up` now (it is also checked every 5 s): when the store is sealed
   * under another root key, re-reads the root key source and adopts the new key if it holds it (see RootKeyFollower).
   */
  refreshRootKey(): Promise<RootKeyCheck>;
  /** Stops accepting, drains in-flight requests, stops scheduled work, closes storage. */
  stop(): Promise<void>;
}

/** What each component's starter gets: the opened core and the process-wide pieces. */
interface Runtime {
  core: PlatformCore;
  ticketKeys: SessionTicketKeys;
  ready: () => boolean;
  scheduler: Scheduler;
  certificate: OperatorCertificate | undefined;
  trustBundle: string | undefined;
  cleanups: Cleanups;
  logger: Logger;
  /** Keeps `core.authority` on the stored CA; the identity and KMS starters start it (the CA listener has its own). */
  followCa: () => void;
}

/** Our access tokens and API keys (verified in process) and the admin token, as the KMS and CA see them. */
async function verifyingCallers(rt: Runtime) {
  const { core, logger } = rt;
  const { config, clock } = core;
  const opened = await openInProcessIdentity(core, logger.child({ component: 'identity' }), { sharedLimits: false });
  rt.cleanups.push(() => opened.close());
  if (config.identity.issuer === undefined) {
    logger.warn(
      { setting: 'identity.issuer' },
      'identity.issuer is not set: access tokens are refused here (their issuer cannot be known); the admin token and API keys work. Set identity.issuer to the issuer URL the identity replicas share.',
    );
  }
  const adminToken = await AdminToken.load(core.records);
  rt.cleanups.push(adminToken.follow(core.records, core.clock, logger));
  const callers = platformCallers({
    identity: opened.identity,
    checkAdminToken: (token) => adminToken.check(token),
    apiKeyHeader: config.identity.apiKeys.header,
    platformAudience: config.identity.platformAudience,
    clock,
    logger,
  });
  return { identity: opened.identity, callers };
}

/** What a starter reports: where it listens and, for identity, the issuer and the mTLS listener. */
interface Started {
  url: string;
  issuer?: string;
  mtlsUrl?: string;
}

const STARTERS: Record<StandaloneComponent, (rt: Runtime) => Promise<Started>> = {
  async identity(rt) {
    const { config } = rt.core;
    rt.followCa();
    if (config.identity.issuer === undefined) {
      rt.logger.warn(
        { setting: 'identity.issuer' },
        'identity.issuer is not set: this replica names itself after its own address, so its tokens are refused by other replicas and by the KMS and CA started alone. Set identity.issuer to the URL clients use (the load balancer).',
      );
    }
    const listeners = await prepareIdentityListeners({
      core: rt.core,
      ticketKeys: rt.ticketKeys,
      ready: rt.ready,
      certificate: rt.certificate,
    });
    rt.cleanups.push(() => listeners.close());
    return listeners.listen(rt.scheduler);
  },
  async kms(rt) {
    rt.followCa();
    const { callers } = await verifyingCallers(rt);
    const listener = await prepareKmsListener({
      core: rt.core,
      ops: kmsOperations(rt.core),
      callers,
      ticketKeys: rt.ticketKeys,
      ready: rt.ready,
      certificate: rt.certificate,
    });
    rt.cleanups.push(() => listener.close());
    return { url: await listener.listen() };
  },
  async ca(rt) {
    const { core } = rt;
    const { identity } = await verifyingCallers(rt);
    const listener = await prepareCaListener({
      core,
      trustBundleFile: rt.trustBundle,
      ticketKeys: rt.ticketKeys,
      ready: rt.ready,
      certificate: rt.certificate,
      bootstrap: identityBootstrapVerifier({
        identity,
        platformAudience: core.config.identity.platformAudience,
        clock: core.clock,
      }),
    });
    rt.cleanups.push(() => listener.close());
    return { url: await listener.listen(rt.scheduler) };
  },
};

/**
 * `gatehouse identity|kms|ca --config FILE`: one component alone on the configured storage (the SQLite data
 * directory or PostgreSQL) and the sealed keyring (root key from `--root-key-file`, `GATEHOUSE_ROOT_KEY` or
 * `DIR/root.key`), serving only its own TLS 1.3 listener (identity: and its RFC 8705 mTLS listener, as in `up`) with
 * the operator's certificate or one from the platform CA.
 * Storage that no `gatehouse up` ever initialized is refused (ERR_STORE_NOT_INITIALIZED) and left untouched.
 * Scheduled work (signing-key rotation, CA rotation checks, purges) runs under the storage's leases, so replicas on one
 * PostgreSQL never run a job twice at once. The stored CA is followed (every 10 s, `refreshCa`), so a CA rotated by
 * `gatehouse up` or the CA keeps renewing this component's listener certificate. A root key rotated through
 * `gatehouse up` is followed once the component's root key source holds it (checked every 5 s and by
 * `refreshRootKey`). Several replicas of one component, and `gatehouse up`, may share the storage; the admin API stays
 * in `gatehouse up` (docs/operations.md).
 *
 * @example
 * const running = await startStandaloneComponent({ component: 'identity', config, rootKey: {}, clock: systemClock, logger });
 * await running.stop();
 */
export async function startStandaloneComponent(o: {
  component: StandaloneComponent;
  config: Config;
  rootKey: RootKeyInputs;
  /** The listener's certificate chain and key (PEM); default: a certificate from the platform CA, renewed. */
  certificate?: CertificatePair;
  clock: Clock;
  logger: Logger;
  /** How often a root rotation made elsewhere is looked for (default 5 s). */
  rootKeyCheckEveryMs?: number;
  /** How often the identity and KMS components re-read the stored CA (default 10 s, as the CA listener). */
  caRefreshEveryMs?: number;
  /**
   * Serve the CA's expiry gauges (app/ca_metrics.ts) and the listener's HTTP request metrics on
   * `http://127.0.0.1:<port>/metrics` (0: any free port).
   */
  metricsPort?: number;
}): Promise<RunningComponent> {
  const { config, clock } = o;
  const logger = o.logger.child({ component: o.component });
  const paths = dataDirPaths(config.dataDir);
  // SQLite: the manifest says whether DIR was initialized, before any file is created there.
  if (config.storage.kind === 'sqlite' && !readManifest(paths)) {
    throw new GatehouseError('ERR_STORE_NOT_INITIALIZED', { message: notInitializedMessage(config) });
  }
  // Checked before anything opens: a bad pair stops the start with ERR_CONFIG_INVALID naming --cert or --key.
  const certificate = o.certificate ? OperatorCertificate.load(o.certificate, logger) : undefined;
  const cleanups = new Cleanups(logger);
  try {
    const { core, rootKey } = await openSealedCore({
      config,
      rootKey: o.rootKey,
      paths,
      clock,
      logger,
      requireInitialized: true,
    });
    cleanups.push(() => core.close());
    const follower = new RootKeyFollower({ keyring: core.keyring, inputs: o.rootKey, paths, rootKey, clock, logger });
    follower.start(o.rootKeyCheckEveryMs ?? ROOT_KEY_CHECK_MS);
    cleanups.push(() => follower.stop());
    const trustBundle = existsSync(paths.dir) ? paths.trustBundle : undefined;
    if (trustBundle !== undefined) writeFileAtomic(trustBundle, await core.authority.trustBundlePem(), 0o644);
    // The CA may rotate in another process: without following it, this component's listener certificate cannot be
    // renewed once its intermediate has expired, and its client-certificate checks keep an outdated bundle.
    let bundle = core.authority.trustBundlePem();
    const caFollower = new CaFollower({
      authority: core.authority,
      clock,
      logger,
      afterRefresh: () => {
        const pem = core.authority.trustBundlePem();
        if (pem === bundle) return;
        bundle = pem;
        if (trustBundle !== undefined) writeFileAtomic(trustBundle, pem, 0o644);
      },
    });
    cleanups.push(() => caFollower.stop());
    const scheduler = new Scheduler(core.leases, logger.child({ component: 'scheduler' }));
    scheduler.add(recordsPurgeJob(core.records, logger));
    cleanups.push(() => scheduler.stop());
    let ready = false;
    const ticketKeys = new SessionTicketKeys();
    ticketKeys.start(config.http.ticketKeyRotation);
    cleanups.push(() => ticketKeys.stop());
    const started = await STARTERS[o.component]({
      core,
      ticketKeys,
      ready: () => ready,
      scheduler,
      certificate,
      trustBundle,
      cleanups,
      logger,
      followCa: () => caFollower.start(o.caRefreshEveryMs ?? CA_REFRESH_MS),
    });
    let metricsUrl: string | undefined;
    if (o.metricsPort !== undefined) {
      const metrics = await listenMetrics(
        o.metricsPort,
        () => caMetricsText(core.authority.status(clock.now())) + core.requestStats.text(),
      );
      cleanups.push(() => metrics.close());
      metricsUrl = metrics.url;
    }
    ready = true;
    return {
      component: o.component,
      ...started,
      ...(metricsUrl === undefined ? {} : { metricsUrl }),
      trustBundle,
      reloadCertificate: (pem) => {
        if (!certificate) {
          throw new GatehouseError('ERR_CONFIG_INVALID', {
            message: 'this component was started without --cert/--key: its certificates come from the platform CA',
          });
        }
        const { serialNumber, notAfter } = certificate.replace(pem);
        return { serialNumber, notAfter };
      },
      refreshCa: () => caFollower.refresh(),
      refreshRootKey: () => follower.check(),
      stop: () => {
        ready = false;
        return cleanups.unwind();
      },
    };
  } catch (err) {
    await cleanups.unwind();
    throw err;
  }
}
