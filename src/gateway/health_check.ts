import { Client, type Dispatcher } from 'undici';
import type { Logger } from '../core/index.js';
import type { UpstreamConfig } from './gateway_config.js';
import type { GatewayMetrics } from './gateway_metrics.js';

/** The `healthCheck` block of an upstream (durations in ms). */
export type HealthCheckConfig = NonNullable<UpstreamConfig['healthCheck']>;

/** What the checker needs of each host: its own connection to send the checks on. */
export interface CheckedHost {
  /** The host's origin, for logs and the metric's `host` label. */
  origin: string;
  /**
   * Opens a dispatcher for this host alone (one connection, the same TLS, trust and mesh identity as the traffic's
   * pool): checks never queue behind the traffic, and a pool full of long requests does not stall them. A check that
   * runs out of time destroys it (undici aborts no request still connecting), and the next check opens another.
   */
  open: () => CheckDispatcher;
}

/** What a check needs of its dispatcher. */
export type CheckDispatcher = Pick<Dispatcher, 'request' | 'destroy'>;

/** A check that ran out of `timeout` (connecting and the TLS handshake included). */
class CheckTimeout extends Error {
  constructor() {
    super('timeout');
    this.name = 'CheckTimeout';
  }
}

/**
 * Active health checks of an upstream's hosts, as Envoy's `health_check`, Kong's `healthchecks.active` and HAProxy's
 * `check` do it: every `interval` (the first after a random part of it, so that gateways started together do not
 * check in step) each host gets `GET path` on its own connection; an answer of 2xx or 3xx within `timeout`
 * (connecting and the TLS handshake included) is a success, anything else (another status, a refused or broken
 * connection, no answer in time) a failure. `unhealthyThreshold` failures in a row take a host out of the rotation,
 * `healthyThreshold` successes in a row bring it back; hosts start healthy. Each host is checked on its own schedule:
 * a host that hangs delays no other's checks.
 *
 * @example
 * const checker = new HealthChecker('orders', hosts, config.healthCheck, { logger, metrics, onChange });
 * checker.start();
 */
export class HealthChecker {
  /** Whether each host is in the rotation as far as the checks go. */
  readonly healthy: boolean[];
  private readonly streaks: number[];
  private readonly running: boolean[];
  private readonly clients: (CheckDispatcher | undefined)[];
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(
    private readonly upstream: string,
    private readonly hosts: readonly CheckedHost[],
    private readonly config: HealthCheckConfig,
    private readonly deps: {
      logger: Logger;
      metrics: GatewayMetrics;
      /** A host moved in or out of the rotation. */
      onChange: (host: number, healthy: boolean) => void;
      random?: () => number;
    },
  ) {
    this.healthy = hosts.map(() => true);
    this.streaks = hosts.map(() => 0);
    this.running = hosts.map(() => false);
    this.clients = hosts.map(() => undefined);
  }

  /** Starts checking: each host's first check after a random part of `interval`, then every `interval`. */
  start(): void {
    const random = this.deps.random ?? Math.random;
    this.hosts.forEach((_, i) => {
      const first = setTimeout(
        () => {
          void this.check(i);
          const every = setInterval(() => void this.check(i), this.config.interval);
          every.unref();
          this.timers.push(every);
        },
        Math.floor(random() * this.config.interval),
      );
      first.unref();
      this.timers.push(first);
    });
  }

  /** Stops checking (the upstream was retired or closed) and closes the checks' connections. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    for (const client of this.clients) void client?.destroy().catch(() => {});
  }

  /** Checks every host once (a host whose check is still under way is skipped). */
  async round(): Promise<void> {
    await Promise.all(this.hosts.map((_, i) => this.check(i)));
  }

  private async check(i: number): Promise<void> {
    if (this.running[i] || this.stopped) return;
    this.running[i] = true;
    const client = (this.clients[i] ??= (this.hosts[i] as CheckedHost).open());
    let ok = false;
    let why: string;
    let timer: NodeJS.Timeout | undefined;
    try {
      // The whole check, connecting and the TLS handshake included, within `timeout`.
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CheckTimeout()), this.config.timeout);
      });
      const exchange = (async () => {
        const answer = await client.request({
          method: 'GET',
          path: this.config.path,
          headers: { 'user-agent': 'gatehouse-health-check' },
          headersTimeout: this.config.timeout,
          bodyTimeout: this.config.timeout,
        });
        await answer.body.dump({ limit: 65536 });
        return answer.statusCode;
      })();
      exchange.catch(() => {}); // settles after the deadline when the client is destroyed
      const status = await Promise.race([exchange, deadline]);
      ok = status >= 200 && status < 400;
      why = `status ${status}`;
    } catch (err) {
      if (err instanceof CheckTimeout) {
        // undici aborts no request that is still connecting: drop the connection, the next check opens another.
        this.clients[i] = undefined;
        void client.destroy().catch(() => {});
      }
      const e = err as { code?: string; message?: string };
      why = e.code ?? e.message ?? 'failed';
    } finally {
      clearTimeout(timer);
      this.running[i] = false;
    }
    if (this.stopped) return;
    this.deps.metrics.healthChecks.labels(this.upstream, ok ? 'success' : 'failure').inc();
    this.judge(i, ok, why);
  }

  private judge(i: number, ok: boolean, why: string): void {
    const healthy = this.healthy[i] as boolean;
    if (ok === healthy) {
      this.streaks[i] = 0; // the host is where it should be: a streak the other way starts again
      return;
    }
    const streak = (this.streaks[i] as number) + 1;
    this.streaks[i] = streak;
    if (streak < (ok ? this.config.healthyThreshold : this.config.unhealthyThreshold)) return;
    this.streaks[i] = 0;
    this.healthy[i] = ok;
    const origin = (this.hosts[i] as CheckedHost).origin;
    this.deps.onChange(i, ok);
    const line = { event: 'gateway_health_check', upstream: this.upstream, host: origin, healthy: ok, last: why };
    if (ok) this.deps.logger.info(line, 'upstream host passed its health checks: back in the rotation');
    else this.deps.logger.warn(line, 'upstream host failed its health checks: out of the rotation');
  }
}

/**
 * The hosts of an upstream as the checker sees them: each opens a one-connection undici Client made like the
 * traffic's connections (`connect`: the mesh connector or the caFile's trust anchors), with `timeout` to connect.
 *
 * @example
 * const hosts = checkClients(config.hosts, config.healthCheck.timeout, { connect: { ca } });
 */
export function checkClients(
  origins: readonly string[],
  timeout: number,
  connect: Pick<Client.Options, 'connect'>,
): CheckedHost[] {
  return origins.map((origin) => ({
    origin,
    open: () => new Client(origin, { pipelining: 1, keepAliveTimeout: 4_000, connectTimeout: timeout, ...connect }),
  }));
}
