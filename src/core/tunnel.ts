import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Why a tunnel closed: the side that ended, closed or failed first, no traffic for the idle timeout, shutdown, or (the
 * sidecar's inbound tunnels) a caller whose certificate expired or whose identity was revoked while it was open.
 */
export type TunnelCloseReason = 'client' | 'upstream' | 'idle' | 'shutdown' | 'peer_refused';

/** Calls `then` once the stream has closed (in a microtask when it already has). */
function whenClosed(stream: Duplex, then: () => void): void {
  if (stream.closed) queueMicrotask(then);
  else stream.once('close', then);
}

/**
 * One WebSocket tunnel after the upstream's 101: the client's connection and the upstream's piped both ways with
 * backpressure (a side that does not read pauses the other). An end (a clean close) is passed on as an end; a side
 * that closes or fails destroys the other; no byte in either direction for `idleMs` closes both (the client socket's
 * timer sees both directions: it reads what goes up and writes what comes down). `onClose` runs once, when both
 * sockets have closed, with the reason of the first event.
 *
 * @example
 * new Tunnel(req.socket, upstreamSocket, 60_000, (reason) => metrics.tunnelsClosed.labels('chat', reason).inc());
 */
export class Tunnel {
  private reason: TunnelCloseReason | undefined;

  constructor(
    readonly client: Socket,
    readonly upstream: Duplex,
    idleMs: number,
    onClose: (reason: TunnelCloseReason) => void,
  ) {
    const first = (reason: TunnelCloseReason) => () => {
      this.reason ??= reason;
    };
    const fail = (reason: TunnelCloseReason, side: Duplex, other: Duplex) => () => {
      this.reason ??= reason;
      side.destroy();
      other.destroy();
    };
    client.on('error', fail('client', client, upstream));
    upstream.on('error', fail('upstream', upstream, client));
    client.once('end', first('client'));
    upstream.once('end', first('upstream'));
    client.setTimeout(idleMs, () => this.close('idle'));
    let open = 2;
    const closed = (reason: TunnelCloseReason, other: Duplex) => () => {
      this.reason ??= reason;
      other.destroy();
      open -= 1;
      if (open === 0) onClose(this.reason);
    };
    whenClosed(client, closed('client', upstream));
    whenClosed(upstream, closed('upstream', client));
    if (client.destroyed || upstream.destroyed) return;
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Closes both connections at once (idle timeout, shutdown, a peer refused). */
  close(reason: TunnelCloseReason): void {
    this.reason ??= reason;
    this.client.destroy();
    this.upstream.destroy();
  }
}
