/** The numbers behind the two request metrics, for one key (a route, or a listener's route). */
interface RouteEntry {
  /** Requests by status code. */
  statuses: Map<number, number>;
  /** Observations per bucket (not cumulative); the last slot is above the largest bound. */
  buckets: Float64Array;
  sum: number;
  count: number;
}

/** Prometheus text-format label value escaping (backslash, double quote, line feed). */
export function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * One counter or gauge family in the Prometheus text exposition: its HELP and TYPE lines, then a sample per
 * `[labels, value]` (`labels` as written between the braces' outer edges, e.g. `{route="a"}`, or '' for none).
 *
 * @example
 * metricFamily('gatehouse_ca_expiry_warnings', 'gauge', 'CA certificates near expiry.', [['', 0]]);
 */
export function metricFamily(
  name: string,
  type: 'counter' | 'gauge',
  help: string,
  samples: ReadonlyArray<readonly [string, number]>,
): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples.map(([labels, v]) => `${name}${labels} ${v}`)];
}

/** A bound as Prometheus writes `le`: `+Inf` for infinity, else the plain number. */
function le(bound: number): string {
  return bound === Number.POSITIVE_INFINITY ? '+Inf' : String(bound);
}

/** Prometheus text-format labels of a key: by default the key is a route, `route="<key>"`. */
export type KeyLabels = (key: string) => string;

const routeLabel: KeyLabels = (route) => `route="${labelValue(route)}"`;

/**
 * Two per-request metrics, a counter `<requests>{<key labels>,status}` and a histogram `<duration>{<key labels>}`
 * (the gateway's `gatehouse_gateway_requests_total{route,status}`, the platform listeners'
 * `gatehouse_http_requests_total{listener,method,route,status}`), counted in plain numbers on the request path and
 * written in the Prometheus text format only when scraped. prom-client's labelled children hash and validate their
 * labels on every `inc`/`observe` (about 2.5 µs of a proxied request's ~70 µs here); these cost a map lookup and a
 * few additions. `labels` turns a key into its labels, once per key and scrape.
 *
 * @example
 * const stats = new RequestStats(REQUESTS, DURATION, [0.001, 0.01, 0.1, 1]);
 * stats.record('demo', 200, 0.0042);
 * const text = stats.text(); // appended to the registry's exposition
 */
export class RequestStats {
  private readonly routes = new Map<string, RouteEntry>();

  constructor(
    private readonly requests: { name: string; help: string },
    private readonly duration: { name: string; help: string },
    private readonly bounds: readonly number[],
    private readonly labels: KeyLabels = routeLabel,
  ) {}

  /** Counts one answered request of `key` (a route) with `status`, which took `seconds`. */
  record(key: string, status: number, seconds: number): void {
    let entry = this.routes.get(key);
    if (entry === undefined) {
      entry = { statuses: new Map(), buckets: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      this.routes.set(key, entry);
    }
    entry.statuses.set(status, (entry.statuses.get(status) ?? 0) + 1);
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > (bounds[i] as number)) i += 1;
    entry.buckets[i] = (entry.buckets[i] as number) + 1;
    entry.sum += seconds;
    entry.count += 1;
  }

  /** Both metric families in the Prometheus text exposition format (0.0.4). */
  text(): string {
    const r = this.requests;
    const d = this.duration;
    const lines = [`# HELP ${r.name} ${r.help}`, `# TYPE ${r.name} counter`];
    const labelsOf = new Map([...this.routes.keys()].map((key) => [key, this.labels(key)]));
    for (const [key, entry] of this.routes) {
      const labels = labelsOf.get(key) as string;
      for (const [status, n] of entry.statuses) lines.push(`${r.name}{${labels},status="${status}"} ${n}`);
    }
    lines.push(`# HELP ${d.name} ${d.help}`, `# TYPE ${d.name} histogram`);
    const bounds = [...this.bounds, Number.POSITIVE_INFINITY];
    for (const [key, entry] of this.routes) {
      const labels = labelsOf.get(key) as string;
      let cumulative = 0;
      bounds.forEach((bound, i) => {
        cumulative += entry.buckets[i] as number;
        lines.push(`${d.name}_bucket{le="${le(bound)}",${labels}} ${cumulative}`);
      });
      lines.push(`${d.name}_sum{${labels}} ${entry.sum}`, `${d.name}_count{${labels}} ${entry.count}`);
    }
    return lines.join('\n') + '\n';
  }
}
