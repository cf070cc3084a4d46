import type { Config } from '../config/index.js';
import { GatehouseError, type Clock, type Logger } from '../core/index.js';
import { Sidecar, type AuthorizationPolicy, type SidecarReload, type SvidMaterial } from '../mesh/index.js';
import { parseSpiffeId } from '../pki/index.js';
import {
  bootstrapError,
  checkSidecarIdentities,
  probeSidecarPorts,
  readConfiguredFile,
  readJoinTokenFile,
} from './mesh_preflight.js';
import { meshTokenBinding } from './compose.js';
import { HttpCaClient } from './mesh_http_ca_client.js';
import { listenMetrics, type MetricsListener } from './metrics_listener.js';

/** A standalone sidecar, how to reload its configuration and how to stop it. */
export interface RunningSidecar {
  sidecar: Sidecar;
  /** The plain-HTTP Prometheus endpoint on 127.0.0.1, when a metrics port was given. */
  metricsUrl?: string;
  /**
   * Applies a re-read configuration (SIGHUP): policies, outbound upstreams, limits and the join token settings.
   * Throws ERR_CONFIG_INVALID, changing nothing, when a setting that needs a restart differs.
   */
  reload(config: Config): Promise<void>;
  /**
   * Renews the SVID now over mTLS with the current one (the forced-renew hook; the CLI calls it on SIGUSR1) and logs
   * `sidecar_svid_renewed` with the old and new serials, or `sidecar_svid_renew_failed` and rethrows (the SVID held and
   * its scheduled renewal stay). Concurrent calls share one renewal.
   */
  renew(trigger: string): Promise<SvidMaterial>;
  stop(): Promise<void>;
}

type SidecarSection = NonNullable<Config['sidecar']>;

/** What a hot reload swaps, from the `sidecar` section. */
function reloadable(section: SidecarSection): SidecarReload {
  const { perCaller, breaker } = section.limits;
  const { host, port, upstreams } = section.outbound;
  return {
    policies: section.policies as AuthorizationPolicy[],
    outbound: {
      host,
      port,
      http2: section.outbound.http2,
      upstreams: upstreams.map(({ timeout, ...upstream }) => ({ ...upstream, timeoutMs: timeout })),
    },
    ...(perCaller ? { callerLimit: { rate: perCaller.rate, period: perCaller.per, burst: perCaller.burst } } : {}),
    breaker: { consecutiveFailures: breaker.consecutiveFailures, openDurationMs: breaker.openDuration },
    tunnels: { websocket: section.websocket, max: section.tunnels.max, idleTimeoutMs: section.tunnels.idleTimeout },
  };
}

/**
 * The settings a running sidecar cannot change (listeners, identity, CA), as `path: value` pairs to compare. The
 * outbound address counts only once the outbound listener is open.
 */
function fixedSettings(config: Config, outboundOpen: boolean): Record<string, string> {
  const section = config.sidecar as SidecarSection;
  return {
    trustDomain: config.trustDomain,
    'sidecar.spiffeId': String(section.spiffeId),
    'sidecar.ca': JSON.stringify(section.ca),
    'sidecar.mode': section.mode,
    'sidecar.inbound': JSON.stringify(section.inbound),
    ...(outboundOpen
      ? {
          'sidecar.outbound.host/port': `${section.outbound.host}:${section.outbound.port}`,
          'sidecar.outbound.http2': String(section.outbound.http2),
        }
      : {}),
    'sidecar.renewAtFraction': String(section.renewAtFraction),
    'sidecar.ticketKeyRotation': String(section.ticketKeyRotation),
    'sidecar.accessLog': String(section.accessLog),
  };
}

/**
 * `gatehouse sidecar --config FILE`: the `sidecar` section of the config, bootstrapped with its join token (config,
 * GATEHOUSE_SIDECAR__JOIN_TOKEN or joinTokenFile) against the CA listener, renewed over mTLS. `reload` applies a
 * re-read file (the CLI calls it on SIGHUP).
 *
 * @example
 * const running = await startStandaloneSidecar({ config, clock: systemClock, logger });
 */
export async function startStandaloneSidecar(options: {
  config: Config;
  clock: Clock;
  logger: Logger;
  /** Serve the sidecar's metrics (Sidecar.metricsText) on `http://127.0.0.1:<port>/metrics` (0: any free port). */
  metricsPort?: number;
}): Promise<RunningSidecar> {
  const { clock, logger } = options;
  let config = options.config;
  const first = config.sidecar;
  if (!first) {
    throw new GatehouseError('ERR_CONFIG_INVALID', { message: 'config: sidecar: the section is required' });
  }
  const section = first;
  // Read at each (re-)bootstrap from the running configuration: a reload may bring a fresh join token.
  const credential = () => {
    const current = config.sidecar as SidecarSection;
    if (current.joinToken) return current.joinToken;
    if (current.joinTokenFile) return readJoinTokenFile(current.joinTokenFile, 'sidecar.joinTokenFile');
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message: 'config: sidecar.joinToken or sidecar.joinTokenFile (or GATEHOUSE_SIDECAR__JOIN_TOKEN) is required',
    });
  };
  // Everything that can be checked before the one-time join token is spent is checked first.
  checkSidecarIdentities(config);
  const bundlePem = readConfiguredFile(section.ca.bundleFile, 'sidecar.ca.bundleFile');
  credential();
  await probeSidecarPorts(section, options.metricsPort);
  const client = new HttpCaClient({ url: section.ca.url, bundlePem });
  const { outbound, ...swappable } = reloadable(section); // the outbound listener opens only for upstreams
  const sidecar = await Sidecar.start({
    client,
    credential,
    ...(section.spiffeId === undefined ? {} : { spiffeId: section.spiffeId }),
    trustDomain: config.trustDomain,
    clock,
    logger,
    mode: section.mode,
    ...swappable,
    inbound: { ...section.inbound, timeoutMs: section.inbound.timeout },
    ...(section.outbound.upstreams.length > 0 ? { outbound } : {}),
    renewAtFraction: section.renewAtFraction,
    ticketKeyRotationMs: section.ticketKeyRotation,
    accessLog: section.accessLog,
    ...(section.inbound.bindTokens ? { tokenBinding: meshTokenBinding() } : {}),
  }).catch(async (err: unknown) => {
    await client.close();
    throw bootstrapError(err, 'sidecar.spiffeId', section.spiffeId);
  });
  const held = sidecar.identity.current?.spiffeId ?? '';
  const mismatch =
    section.spiffeId !== undefined && held !== section.spiffeId
      ? `sidecar.spiffeId: the join token is bound to ${held}, not ${section.spiffeId}`
      : parseSpiffeId(held).trustDomain !== config.trustDomain
        ? `trustDomain: the CA issued ${held}, outside trust domain ${config.trustDomain}`
        : undefined;
  if (mismatch !== undefined) {
    await sidecar.stop();
    await client.close();
    throw new GatehouseError('ERR_CONFIG_INVALID', { message: `config: ${mismatch}` });
  }
  let metrics: MetricsListener | undefined;
  if (options.metricsPort !== undefined) {
    try {
      metrics = await listenMetrics(options.metricsPort, () => sidecar.metricsText());
    } catch (err) {
      await sidecar.stop();
      await client.close();
      throw err;
    }
  }
  return {
    sidecar,
    ...(metrics ? { metricsUrl: metrics.url } : {}),
    async reload(next) {
      if (!next.sidecar) {
        throw new GatehouseError('ERR_CONFIG_INVALID', { message: 'config: sidecar: the section is required' });
      }
      checkSidecarIdentities(next);
      const open = sidecar.outboundAddress !== undefined;
      const before = fixedSettings(config, open);
      const after = fixedSettings(next, open);
      const changed = Object.keys(before).filter((key) => before[key] !== after[key]);
      if (changed.length > 0) {
        throw new GatehouseError('ERR_CONFIG_INVALID', {
          message: `config: ${changed.join(', ')}: cannot change while the sidecar runs (restart it)`,
        });
      }
      await sidecar.reload(reloadable(next.sidecar));
      config = next;
    },
    async renew(trigger) {
      const before = sidecar.identity.current?.serialNumber;
      try {
        const svid = await sidecar.renewNow();
        logger.info(
          {
            event: 'sidecar_svid_renewed',
            trigger,
            spiffeId: svid.spiffeId,
            previousSerial: before,
            serial: svid.serialNumber,
            notAfter: new Date(svid.notAfter).toISOString(),
          },
          'SVID renewed on demand',
        );
        return svid;
      } catch (err) {
        logger.error(
          { event: 'sidecar_svid_renew_failed', trigger, reason: (err as Error).message },
          'SVID renewal on demand failed; keeping the SVID held and its scheduled renewal',
        );
        throw err;
      }
    },
    stop: async () => {
      await metrics?.close();
      await sidecar.stop();
      await client.close();
    },
  };
}
