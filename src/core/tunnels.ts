import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from './error_codes.js';
import { GatehouseError } from './errors.js';
import { Tunnel, type TunnelCloseReason } from './tunnel.js';

/** What a {@link Tunnels} registry reports (the gateway feeds its Prometheus metrics, the sidecar its counters). */
export interface TunnelObserver {
  /** A handshake found `max` places of `key` taken. */
  full(key: string): void;
  /** A tunnel of `key` opened. */
  opened(key: string): void;
  /** A tunnel of `key` closed, for `reason`. */
  closed(key: string, reason: TunnelCloseReason): void;
}

/**
 * Open tunnels (WebSocket after a 101), counted per key: the gateway counts per upstream name (so the cap holds across
 * hot reloads, which keep open tunnels), the sidecar per side. A handshake reserves a place before it reaches the next
 * hop ({@link reserve}: 503 `fullCode` past `max` open or being opened), then opens a tunnel or gives the place back.
 * Shutdown closes every tunnel and any handshake that completes after it. One registry serves the gateway and the
 * sidecar.
 *
 * @example
 * const tunnels = new Tunnels({ fullCode: 'ERR_MESH_TUNNELS_FULL', observer });
 * tunnels.reserve('outbound', 1024);
 * const tunnel = tunnels.open('outbound', req.socket, upstreamSocket, 60_000); // or tunnels.release('outbound')
 * tunnels.closeAll();
 */
export class Tunnels {
  private readonly live = new Set<Tunnel>();
  private readonly counts = new Map<string, number>();
  private closing = false;

  constructor(private readonly options: { fullCode: ErrorCode; observer: TunnelObserver }) {}

  /** Open tunnels. */
  get size(): number {
    return this.live.size;
  }

  /** Takes a place for a handshake of `key`, or throws `fullCode` (503) at `max`. */
  reserve(key: string, max: number): void {
    const count = this.counts.get(key) ?? 0;
    if (count >= max) {
      this.options.observer.full(key);
      throw new GatehouseError(this.options.fullCode, { detail: `${key}: ${count} tunnels` });
    }
    this.counts.set(key, count + 1);
  }

  /** Gives back the place of a handshake that opened no tunnel. */
  release(key: string): void {
    const count = (this.counts.get(key) ?? 1) - 1;
    if (count <= 0) this.counts.delete(key);
    else this.counts.set(key, count);
  }

  /**
   * Opens the tunnel of a reserved handshake; after {@link closeAll} both connections are closed instead (undefined).
   * The place is given back when the tunnel closes.
   */
  open(key: string, client: Socket, upstream: Duplex, idleMs: number): Tunnel | undefined {
    if (this.closing) {
      this.release(key);
      client.destroy();
      upstream.destroy();
      return undefined;
    }
    const { observer } = this.options;
    observer.opened(key);
    const tunnel: Tunnel = new Tunnel(client, upstream, idleMs, (reason: TunnelCloseReason) => {
      this.live.delete(tunnel);
      this.release(key);
      observer.closed(key, reason);
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
