import { Command } from 'commander';
import { metricsPortOption } from '../metrics_port.js';
import { systemClock } from '../../core/index.js';
import { logLevelOption } from '../log_level.js';

/**
 * The keys a sidecar reads, and what SIGHUP does with them: the `sidecar` section is applied, or refused as a whole
 * when one of its fixed settings (or `trustDomain`) changed; `log.level` is read at start only.
 */
const SCOPE = { applied: ['sidecar', 'trustDomain'], reads: ['log', 'trustDomain', 'sidecar'] };

/**
 * `gatehouse sidecar --config FILE [--log-level LEVEL]`: the mTLS sidecar of one service (config section `sidecar`,
 * docs/mesh.md). SIGHUP re-reads the file and swaps policies, upstreams and limits without dropping connections; a bad
 * file, or one changing a fixed setting of the section, is refused with a log line (`sidecar_reload_failed`) and the
 * running configuration stays; a changed `log.level` is named in a warning (`config_reload_ignored`: a restart applies
 * it). A SIGHUP during start-up is held until the sidecar runs. SIGUSR1 renews the SVID now (`sidecar_svid_renewed`).
 */
export function sidecarCommand(): Command {
  return new Command('sidecar')
    .description('run the mTLS sidecar of one service (config section sidecar; docs/mesh.md)')
    .option(
      '--config <file>',
      'configuration file (YAML or JSON) with a sidecar section; also GATEHOUSE_CONFIG; SIGHUP re-reads it',
    )
    .addOption(metricsPortOption("the sidecar's Prometheus metrics"))
    .addOption(logLevelOption())
    .action(async (flags: { config?: string; metricsPort?: number; logLevel?: string }) => {
      const { metricsPort } = flags;
      const { startStandaloneSidecar } = await import('../../app/index.js');
      const { startServing } = await import('../serve.js');
      const serving = startServing(flags, { stopMessage: 'sidecar stopping' });
      const { config, logger, stopWith } = serving;
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
      // One reload at a time, in signal order; one held during start-up runs now.
      serving.onHangup(async () => {
        try {
          const outboundNow = () => sidecar.outboundAddress; // read again after the reload (it may open one)
          const before = outboundNow();
          const next = serving.load();
          // The section's own fixed settings refuse the reload (running.reload); the rest it never reads again.
          serving.warnRestartOnly(next, SCOPE);
          await running.reload(next);
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
