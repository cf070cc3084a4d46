import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { isGatehouseError, Tunnels, type Logger, type Tunnel, type TunnelCloseReason } from '../core/index.js';
import { responseHeaders, sendProblem } from './http_forwarding.js';
import type { PeerIdentity, PeerVerdict } from './peer_check.js';
import { switchingProtocolsHead } from './websocket_handshake.js';

/** How often the callers of open inbound tunnels are checked again (expiry, deny list). */
const PEER_RECHECK_MS = 1_000;

/** WebSocket through the sidecar (config `sidecar.websocket`, `sidecar.tunnels`). */
export interface TunnelSettings {
  /** Carry WebSocket handshakes (false: 501 ERR_MESH_UPGRADE_UNSUPPORTED, as before they were carried). */
  websocket: boolean;
  /** Tunnels open, or being opened, at once on each side (inbound, outbound); past it 503 ERR_MESH_TUNNELS_FULL. */
  max: number;
  /** No byte in either direction for this long closes a tunnel (nginx's proxy_read_timeout). */
  idleTimeoutMs: number;
}

/** On, as in Istio and Envoy sidecars; 1024 tunnels a side and 60 s idle, as the gateway's upstreams. */
export const DEFAULT_TUNNEL_SETTINGS: TunnelSettings = { websocket: true, max: 1024, idleTimeoutMs: 60_000 };

/** Which listener a tunnel came in on: peers to the app (inbound) or the app to a peer (outbound). */
export type TunnelSide = 'inbound' | 'outbound';

/** Counters of one side's WebSocket handshakes and tunnels (exported as metrics). */
export interface TunnelStats {
  /** Handshakes the next hop switched (101): tunnels opened. */
  upgraded: number;
  /** Handshakes the next hop answered otherwise (relayed as an ordinary response). */
  refused: number;
  /** Handshakes that failed or timed out at the next hop (502/504). */
  failed: number;
  /** Handshakes refused at `max` (503). */
  full: number;
  /** Tunnels open now. */
  open: number;
  /** Tunnels closed, by reason. */
  closed: Record<TunnelCloseReason, number>;
}

function emptyStats(): TunnelStats {
  return {
    upgraded: 0,
    refused: 0,
    failed: 0,
    full: 0,
    open: 0,
    closed: { client: 0, upstream: 0, idle: 0, shutdown: 0, peer_refused: 0 },
  };
}

/**
 * A sidecar's WebSocket tunnels, both sides: the shared registry (src/core/tunnels.ts, the gateway's too) counted per
 * side, its settings (replaced on reload; an open tunnel keeps the idle timeout it opened with), and the switch from a
 * handshake to a tunnel once the next hop answered 101.
 *
 * @example
 * if (!tunnels.reserve('outbound', res, logger)) return; // answered 503 ERR_MESH_TUNNELS_FULL
 * tunnels.switchTo('outbound', req, res, outcome); // or tunnels.release('outbound')
 */
export class SidecarTunnels {
  readonly stats: Record<TunnelSide, TunnelStats> = { inbound: emptyStats(), outbound: emptyStats() };
  private readonly registry: Tunnels;
  /** The verified caller of each open inbound tunnel, checked again every second (see {@link watchPeers}). */
  private readonly callers = new Map<Tunnel, PeerIdentity>();
  private watch: NodeJS.Timeout | undefined;

  constructor(public settings: TunnelSettings = DEFAULT_TUNNEL_SETTINGS) {
    const stats = (side: string) => this.stats[side as TunnelSide];
    this.registry = new Tunnels({
      fullCode: 'ERR_MESH_TUNNELS_FULL',
      observer: {
        full: (side) => stats(side).full++,
        opened: (side) => {
          stats(side).upgraded++;
          stats(side).open++;
        },
        closed: (side, reason) => {
          stats(side).open--;
          stats(side).closed[reason]++;
        },
      },
    });
  }

  /** Takes a place for a handshake on `side`; false after answering 503 ERR_MESH_TUNNELS_FULL (logged) at `max`. */
  reserve(side: TunnelSide, res: ServerResponse, logger: Logger): boolean {
    try {
      this.registry.reserve(side, this.settings.max);
      return true;
    } catch (err) {
      if (!isGatehouseError(err, 'ERR_MESH_TUNNELS_FULL')) throw err;
      logger.warn({ side, max: this.settings.max }, 'WebSocket handshake refused: tunnel cap reached');
      sendProblem(res, 'ERR_MESH_TUNNELS_FULL', { detail: `at most ${this.settings.max} tunnels on the ${side} side` });
      return false;
    }
  }

  /** Gives back the place of a handshake that opened no tunnel. */
  release(side: TunnelSide): void {
    this.registry.release(side);
  }

  /**
   * After the next hop's 101: relays it to the caller (its fields minus hop-by-hop ones, `Connection: Upgrade`,
   * `Upgrade: websocket`) on the socket of `req`, then pipes both connections. A caller already gone gets nothing and
   * the place is given back.
   */
  switchTo(
    side: TunnelSide,
    req: IncomingMessage,
    res: ServerResponse,
    upgraded: { headers: Record<string, string | string[] | undefined>; socket: Duplex },
    caller?: PeerIdentity,
  ): void {
    const client = req.socket;
    if (client.destroyed) {
      this.registry.release(side);
      upgraded.socket.destroy();
      return;
    }
    res.detachSocket(client);
    res.statusCode = 101;
    client.write(switchingProtocolsHead(switchedFields(upgraded.headers)));
    const tunnel = this.registry.open(side, client, upgraded.socket, this.settings.idleTimeoutMs);
    if (tunnel === undefined || caller === undefined) return;
    this.callers.set(tunnel, caller);
    client.once('close', () => this.callers.delete(tunnel));
  }

  /**
   * Checks the caller of every open inbound tunnel again every `intervalMs` (1 s) with `recheck` (the peer checker's:
   * validity now, the deny list) and closes the tunnels of callers it refuses (`peer_refused`, logged): a tunnel is one
   * connection with no request after the handshake, so without this a revoked or expired caller would keep its tunnel
   * for as long as it keeps it busy. Stopped by {@link closeAll}.
   */
  watchPeers(recheck: (peer: PeerIdentity) => PeerVerdict, logger: Logger, intervalMs = PEER_RECHECK_MS): void {
    clearInterval(this.watch);
    this.watch = setInterval(() => {
      for (const [tunnel, caller] of this.callers) {
        const verdict = recheck(caller);
        if (verdict.ok) continue;
        this.callers.delete(tunnel);
        logger.warn(
          { reason: verdict.reason, spiffeId: caller.spiffeId },
          'WebSocket tunnel closed: its caller is no longer admitted',
        );
        tunnel.close('peer_refused');
      }
    }, intervalMs);
    this.watch.unref();
  }

  /** Closes every tunnel, and any whose handshake completes later (shutdown); stops {@link watchPeers}. */
  closeAll(): void {
    clearInterval(this.watch);
    this.watch = undefined;
    this.registry.closeAll();
  }
}

/** The next hop's 101 fields to relay: hop-by-hop ones and those its `Connection` names dropped. */
function switchedFields(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase());
  const out = responseHeaders(headers);
  for (const name of named) delete out[name];
  return out;
}
