import { DURATION_BOUNDS as BOUNDS, HistogramCells, labelValue } from '../core/index.js';
const NAME = 'gatehouse_sidecar_request_duration_seconds';
const HELP =
  'Time from a request to the end of its answer, by side (inbound: a peer to the local app; outbound: the local app to a peer) and, outbound, upstream; requests answered whole only (not a caller gone, not a WebSocket tunnel).';

/**
 * The sidecar's request duration histograms (Istio's `istio_request_duration_milliseconds`, Envoy's `upstream_rq_time`):
 * one for the inbound side, one per outbound upstream. Outbound series exist only for the upstreams configured (a
 * Host naming none is the sidecar's own 404, not a series an app could multiply); they are kept across reloads.
 * Counted in plain cells on the request path, written at scrape.
 *
 * @example
 * durations.setUpstreams(['backend']);
 * durations.observe('outbound', 'backend', 0.012);
 */
export class SidecarDurations {
  private readonly inbound = new HistogramCells(BOUNDS);
  private readonly outbound = new Map<string, HistogramCells>();
  private known: ReadonlySet<string> = new Set();

  /** The outbound upstreams configured now (at start and at each reload). */
  setUpstreams(names: Iterable<string>): void {
    this.known = new Set(names);
  }

  /** Counts one request of `side` answered whole in `seconds` (outbound: to `upstream`, if configured). */
  observe(side: 'inbound' | 'outbound', upstream: string | undefined, seconds: number): void {
    if (side === 'inbound') {
      this.inbound.observe(seconds);
      return;
    }
    if (upstream === undefined || !this.known.has(upstream)) return;
    let cells = this.outbound.get(upstream);
    if (cells === undefined) {
      cells = new HistogramCells(BOUNDS);
      this.outbound.set(upstream, cells);
    }
    cells.observe(seconds);
  }

  /** The histogram family in the Prometheus text exposition. */
  lines(): string[] {
    const lines = [`# HELP ${NAME} ${HELP}`, `# TYPE ${NAME} histogram`, ...this.inbound.lines(NAME, 'side="inbound"')];
    for (const [upstream, cells] of this.outbound) {
      lines.push(...cells.lines(NAME, `side="outbound",upstream="${labelValue(upstream)}"`));
    }
    return lines;
  }
}
