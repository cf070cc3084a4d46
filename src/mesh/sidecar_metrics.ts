import { labelValue, metricFamily } from '../core/index.js';
import type { BreakerState } from '../ratelimit/index.js';
import type { ConnectorStats } from './connector.js';
import type { InboundStats } from './inbound.js';
import type { ListenerStats } from './mtls_listener.js';
import type { OutboundRequestStats } from './outbound.js';
import type { SidecarDurations } from './sidecar_durations.js';
import type { TunnelSide, TunnelStats } from './sidecar_tunnels.js';

/** What `Sidecar.stats()` reports. */
export interface SidecarStats {
  inbound: ListenerStats;
  requests: InboundStats;
  outbound: ConnectorStats | undefined;
  /** Outbound request outcomes; undefined without an outbound listener. */
  outboundRequests: OutboundRequestStats | undefined;
  breakers: Array<{ upstream: string; state: BreakerState }>;
  /** WebSocket handshakes and tunnels of each side. */
  tunnels: Record<TunnelSide, TunnelStats>;
}

/** What the exposition needs besides the counters: the SVID held now and the bundle's sequence. */
export interface SidecarMetricsInput {
  stats: SidecarStats;
  /** Seconds until the current SVID expires; undefined when the sidecar holds none (expired, not yet bootstrapped). */
  svidExpirySeconds: number | undefined;
  bundleSequence: number | undefined;
  /** The request duration histograms of both sides. */
  durations?: SidecarDurations;
}

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/**
 * A sidecar's Prometheus series (text exposition), in the spirit of Envoy's listener and cluster stats: inbound
 * connections by outcome, inbound requests by outcome, outbound connections and requests by outcome, request
 * durations by side and upstream, WebSocket
 * tunnels by side (as the gateway's `tunnels_*`), each upstream's breaker, and the SVID's
 * time to expiry (absent while it holds none: alert on its absence too).
 *
 * @example
 * const text = sidecarMetricsText({ stats: sidecar.stats(), svidExpirySeconds, bundleSequence });
 */
export function sidecarMetricsText(input: SidecarMetricsInput): string {
  const { inbound, requests, outbound, outboundRequests, breakers } = input.stats;
  const lines = [
    ...metricFamily('gatehouse_sidecar_inbound_connections_total', 'counter', 'Inbound mTLS connections by outcome.', [
      ['{outcome="admitted"}', inbound.admitted],
      ['{outcome="refused"}', inbound.refused],
      ['{outcome="plaintext"}', inbound.plaintext],
    ]),
    ...metricFamily(
      'gatehouse_sidecar_inbound_resumed_total',
      'counter',
      'Admitted inbound connections that resumed a TLS session.',
      [['', inbound.resumed]],
    ),
    ...metricFamily('gatehouse_sidecar_inbound_requests_total', 'counter', 'Inbound requests by outcome.', [
      ['{outcome="forwarded"}', requests.forwarded],
      ['{outcome="rate_limited"}', requests.limited],
      ['{outcome="bad_request"}', requests.badRequest],
      ['{outcome="denied"}', requests.denied],
      ['{outcome="token_refused"}', requests.tokenRefused],
      ['{outcome="app_failed"}', requests.appFailed],
      ['{outcome="app_timeout"}', requests.appTimedOut],
    ]),
  ];
  if (outbound) {
    lines.push(
      ...metricFamily(
        'gatehouse_sidecar_outbound_connections_total',
        'counter',
        'Outbound mTLS connections by outcome.',
        [
          ['{outcome="connected"}', outbound.connected],
          ['{outcome="refused"}', outbound.refused],
        ],
      ),
      ...metricFamily(
        'gatehouse_sidecar_outbound_resumed_total',
        'counter',
        'Outbound connections that resumed a TLS session.',
        [['', outbound.resumed]],
      ),
    );
  }
  if (outboundRequests) {
    lines.push(
      ...metricFamily('gatehouse_sidecar_outbound_requests_total', 'counter', 'Outbound requests by outcome.', [
        ['{outcome="forwarded"}', outboundRequests.forwarded],
        ['{outcome="unknown_service"}', outboundRequests.unknownService],
        ['{outcome="no_identity"}', outboundRequests.noIdentity],
        ['{outcome="circuit_open"}', outboundRequests.circuitOpen],
        ['{outcome="upstream_failed"}', outboundRequests.failed],
        ['{outcome="upstream_timeout"}', outboundRequests.timedOut],
      ]),
      ...metricFamily(
        'gatehouse_sidecar_outbound_retries_total',
        'counter',
        'Outbound attempts sent again, by why the one before failed.',
        [
          ['{reason="connect-failure"}', outboundRequests.retries['connect-failure']],
          ['{reason="refused-stream"}', outboundRequests.retries['refused-stream']],
          ['{reason="reset"}', outboundRequests.retries.reset],
          ['{reason="status"}', outboundRequests.retries.status],
        ],
      ),
      ...metricFamily(
        'gatehouse_sidecar_outbound_retry_overflow_total',
        'counter',
        'Failed outbound attempts not retried because the retry budget of the upstream was spent.',
        [['', outboundRequests.retryOverflow]],
      ),
    );
  }
  if (input.durations) lines.push(...input.durations.lines());
  lines.push(...tunnelFamilies(input.stats.tunnels));
  if (breakers.length > 0) {
    lines.push(
      ...metricFamily(
        'gatehouse_sidecar_breaker_state',
        'gauge',
        'Circuit breaker of each upstream: 0 closed, 1 half-open, 2 open.',
        breakers.map((b) => [`{upstream="${labelValue(b.upstream)}"}`, BREAKER_VALUE[b.state]]),
      ),
    );
  }
  if (input.svidExpirySeconds !== undefined) {
    lines.push(
      ...metricFamily('gatehouse_sidecar_svid_expiry_seconds', 'gauge', 'Seconds until the current SVID expires.', [
        ['', input.svidExpirySeconds],
      ]),
    );
  }
  if (input.bundleSequence !== undefined) {
    lines.push(
      ...metricFamily('gatehouse_sidecar_bundle_sequence', 'gauge', 'Sequence of the trust bundle in use.', [
        ['', input.bundleSequence],
      ]),
    );
  }
  return lines.join('\n') + '\n';
}

/** `tunnels_open{side}`, `tunnels_total{side,outcome}` and `tunnels_closed_total{side,reason}`. */
function tunnelFamilies(tunnels: Record<TunnelSide, TunnelStats>): string[] {
  const sides = Object.entries(tunnels) as Array<[TunnelSide, TunnelStats]>;
  return [
    ...metricFamily(
      'gatehouse_sidecar_tunnels_open',
      'gauge',
      'WebSocket tunnels open, by side.',
      sides.map(([side, t]) => [`{side="${side}"}`, t.open]),
    ),
    ...metricFamily(
      'gatehouse_sidecar_tunnels_total',
      'counter',
      'WebSocket handshakes that reached the tunnel cap or the next hop, by side and outcome (upgraded, refused = answered without 101, failed = 502/504, full = over tunnels.max).',
      sides.flatMap(([side, t]) =>
        (['upgraded', 'refused', 'failed', 'full'] as const).map((outcome): [string, number] => [
          `{side="${side}",outcome="${outcome}"}`,
          t[outcome],
        ]),
      ),
    ),
    ...metricFamily(
      'gatehouse_sidecar_tunnels_closed_total',
      'counter',
      'WebSocket tunnels closed, by side and reason (client, upstream: the side that closed first, idle, shutdown, peer_refused: the caller expired or was revoked).',
      sides.flatMap(([side, t]) =>
        Object.entries(t.closed).map(([reason, n]): [string, number] => [`{side="${side}",reason="${reason}"}`, n]),
      ),
    ),
  ];
}
