import { InvalidArgumentError, Option } from 'commander';

/**
 * The `--metrics-port <port>` option of the commands that run a server alone (`gateway`, `ca`, `sidecar`): Prometheus
 * `/metrics` on 127.0.0.1 over plain HTTP; `0` takes any free port. A value that is not a port is a usage error.
 *
 * @example
 * command.addOption(metricsPortOption('the CA expiry gauges'));
 */
export function metricsPortOption(what: string): Option {
  return new Option(
    '--metrics-port <port>',
    `serve ${what} on http://127.0.0.1:<port>/metrics (plain HTTP; 0: any free port)`,
  ).argParser((value: string) => {
    const port = Number(value);
    if (!/^\d{1,5}$/.test(value) || port > 65_535) throw new InvalidArgumentError('expected a port, 0..65535.');
    return port;
  });
}
