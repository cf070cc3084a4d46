import { describe, expect, it } from 'vitest';
import { sidecarMetricsText, type SidecarStats, type TunnelStats } from '../../src/mesh/index.js';

const tunnelStats = (): TunnelStats => ({
  upgraded: 0,
  refused: 0,
  failed: 0,
  full: 0,
  open: 0,
  closed: { client: 0, upstream: 0, idle: 0, shutdown: 0, peer_refused: 0 },
});

const stats = (overrides: Partial<SidecarStats> = {}): SidecarStats => ({
  inbound: { admitted: 5, resumed: 3, refused: 2, plaintext: 0 },
  requests: { forwarded: 7, limited: 1, badRequest: 4, denied: 2, tokenRefused: 0, appFailed: 1, appTimedOut: 6 },
  outbound: undefined,
  outboundRequests: undefined,
  breakers: [],
  tunnels: { inbound: tunnelStats(), outbound: tunnelStats() },
  ...overrides,
});

const samples = (text: string) => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

const tunnelSamples = [
  'gatehouse_sidecar_tunnels_open{side="inbound"} 0',
  'gatehouse_sidecar_tunnels_open{side="outbound"} 0',
  ...['inbound', 'outbound'].flatMap((side) =>
    ['upgraded', 'refused', 'failed', 'full'].map(
      (outcome) => `gatehouse_sidecar_tunnels_total{side="${side}",outcome="${outcome}"} 0`,
    ),
  ),
  ...['inbound', 'outbound'].flatMap((side) =>
    ['client', 'upstream', 'idle', 'shutdown', 'peer_refused'].map(
      (reason) => `gatehouse_sidecar_tunnels_closed_total{side="${side}",reason="${reason}"} 0`,
    ),
  ),
];

describe('the sidecar metrics', () => {
  it('exposes connections and requests by outcome, the SVID expiry and the bundle sequence', () => {
    const text = sidecarMetricsText({ stats: stats(), svidExpirySeconds: 86_000, bundleSequence: 3 });
    expect(samples(text)).toEqual([
      'gatehouse_sidecar_inbound_connections_total{outcome="admitted"} 5',
      'gatehouse_sidecar_inbound_connections_total{outcome="refused"} 2',
      'gatehouse_sidecar_inbound_connections_total{outcome="plaintext"} 0',
      'gatehouse_sidecar_inbound_resumed_total 3',
      'gatehouse_sidecar_inbound_requests_total{outcome="forwarded"} 7',
      'gatehouse_sidecar_inbound_requests_total{outcome="rate_limited"} 1',
      'gatehouse_sidecar_inbound_requests_total{outcome="bad_request"} 4',
      'gatehouse_sidecar_inbound_requests_total{outcome="denied"} 2',
      'gatehouse_sidecar_inbound_requests_total{outcome="token_refused"} 0',
      'gatehouse_sidecar_inbound_requests_total{outcome="app_failed"} 1',
      'gatehouse_sidecar_inbound_requests_total{outcome="app_timeout"} 6',
      ...tunnelSamples,
      'gatehouse_sidecar_svid_expiry_seconds 86000',
      'gatehouse_sidecar_bundle_sequence 3',
    ]);
    expect(text).toContain('# TYPE gatehouse_sidecar_inbound_requests_total counter\n');
    expect(text).toContain('# TYPE gatehouse_sidecar_svid_expiry_seconds gauge\n');
  });

  it('adds outbound connections, requests and breaker states, and leaves out an SVID it does not hold', () => {
    const text = sidecarMetricsText({
      stats: stats({
        outbound: { connected: 4, resumed: 2, refused: 1 },
        outboundRequests: {
          forwarded: 9,
          unknownService: 1,
          noIdentity: 0,
          circuitOpen: 3,
          failed: 2,
          timedOut: 5,
          retries: { 'connect-failure': 4, 'refused-stream': 6, reset: 1, status: 0 },
          retryOverflow: 2,
        },
        breakers: [
          { upstream: 'payments', state: 'open' },
          { upstream: 'we"ird\\name', state: 'half-open' },
          { upstream: 'orders', state: 'closed' },
        ],
      }),
      svidExpirySeconds: undefined,
      bundleSequence: undefined,
    });
    const lines = samples(text);
    expect(lines).toContain('gatehouse_sidecar_outbound_connections_total{outcome="connected"} 4');
    expect(lines).toContain('gatehouse_sidecar_outbound_connections_total{outcome="refused"} 1');
    expect(lines).toContain('gatehouse_sidecar_outbound_resumed_total 2');
    expect(lines).toEqual(
      expect.arrayContaining([
        'gatehouse_sidecar_outbound_requests_total{outcome="forwarded"} 9',
        'gatehouse_sidecar_outbound_requests_total{outcome="unknown_service"} 1',
        'gatehouse_sidecar_outbound_requests_total{outcome="no_identity"} 0',
        'gatehouse_sidecar_outbound_requests_total{outcome="circuit_open"} 3',
        'gatehouse_sidecar_outbound_requests_total{outcome="upstream_failed"} 2',
        'gatehouse_sidecar_outbound_requests_total{outcome="upstream_timeout"} 5',
        'gatehouse_sidecar_outbound_retries_total{reason="connect-failure"} 4',
        'gatehouse_sidecar_outbound_retries_total{reason="refused-stream"} 6',
        'gatehouse_sidecar_outbound_retries_total{reason="reset"} 1',
        'gatehouse_sidecar_outbound_retry_overflow_total 2',
      ]),
    );
    expect(lines).toContain('gatehouse_sidecar_breaker_state{upstream="payments"} 2');
    expect(lines).toContain('gatehouse_sidecar_breaker_state{upstream="we\\"ird\\\\name"} 1');
    expect(lines).toContain('gatehouse_sidecar_breaker_state{upstream="orders"} 0');
    expect(text).not.toContain('svid_expiry');
    expect(text).not.toContain('bundle_sequence');
  });
});
