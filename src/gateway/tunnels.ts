import { Tunnels } from '../core/index.js';
import type { GatewayMetrics } from './gateway_metrics.js';

/**
 * The gateway's open WebSocket tunnels (the shared registry of src/core/tunnels.ts), counted per upstream name: 503
 * ERR_GATEWAY_TUNNELS_FULL past the upstream's `tunnels.max`, and the `tunnels_*` metrics by upstream.
 *
 * @example
 * const tunnels = gatewayTunnels(metrics);
 * tunnels.reserve('chat', 1024);
 */
export function gatewayTunnels(metrics: GatewayMetrics): Tunnels {
  return new Tunnels({
    fullCode: 'ERR_GATEWAY_TUNNELS_FULL',
    observer: {
      full: (upstream) => metrics.tunnels.labels(upstream, 'full').inc(),
      opened: (upstream) => metrics.tunnelsOpen.labels(upstream).inc(),
      closed: (upstream, reason) => {
        metrics.tunnelsOpen.labels(upstream).dec();
        metrics.tunnelsClosed.labels(upstream, reason).inc();
      },
    },
  });
}
