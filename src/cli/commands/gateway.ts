import { Command } from 'commander';
import { metricsPortOption } from '../metrics_port.js';
import type { StandaloneGateway } from '../../app/index.js';
import { systemClock } from '../../core/index.js';
import { readPem, reloadCertificateFiles } from '../certificate_files.js';
import { logLevelOption } from '../log_level.js';
import type { Serving } from '../serve.js';

interface GatewayFlags {
  config?: string;
  cert?: string;
  key?: string;
  issuerCa?: string;
  metricsPort?: number;
  logLevel?: string;
}

/** The keys a standalone gateway reads (a change elsewhere is no concern of it), and those SIGHUP applies. */
const SCOPE = {
  applied: ['gateway', 'identity.issuer'],
  reads: ['trustDomain', 'log', 'redis', 'listen.host', 'listen.gateway', 'http', 'ratelimit', 'identity'],
};

/**
 * SIGHUP, in this order: (1) re-reads `--cert`/`--key` and swaps the pair into the listener (refused:
 * `certificate_reload_failed`, the current pair stays); (2) re-reads the configuration file and swaps the gateway
 * section with `identity.issuer` and `--issuer-ca` read again, once what it adds or changes (the JWT verifier, the mesh
 * identity) is running (refused: `gateway_reload_failed`, the running configuration stays); every other key it reads
 * and that changed is named in a warning (`config_reload_ignored`): only a restart applies it. So is a changed
 * `gateway.mesh` once the SVID runs: it is kept, not bootstrapped again (a reload that adds the section opens it).
 * Each step is applied or refused on its own: a bad certificate does not hold back a good configuration, nor the
 * reverse. Signals are handled one at a time, in order; one that arrives during start-up is held until the gateway
 * runs.
 */
function reloadOnHangup(
  gateway: StandaloneGateway,
  files: { cert: string; key: string; issuerCa?: string },
  serving: Serving,
): void {
  const { logger } = serving;
  serving.onHangup(async () => {
    reloadCertificateFiles(gateway, files, 'gateway', logger);
    try {
      const config = serving.load();
      // Asked before the reload: a reload that adds gateway.mesh opens the SVID with it (applied, not named).
      serving.warnRestartOnly(config, { ...SCOPE, restartOnly: gateway.restartOnly(config.gateway) });
      await gateway.reload(config.gateway, {
        issuer: config.identity.issuer,
        ...(files.issuerCa === undefined ? {} : { trustBundlePem: readPem(files.issuerCa, 'issuer CA') }),
      });
      process.stdout.write('gatehouse gateway: configuration reloaded\n');
    } catch (err) {
      logger.error(
        { event: 'gateway_reload_failed', reason: (err as Error).message },
        'reload refused; keeping the running configuration',
      );
    }
  });
}

/**
 * SIGUSR2 drops every response-cache entry (the standalone gateway's purge: it has no admin API), with an audit line
 * (`gateway_cache_purged`) and `gatehouse gateway: cache purged (N entries)` on stdout. Installed before the start, so
 * that a SIGUSR2 during it is ignored (logged) instead of ending the process (Node's default for it).
 */
function purgeOnUser2(logger: Serving['logger']): (gateway: StandaloneGateway) => void {
  let running: StandaloneGateway | undefined;
  process.on('SIGUSR2', () => {
    if (running === undefined) {
      logger.info({ signal: 'SIGUSR2' }, 'cache purge requested during start-up: ignored (the cache is empty)');
      return;
    }
    const purged = running.purgeCache();
    logger.info(
      { audit: true, event: 'gateway_cache_purged', signal: 'SIGUSR2', purged },
      'gateway response cache purged',
    );
    process.stdout.write(`gatehouse gateway: cache purged (${purged} ${purged === 1 ? 'entry' : 'entries'})\n`);
  });
  return (gateway) => {
    running = gateway;
  };
}

/**
 * `gatehouse gateway --config FILE --cert FILE --key FILE [--log-level LEVEL]`: the gateway data plane alone; SIGHUP
 * re-reads the certificate and key files and the configuration file, and swaps them in without dropping connections
 * (the gateway section and `identity.issuer`; a changed key that needs a restart is named in the log); SIGUSR2 purges
 * the response cache.
 */
export function gatewayCommand(): Command {
  return new Command('gateway')
    .description('run the API gateway alone (routes, limits and upstreams from the gateway section of --config)')
    .option(
      '--config <file>',
      'configuration file (YAML or JSON); also GATEHOUSE_CONFIG; SIGHUP re-reads its gateway section',
    )
    .requiredOption('--cert <file>', 'PEM certificate chain of the listener; SIGHUP re-reads it')
    .requiredOption('--key <file>', 'PEM private key of the listener (SIGHUP re-reads it)')
    .option(
      '--issuer-ca <file>',
      'PEM CA bundle trusted for the issuer JWKS (JWT routes; default: system roots); SIGHUP re-reads it',
    )
    .addOption(metricsPortOption("the gateway's Prometheus metrics"))
    .addOption(logLevelOption())
    .action(async (flags: GatewayFlags) => {
      const { startStandaloneGateway } = await import('../../app/index.js');
      const { startServing } = await import('../serve.js');
      const serving = startServing(flags, { stopMessage: 'stopping: draining in-flight requests' });
      const { config, logger, stopWith } = serving;
      const purgeWith = purgeOnUser2(logger);
      const { metricsPort } = flags;
      const files = {
        cert: flags.cert as string,
        key: flags.key as string,
        ...(flags.issuerCa === undefined ? {} : { issuerCa: flags.issuerCa }),
      };
      const gateway = await startStandaloneGateway({
        config,
        certPem: readPem(files.cert, 'certificate'),
        keyPem: readPem(files.key, 'key'),
        ...(flags.issuerCa === undefined ? {} : { issuerCaPem: readPem(flags.issuerCa, 'issuer CA') }),
        ...(metricsPort === undefined ? {} : { metricsPort }),
        clock: systemClock,
        logger,
      });
      reloadOnHangup(gateway, files, serving);
      purgeWith(gateway);
      stopWith(() => gateway.close());
      // Last, once every signal is handled: whoever waits for this line may signal at once.
      process.stdout.write(
        `gatehouse gateway listening on ${gateway.url}${gateway.metricsUrl ? ` (metrics ${gateway.metricsUrl})` : ''}\n`,
      );
      logger.info({ event: 'gateway_up', url: gateway.url, metrics: gateway.metricsUrl }, 'gateway is up');
    });
}
