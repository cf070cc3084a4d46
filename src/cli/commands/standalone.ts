import type { Command } from 'commander';
import { metricsPortOption } from '../metrics_port.js';
import type { RunningComponent, StandaloneComponent } from '../../app/index.js';
import { systemClock } from '../../core/index.js';
import { readPem, reloadCertificateFiles } from '../certificate_files.js';
import { logLevelOption } from '../log_level.js';
import type { Serving } from '../serve.js';

interface StandaloneFlags {
  config?: string;
  dataDir?: string;
  rootKeyFile?: string;
  cert?: string;
  key?: string;
  metricsPort?: number;
  logLevel?: string;
}

const TITLES: Record<StandaloneComponent, string> = {
  identity: 'the identity issuer (OAuth2 authorization server)',
  kms: 'the KMS transit API',
  ca: 'the CA API',
};

/**
 * The sections a component alone never reads (other verbs'), and the listeners each reads: a change elsewhere is no
 * concern of it, so SIGHUP does not name it.
 */
const UNREAD = ['gateway', 'sidecar', 'mesh', 'listen'];
const LISTENERS: Record<StandaloneComponent, string[]> = {
  identity: ['listen.identity', 'listen.identityMtls'],
  kms: ['listen.kms'],
  ca: ['listen.ca'],
};

/**
 * SIGHUP, in order: (1) with `--cert`/`--key`, re-reads both files and swaps the pair into the component's listeners
 * (an unreadable file or a pair that does not check is refused with a log line, `certificate_reload_failed`, and the
 * current pair stays); (2) re-reads the configuration file: nothing in it is applied, so the keys that changed (and
 * that the component reads) are named in a warning, `config_reload_ignored`, until a restart; (3) looks for a root key
 * rotated through `gatehouse up` and adopts it if the root key source holds it.
 */
function reloadOnHangup(
  running: RunningComponent,
  files: { cert: string; key: string } | undefined,
  serving: Serving,
): void {
  const { logger } = serving;
  const component = running.component;
  const reads = [
    ...Object.keys(serving.config).filter((key) => !UNREAD.includes(key)),
    ...['listen.host', 'listen.certificateNames', ...LISTENERS[component]],
  ];
  serving.onHangup(async () => {
    if (files) reloadCertificateFiles(running, files, component, logger);
    try {
      const next = serving.load();
      serving.warnRestartOnly(next, { applied: [], reads });
    } catch (err) {
      logger.error(
        { event: 'config_reload_failed', reason: (err as Error).message },
        'configuration re-read failed; the running configuration stays',
      );
    }
    try {
      if ((await running.refreshRootKey()) === 'adopted') {
        process.stdout.write(`gatehouse ${component}: root key rotated through gatehouse up: now sealing with it\n`);
      }
    } catch (err) {
      logger.error({ event: 'root_key_check_failed', reason: (err as Error).message }, 'root key check failed');
    }
  });
}

/**
 * Makes `command` run `component` alone when called without a subcommand: `gatehouse identity|kms|ca --config FILE
 * [--data-dir DIR] [--root-key-file FILE] [--cert FILE --key FILE] [--log-level LEVEL]`. Its own options are read
 * only before a subcommand (`gatehouse kms key list --data-dir DIR` keeps meaning the admin command). Prints the URL,
 * then runs until SIGINT/SIGTERM, which stop it cleanly (exit 0); SIGHUP reloads the `--cert`/`--key` files, names
 * in the log the changed configuration keys (read at start only) and looks for a rotated root key. Signals that
 * arrive during start-up are held until the component runs.
 *
 * @example
 * runsAlone(new Command('kms'), 'kms');
 */
export function runsAlone(command: Command, component: StandaloneComponent): Command {
  const title = TITLES[component];
  command
    .enablePositionalOptions()
    .option(
      '--config <file>',
      `configuration file (YAML or JSON) to run ${title} alone; also GATEHOUSE_CONFIG; read at start only (SIGHUP logs changed keys)`,
    )
    .option('--data-dir <dir>', 'data directory (SQLite storage, root.key, trust-bundle.pem; default dataDir)')
    .option('--root-key-file <file>', 'file holding the root key (default DIR/root.key; also GATEHOUSE_ROOT_KEY)')
    .option(
      '--cert <file>',
      'PEM certificate chain of the listener (default: one from the platform CA, renewed); SIGHUP re-reads it',
    )
    .option('--key <file>', 'PEM private key of the listener (with --cert; SIGHUP re-reads it)')
    .addOption(metricsPortOption('Prometheus metrics (HTTP requests, CA expiry)'))
    .addOption(logLevelOption());
  return command.action(async (flags: StandaloneFlags) => {
    const { startStandaloneComponent } = await import('../../app/index.js');
    const { startServing } = await import('../serve.js');
    const serving = startServing(flags, {
      stopMessage: 'stopping: draining in-flight requests',
      checkFile: (file) => {
        if (file === undefined) {
          command.error(
            `error: --config FILE (or GATEHOUSE_CONFIG) is required to run ${title} alone; see gatehouse ${command.name()} --help`,
          );
        }
        if ((flags.cert === undefined) !== (flags.key === undefined)) {
          command.error('error: --cert and --key go together');
        }
      },
    });
    const { config, logger, stopWith } = serving;
    const { metricsPort } = flags;
    const running = await startStandaloneComponent({
      component,
      config,
      rootKey: serving.rootKey(flags.rootKeyFile),
      ...(flags.cert !== undefined && flags.key !== undefined
        ? { certificate: { certPem: readPem(flags.cert, 'certificate'), keyPem: readPem(flags.key, 'key') } }
        : {}),
      ...(metricsPort === undefined ? {} : { metricsPort }),
      clock: systemClock,
      logger,
    });
    reloadOnHangup(
      running,
      flags.cert !== undefined && flags.key !== undefined ? { cert: flags.cert, key: flags.key } : undefined,
      serving,
    );
    stopWith(() => running.stop());
    // Last, once every signal is handled: whoever waits for this line may signal at once.
    process.stdout.write(
      [
        `gatehouse ${component} listening on ${running.url} (pid ${process.pid}, storage ${config.storage.kind})`,
        ...(running.issuer && running.issuer !== running.url ? [`  issuer ${running.issuer}`] : []),
        ...(running.mtlsUrl
          ? [`  mTLS   ${running.mtlsUrl}   (token, introspection, revocation with client certificates: RFC 8705)`]
          : []),
        ...(running.metricsUrl ? [`  metrics ${running.metricsUrl}`] : []),
        ...(flags.cert === undefined && running.trustBundle
          ? [`  listener certificate from the platform CA: curl --cacert ${running.trustBundle} ${running.url}/healthz`]
          : []),
        '',
      ].join('\n'),
    );
    logger.info({ event: 'component_up', component, url: running.url }, `${component} is up`);
  });
}
