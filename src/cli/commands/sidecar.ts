import { Command } from 'commander';
import { configFileFromEnvironment, loadConfig, processEnvironment } from '../../config/index.js';
import { systemClock } from '../../core/index.js';
import { startStandaloneSidecar } from '../../app/index.js';
import { createLogger } from '../logger.js';

/** `gatehouse sidecar --config FILE`: the mTLS sidecar of one service (config section `sidecar`, docs/mesh.md). */
export function sidecarCommand(): Command {
  return new Command('sidecar')
    .description('run the mTLS sidecar of one service (config section sidecar; docs/mesh.md)')
    .option('--config <file>', 'configuration file (YAML or JSON) with a sidecar section; also GATEHOUSE_CONFIG')
    .action(async (flags: { config?: string }) => {
      const env = processEnvironment();
      const file = flags.config ?? configFileFromEnvironment(env);
      const config = loadConfig({ ...(file === undefined ? {} : { file }), env });
      const logger = createLogger(config.log.level);
      const running = await startStandaloneSidecar({ config, clock: systemClock, logger });
      const { sidecar } = running;
      const svid = sidecar.identity.current;
      const outbound = sidecar.outboundAddress;
      process.stdout.write(
        [
          `gatehouse sidecar is up as ${svid?.spiffeId ?? '?'} (pid ${process.pid})`,
          `  inbound (mTLS)   ${sidecar.inboundAddress.address}:${sidecar.inboundAddress.port} → ${config.sidecar?.inbound.app ?? ''}`,
          ...(outbound ? [`  outbound (HTTP)  ${outbound.address}:${outbound.port}  (Host: <service name>)`] : []),
          '',
        ].join('\n'),
      );
      const shutdown = (signal: string) => {
        logger.info({ signal }, 'sidecar stopping');
        running.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            console.error(`gatehouse: stop failed: ${(err as Error).message}`);
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', () => shutdown('SIGINT'));
      process.once('SIGTERM', () => shutdown('SIGTERM'));
    });
}
