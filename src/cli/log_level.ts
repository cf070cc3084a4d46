import { Option } from 'commander';

/**
 * The `--log-level <level>` option of every long-running verb: it sets `log.level` over the configuration file and
 * GATEHOUSE_LOG__LEVEL. The value is checked with the rest of the configuration, so a bad one is a configuration error
 * naming the flag (`got "verbose" (from --log-level)`).
 *
 * @example
 * command.addOption(logLevelOption());
 */
export function logLevelOption(): Option {
  return new Option('--log-level <level>', 'trace, debug, info, warn, error or silent (log.level; default info)');
}
