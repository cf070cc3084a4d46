import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { startStandaloneGateway } from '../../app/index.js';
import { configFileFromEnvironment, loadConfig, processEnvironment } from '../../config/index.js';
import { GatehouseError, systemClock } from '../../core/index.js';
import { createLogger } from '../logger.js';

interface GatewayFlags {
  config?: string;
  cert?: string;
  key?: string;
  issuerCa?: string;
  metricsPort?: string;
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new GatehouseError('ERR_CONFIG_UNREADABLE', {
      message: `cannot read the ${what} file ${file}: ${(err as Error).message}`,
    });
  }
}

/**
 * `gatehouse gateway --config FILE --cert FILE --key FILE`: the gateway data plane alone; SIGHUP re-reads the
 * configuration file and swaps the gateway section without dropping connections.
 */
export function gatewayCommand(): Command {
  return new Command('gateway')
    .description('run the API gateway alone (routes, limits and upstreams from the gateway section of --config)')
    .option('--config <file>', 'configuration file (YAML or JSON); also GATEHOUSE_CONFIG')
    .requiredOption('--cert <file>', 'PEM certificate chain of the listener')
    .requiredOption('--key <file>', 'PEM private key of the listener')
    .option('--issuer-ca <file>', 'PEM CA bundle trusted for the issuer JWKS (JWT routes; default: system roots)')
    .option('--metrics-port <port>', 'serve Prometheus /metrics on 127.0.0.1:<port> (plain HTTP)')
    .action(async (flags: GatewayFlags) => {
      const env = processEnvironment();
      const file = flags.config ?? configFileFromEnvironment(env);
      const load = () => loadConfig({ ...(file === undefined ? {} : { file }), env, overrides: {} });
      const config = load();
      const logger = createLogger(config.log.level);
      const metricsPort = flags.metricsPort === undefined ? undefined : Number(flags.metricsPort);
      if (metricsPort !== undefined && !(Number.isInteger(metricsPort) && metricsPort >= 0 && metricsPort <= 65535)) {
        throw new GatehouseError('ERR_CONFIG_INVALID', {
          message: `--metrics-port: expected 0..65535, got ${flags.metricsPort}`,
        });
      }
      const gateway = await startStandaloneGateway({
        config,
        certPem: readPem(flags.cert as string, 'certificate'),
        keyPem: readPem(flags.key as string, 'key'),
        ...(flags.issuerCa === undefined ? {} : { issuerCaPem: readPem(flags.issuerCa, 'issuer CA') }),
        ...(metricsPort === undefined ? {} : { metricsPort }),
        clock: systemClock,
        logger,
      });
      process.stdout.write(
        `gatehouse gateway listening on ${gateway.url}${gateway.metricsUrl ? ` (metrics ${gateway.metricsUrl})` : ''}\n`,
      );
      logger.info({ event: 'gateway_up', url: gateway.url, metrics: gateway.metricsUrl }, 'gateway is up');
      process.on('SIGHUP', () => {
        try {
          gateway.reload(load().gateway);
          process.stdout.write('gatehouse gateway: configuration reloaded\n');
        } catch (err) {
          logger.error(
            { event: 'gateway_reload_failed', reason: (err as Error).message },
            'reload refused; keeping the running configuration',
          );
        }
      });
      const stop = () => {
        gateway.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
