import {
  changedKeys,
  configFileFromEnvironment,
  loadConfig,
  processEnvironment,
  rootKeyFromEnvironment,
  type Config,
} from '../config/index.js';
import type { Logger } from '../core/index.js';
import { createLogger } from './logger.js';
import { exitOnSignals, heldSignal } from './signals.js';

/** The flags every long-running verb reads the same way (`--data-dir` only where the verb has one). */
export interface ServeFlags {
  config?: string;
  dataDir?: string;
  logLevel?: string;
}

/** What a long-running verb gets before it starts its servers. */
export interface Serving {
  env: Record<string, string | undefined>;
  /** The configuration file (`--config` or GATEHOUSE_CONFIG), if any. */
  file: string | undefined;
  /** The configuration the process starts with. */
  config: Config;
  /** Reads the file and the environment again, with the same flags winning (what SIGHUP applies). */
  load(): Config;
  logger: Logger;
  /** `--root-key-file` and GATEHOUSE_ROOT_KEY, for the verbs that open the sealed keyring. */
  rootKey(file: string | undefined): { file?: string; env?: string };
  /** Hands over the stop function once the servers run (see {@link exitOnSignals}). */
  stopWith(stop: () => Promise<void>): void;
  /**
   * Sets what SIGHUP does once the servers run: reloads run one at a time in signal order, and one that arrived during
   * start-up runs now (see {@link heldSignal}).
   */
  onHangup(reload: () => Promise<void>): void;
  /**
   * Logs `config_reload_ignored` (warn) naming the keys that differ between the running configuration and `next` but
   * only a restart applies: every key outside `scope.applied`, within `scope.reads` when given (the keys the process
   * reads at all; a key it never reads is no concern of it), and `scope.restartOnly`. Returns the keys named.
   */
  warnRestartOnly(next: Config, scope: ReloadScope): string[];
}

/** What a verb's SIGHUP applies, and which keys it reads at all (default: every key). Dotted keys or sections. */
export interface ReloadScope {
  applied: readonly string[];
  reads?: readonly string[];
  /** Keys inside `applied` that changed but that this reload cannot apply (the verb knows which), named as well. */
  restartOnly?: readonly string[];
}

const within = (key: string, prefixes: readonly string[]) =>
  prefixes.some((prefix) => key === prefix || key.startsWith(`${prefix}.`) || prefix.startsWith(`${key}.`));

/**
 * The start-up lines every long-running verb shares (`up`, `identity|kms|ca --config`, `gateway`, `sidecar`): reads
 * the configuration (`--config` or GATEHOUSE_CONFIG; `--data-dir` and `--log-level` win over the file and the
 * environment), creates the logger, and takes SIGINT, SIGTERM and SIGHUP over before anything starts, so a signal
 * during start-up is held instead of killing the process (Node's default). `checkFile` runs before the file is read
 * (a verb that needs one refuses to start without it).
 *
 * @example
 * const serving = startServing(flags, { stopMessage: 'stopping: draining in-flight requests' });
 * const running = await startSomething(serving.config, serving.logger);
 * serving.onHangup(async () => { serving.warnRestartOnly(serving.load(), { applied: [] }); });
 * serving.stopWith(() => running.stop());
 */
export function startServing(
  flags: ServeFlags,
  o: { stopMessage: string; checkFile?: (file: string | undefined) => void },
): Serving {
  const env = processEnvironment();
  const file = flags.config ?? configFileFromEnvironment(env);
  o.checkFile?.(file);
  const overrides = {
    ...(flags.dataDir === undefined ? {} : { dataDir: flags.dataDir }),
    ...(flags.logLevel === undefined ? {} : { log: { level: flags.logLevel } }),
  };
  const load = () =>
    loadConfig({
      ...(file === undefined ? {} : { file }),
      env,
      overrides,
      overrideSources: {
        ...(flags.dataDir === undefined ? {} : { dataDir: '--data-dir' }),
        ...(flags.logLevel === undefined ? {} : { 'log.level': '--log-level' }),
      },
    });
  const config = load();
  const logger = createLogger(config.log.level);
  // Before anything starts: a signal during start-up is held until the servers run (not Node's default kill).
  const stopWith = exitOnSignals(logger, o.stopMessage);
  const onHangup = heldSignal('SIGHUP');
  return {
    env,
    file,
    config,
    load,
    logger,
    rootKey: (rootKeyFile) => {
      const fromEnv = rootKeyFromEnvironment(env);
      return {
        ...(rootKeyFile === undefined ? {} : { file: rootKeyFile }),
        ...(fromEnv === undefined ? {} : { env: fromEnv }),
      };
    },
    stopWith,
    onHangup,
    warnRestartOnly: (next, scope) => {
      const ignored = [
        ...changedKeys(config, next, scope.applied).filter(
          (key) => scope.reads === undefined || within(key, scope.reads),
        ),
        ...(scope.restartOnly ?? []),
      ];
      if (ignored.length > 0) {
        logger.warn(
          { event: 'config_reload_ignored', keys: ignored },
          `changed in the configuration but applied only at restart: ${ignored.join(', ')}`,
        );
      }
      return ignored;
    },
  };
}
