import type { Clock } from '../core/index.js';

/** One host's outlier state. */
export interface HostHealth {
  failures: number;
  ejections: number;
  ejectedUntil: number;
}

/** Outlier ejection settings (config `gateway.upstreams[].outlier`). */
export interface OutlierOptions {
  consecutiveFailures: number;
  baseEjection: number;
  maxEjection: number;
  maxEjectionPercent: number;
}

/**
 * Outlier ejection across an upstream's hosts (Envoy-style): a host with `consecutiveFailures` failures in a row
 * (5xx, connect error, timeout) leaves the rotation for `baseEjection × its ejection count` (at most `maxEjection`),
 * then returns. The count decays by one for every `baseEjection` a host spends back in the rotation without being
 * ejected, so a host that failed often last week starts again from a short ejection. At most `maxEjectionPercent` of
 * the hosts are out at once (at least one may be, never all), so traffic always has a host.
 *
 * @example
 * const detector = new OutlierDetector(3, options, clock);
 * const i = detector.pick(); detector.report(i, response.statusCode < 500);
 */
export class OutlierDetector {
  readonly hosts: HostHealth[];
  private next = 0;
  /** Hosts the active health checks took out of the rotation (undefined: no checks). */
  private down: boolean[] | undefined;

  constructor(
    count: number,
    private readonly options: OutlierOptions,
    private readonly clock: Clock,
    private readonly onEject: (host: number) => void = () => {},
  ) {
    this.hosts = Array.from({ length: count }, () => ({ failures: 0, ejections: 0, ejectedUntil: 0 }));
  }

  /**
   * Round-robin over the hosts neither ejected nor down now; when every host is, round-robin over all of them (as
   * Envoy's panic threshold: traffic to possibly sick hosts beats refusing all of it).
   */
  pick(): number {
    const n = this.hosts.length;
    if (n === 1) return 0;
    const now = this.clock.now();
    const down = this.down;
    for (let tries = 0; tries < n; tries += 1) {
      const i = this.next;
      this.next = (this.next + 1) % n;
      if ((this.hosts[i] as HostHealth).ejectedUntil <= now && (down === undefined || !down[i])) return i;
    }
    const i = this.next;
    this.next = (this.next + 1) % n;
    return i;
  }

  /** Takes host `i` out of the rotation (`down`) or puts it back, as its active health checks say. */
  setDown(i: number, down: boolean): void {
    this.down ??= this.hosts.map(() => false);
    this.down[i] = down;
  }

  /** Reports one outcome of host `i`. */
  report(i: number, success: boolean): void {
    const h = this.hosts[i];
    if (!h) return;
    if (success) {
      h.failures = 0;
      return;
    }
    h.failures += 1;
    if (h.failures < this.options.consecutiveFailures) return;
    const now = this.clock.now();
    if (h.ejectedUntil > now || !this.mayEject(now)) return;
    const { baseEjection, maxEjection } = this.options;
    const healthyPeriods = h.ejections > 0 ? Math.floor((now - h.ejectedUntil) / baseEjection) : 0;
    h.ejections = Math.max(0, h.ejections - healthyPeriods) + 1;
    h.failures = 0;
    h.ejectedUntil = now + Math.min(baseEjection * h.ejections, Math.max(maxEjection, baseEjection));
    this.onEject(i);
  }

  /** True when host `i` is out of the rotation now. */
  isEjected(i: number): boolean {
    return (this.hosts[i]?.ejectedUntil ?? 0) > this.clock.now();
  }

  private mayEject(now: number): boolean {
    const n = this.hosts.length;
    // A host the health checks took out counts as out: ejecting the last one left would send traffic to all of them.
    const down = this.down;
    const out = this.hosts.filter((h, i) => h.ejectedUntil > now || down?.[i] === true).length;
    const allowed = Math.min(
      n - 1,
      Math.max(this.options.maxEjectionPercent > 0 ? 1 : 0, Math.floor((n * this.options.maxEjectionPercent) / 100)),
    );
    return out < allowed;
  }
}
