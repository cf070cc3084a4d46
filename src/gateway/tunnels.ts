import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { GatehouseError } from '../core/index.js';
import type { GatewayMetrics } from './gateway_metrics.js';
import { Tunnel, type TunnelCloseReason } from './tunnel.js';

/**
 * The gateway's open WebSocket tunnels, counted per upstream name (so the cap holds across hot reloads, which keep
 * open tunnels). A handshake reserves a place before it reaches the upstream ({@link reserve}: 503
 * ERR_GATEWAY_TUNNELS_FULL past `tunnels.max` open or being opened), then opens a tunnel or gives the place back.
 * Shutdown closes every tunnel and any handshake that completes after it.
 *
 * @example
 * tunnels.reserve('chat', 1024);
 * const tunnel = tunnels.open('chat', req.socket, upstreamSocket, 60_000); // or tunnels.release('chat')
 * tunnels.closeAll();
 */
export class Tunnels {
  private readonly live = new Set<Tunnel>();
  private readonly counts = new Map<string, number>();
  private closing = false;

  constructor(private readonly metrics: GatewayMetrics) {}

  /** Open tunnels. */
  get size(): number {
    return this.live.size;
  }

  /** Takes a place for a handshake to `upstream`, or throws ERR_GATEWAY_TUNNELS_FULL (503) at `max`. */
  reserve(upstream: string, max: number): void {
    const count = this.counts.get(upstream) ?? 0;
    if (count >= max) {
      this.metrics.tunnels.labels(upstream, 'full').inc();
      throw new GatehouseError('ERR_GATEWAY_TUNNELS_FULL', { detail: `upstream ${upstream}: ${count} tunnels` });
    }
    this.counts.set(upstream, count + 1);
  }

  /** Gives back the place of a handshake that opened no tunnel. */
  release(upstream: string): void {
    const count = (this.counts.get(upstream) ?? 1) - 1;
    if (count <= 0) this.counts.delete(upstream);
    else this.counts.set(upstream, count);
  }

  /**
   * Opens the tunnel of a reserved handshake; after {@link closeAll} both connections are closed instead (undefined).
   * The place is given back when the tunnel closes.
   */
  open(upstream: string, client: Socket, upstreamSocket: Duplex, idleMs: number): Tunnel | undefined {
    if (this.closing) {
      this.release(upstream);
      client.destroy();
      upstreamSocket.destroy();
      return undefined;
    }
    const gauge = this.metrics.tunnelsOpen.labels(upstream);
    gauge.inc();
    const tunnel: Tunnel = new Tunnel(client, upstreamSocket, idleMs, (reason: TunnelCloseReason) => {
      this.live.delete(tunnel);
      this.release(upstream);
      gauge.dec();
      this.metrics.tunnelsClosed.labels(upstream, reason).inc();
    });
    this.live.add(tunnel);
    return tunnel;
  }

  /** Closes every tunnel (shutdown); tunnels whose handshake completes later are closed at once. */
  closeAll(): void {
    this.closing = true;
    for (const tunnel of this.live) tunnel.close('shutdown');
  }
}
