import type { Dispatcher } from 'undici';
import type { Logger } from '../core/index.js';
import type { UpstreamConfig } from './gateway_config.js';
import type { GatewayMetrics } from './gateway_metrics.js';

/** The `healthCheck` block of an upstream (durations in ms). */
export type HealthCheckConfig = NonNullable<UpstreamConfig['healthCheck']>;

/** What the checker needs of each host: something to send a GET on (the host's keep-alive pool). */
export interface CheckedHost {
  /** The host's origin, for logs and the metric's `host` label. */
  origin: string;
  dispatcher: Pick<Dispatcher, 'request'>;
}

/**
 * Active health checks of an upstream's hosts, as Envoy's `health_check`, Kong's `healthchecks.active` and HAProxy's
 * `check` do it: every `interval` (the first after a random part of it, so that gateways started together do not
 * check in step) each host gets `GET path`; an answer of 2xx or 3xx within `timeout` is a success, anything else
 * (another status, a refused or broken connection, a timeout) a failure. `unhealthyThreshold` failures in a row take
 * a host out of the rotation, `healthyThreshold` successes in a row bring it back; hosts start healthy. The check
 * goes over the host's own pool (the same TLS, mTLS identity and trust as the traffic).
 *
 * @example
 * const checker = new HealthChecker('orders', hosts, config.healthCheck, { logger, metrics, onChange });
 * checker.start();
 */
export class HealthChecker {
  /** Whether each host is in the rotation as far as the checks go. */
  readonly healthy: boolean[];
  private readonly streaks: number[];
  private timer: NodeJS.Timeout | undefined;
  private first: NodeJS.Timeout | undefined;
  private running = false;
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
  }

  /** Starts checking: the first round after a random part of `interval`, then every `interval`. */
  start(): void {
    const delay = Math.floor((this.deps.random ?? Math.random)() * this.config.interval);
    this.first = setTimeout(() => {
      void this.round();
      this.timer = setInterval(() => void this.round(), this.config.interval);
      this.timer.unref();
    }, delay);
    this.first.unref();
  }

  /** Stops checking (the upstream was retired or closed). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.first);
    clearInterval(this.timer);
  }

  /** Checks every host once (a round still under way is not started again). */
  async round(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      await Promise.all(this.hosts.map((_, i) => this.check(i)));
    } finally {
      this.running = false;
    }
  }

  private async check(i: number): Promise<void> {
    const host = this.hosts[i] as CheckedHost;
    let ok = false;
    let why: string;
    try {
      const answer = await host.dispatcher.request({
        method: 'GET',
        path: this.config.path,
        headers: { 'user-agent': 'gatehouse-health-check' },
        headersTimeout: this.config.timeout,
        bodyTimeout: this.config.timeout,
      });
      await answer.body.dump({ limit: 65536 });
      ok = answer.statusCode >= 200 && answer.statusCode < 400;
      why = `status ${answer.statusCode}`;
    } catch (err) {
      why = (err as { code?: string }).code ?? (err as Error).message;
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
