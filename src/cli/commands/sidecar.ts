import { Command } from 'commander';
import { metricsPortOption } from '../metrics_port.js';
import { systemClock } from '../../core/index.js';
import { exitOnSignals } from '../signals.js';

/**
 * `gatehouse sidecar --config FILE`: the mTLS sidecar of one service (config section `sidecar`, docs/mesh.md).
 * SIGHUP re-reads the file and swaps policies, upstreams and limits without dropping connections; a bad file is
 * refused with a log line (`sidecar_reload_failed`) and the running configuration stays. SIGUSR1 renews the SVID now
 * (`sidecar_svid_renewed`).
 */
export function sidecarCommand(): Command {
  return new Command('sidecar')
    .description('run the mTLS sidecar of one service (config section sidecar; docs/mesh.md)')
    .option('--config <file>', 'configuration file (YAML or JSON) with a sidecar section; also GATEHOUSE_CONFIG')
    .addOption(metricsPortOption("the sidecar's Prometheus metrics"))
    .action(async (flags: { config?: string; metricsPort?: number }) => {
      const { metricsPort } = flags;
      const { configFileFromEnvironment, loadConfig, processEnvironment } = await import('../../config/index.js');
      const { startStandaloneSidecar } = await import('../../app/index.js');
      const env = processEnvironment();
      const file = flags.config ?? configFileFromEnvironment(env);
      const load = () => loadConfig({ ...(file === undefined ? {} : { file }), env });
      const config = load();
      const { createLogger } = await import('../logger.js');
      const logger = createLogger(config.log.level);
      // Before anything starts: a signal during startup stops the command once it runs (not Node's default kill).
      const stopWith = exitOnSignals(logger, 'sidecar stopping');
      // Also before: Node's default for SIGUSR1 opens its inspector (a debugger, on 127.0.0.1:9229); with a listener
      // it does not. During start-up there is nothing to renew (the SVID being bootstrapped is new).
      let renew = async (): Promise<void> => {
        logger.info({ signal: 'SIGUSR1' }, 'SVID renewal requested during start-up: ignored');
      };
      process.on('SIGUSR1', () => void renew().catch(() => {})); // a failure is logged by running.renew
      const running = await startStandaloneSidecar({
        config,
        clock: systemClock,
        logger,
        ...(metricsPort === undefined ? {} : { metricsPort }),
      });
      const { sidecar } = running;
      const svid = sidecar.identity.current;
      const outbound = sidecar.outboundAddress;
      // One reload at a time, in signal order.
      let reloading = Promise.resolve();
      process.on('SIGHUP', () => {
        reloading = reloading.then(async () => {
          try {
            const outboundNow = () => sidecar.outboundAddress; // read again after the reload (it may open one)
            const before = outboundNow();
            await running.reload(load());
            const opened = before ? undefined : outboundNow();
            process.stdout.write(
              'gatehouse sidecar: configuration reloaded\n' +
                (opened ? `  outbound (HTTP)  ${opened.address}:${opened.port}  (Host: <service name>)\n` : ''),
            );
          } catch (err) {
            logger.error(
              { event: 'sidecar_reload_failed', reason: (err as Error).message },
              'reload refused; keeping the running configuration',
            );
          }
        });
      });
      renew = async () => {
        const svid = await running.renew('SIGUSR1');
        process.stdout.write(
          `gatehouse sidecar: SVID renewed (serial ${svid.serialNumber}, expires ${new Date(svid.notAfter).toISOString()})\n`,
        );
      };
      stopWith(() => running.stop());
      // Last, once every signal is handled: whoever waits for this line may signal at once.
      process.stdout.write(
        [
          `gatehouse sidecar is up as ${svid?.spiffeId ?? '?'} (pid ${process.pid})`,
          `  inbound (mTLS)   ${sidecar.inboundAddress.address}:${sidecar.inboundAddress.port} → ${config.sidecar?.inbound.app ?? ''}`,
          ...(outbound ? [`  outbound (HTTP)  ${outbound.address}:${outbound.port}  (Host: <service name>)`] : []),
          ...(running.metricsUrl ? [`  metrics          ${running.metricsUrl}`] : []),
          '',
        ].join('\n'),
      );
    });
}
