import { readFileSync } from 'node:fs';
import type { Config } from '../config/index.js';
import { GatehouseError, type Clock, type Logger } from '../core/index.js';
import { Sidecar, type AuthorizationPolicy } from '../mesh/index.js';
import { HttpCaClient } from './mesh_http_ca_client.js';

/** A standalone sidecar and how to stop it. */
export interface RunningSidecar {
  sidecar: Sidecar;
  stop(): Promise<void>;
}

/**
 * `gatehouse sidecar --config FILE`: the `sidecar` section of the config, bootstrapped with its join token (config,
 * GATEHOUSE_SIDECAR__JOIN_TOKEN or joinTokenFile) against the CA listener, renewed over mTLS.
 *
 * @example
 * const running = await startStandaloneSidecar({ config, clock: systemClock, logger });
 */
export async function startStandaloneSidecar(options: {
  config: Config;
  clock: Clock;
  logger: Logger;
}): Promise<RunningSidecar> {
  const { config, clock, logger } = options;
  const section = config.sidecar;
  if (!section) {
    throw new GatehouseError('ERR_CONFIG_INVALID', { message: 'config: sidecar: the section is required' });
  }
  const credential = () => {
    if (section.joinToken) return section.joinToken;
    if (section.joinTokenFile) return readFileSync(section.joinTokenFile, 'utf8').trim();
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message: 'config: sidecar.joinToken or sidecar.joinTokenFile (or GATEHOUSE_SIDECAR__JOIN_TOKEN) is required',
    });
  };
  const client = new HttpCaClient({ url: section.ca.url, bundlePem: readFileSync(section.ca.bundleFile, 'utf8') });
  const sidecar = await Sidecar.start({
    client,
    credential,
    trustDomain: config.trustDomain,
    clock,
    logger,
    mode: section.mode,
    policies: section.policies as AuthorizationPolicy[],
    inbound: section.inbound,
    ...(section.outbound.upstreams.length > 0 ? { outbound: section.outbound } : {}),
    ...(section.limits.perCaller
      ? {
          callerLimit: {
            rate: section.limits.perCaller.rate,
            period: section.limits.perCaller.per,
            burst: section.limits.perCaller.burst,
          },
        }
      : {}),
    breaker: {
      consecutiveFailures: section.limits.breaker.consecutiveFailures,
      openDurationMs: section.limits.breaker.openDuration,
    },
    renewAtFraction: section.renewAtFraction,
    ticketKeyRotationMs: section.ticketKeyRotation,
  }).catch(async (err: unknown) => {
    await client.close();
    throw err;
  });
  const held = sidecar.identity.current?.spiffeId;
  if (section.spiffeId !== undefined && held !== section.spiffeId) {
    await sidecar.stop();
    await client.close();
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message: `config: sidecar.spiffeId: the join token is bound to ${held}, not ${section.spiffeId}`,
    });
  }
  return {
    sidecar,
    stop: async () => {
      await sidecar.stop();
      await client.close();
    },
  };
}
