import { ServerResponse, validateHeaderName, validateHeaderValue, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { clientResponseHeaders } from './forwarded_headers.js';

/**
 * True when the `Upgrade` field offers `websocket` (RFC 6455 §4.1; case ignored, among other protocols or alone).
 *
 * @example
 * offersWebSocket(req); // true for `Upgrade: websocket`
 */
export function offersWebSocket(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  if (upgrade === undefined) return false;
  return upgrade.split(',').some((p) => p.trim().toLowerCase() === 'websocket');
}

/**
 * True when the request declares a body. On an upgrade the HTTP parser hands every byte after the header section to
 * the upgraded connection, so such a body would travel as if it were the new protocol's: the gateway refuses it.
 *
 * @example
 * if (declaresBody(req)) throw new GatehouseError('ERR_HTTP_BAD_REQUEST');
 */
export function declaresBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length.trim() !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/**
 * A response on the socket of a request that arrived on the server's `upgrade` event (Node hands the socket over with
 * no response): the gateway's stages answer a refused handshake through it as usual (problem+json), and the
 * connection, no longer read as HTTP, closes after that answer (`Connection: close`).
 *
 * @example
 * server.on('upgrade', (req, socket) => gateway.handle(req, upgradeResponse(req, socket)));
 */
export function upgradeResponse(req: IncomingMessage, socket: Socket): ServerResponse {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket);
  res.once('finish', () => {
    res.detachSocket(socket);
    socket.destroySoon();
  });
  return res;
}

/**
 * The 101 sent to the client once the upstream has switched: the upstream's fields minus hop-by-hop ones (its
 * `Sec-WebSocket-Accept`, `Sec-WebSocket-Protocol`, `Sec-WebSocket-Extensions`, cookies, ...), `Connection: Upgrade`
 * and `Upgrade: websocket`, the request id and the gateway's own fields (RateLimit). A field Node would refuse to send
 * is left out.
 *
 * @example
 * socket.write(switchingProtocols(upstreamHeaders, requestId, undefined));
 */
export function switchingProtocols(
  upstream: Record<string, string | string[] | undefined>,
  requestId: string,
  extra: Readonly<Record<string, string>> | undefined,
): string {
  const fields = clientResponseHeaders(upstream, requestId);
  if (extra) Object.assign(fields, extra);
  let head = 'HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: websocket\r\n';
  for (const [name, value] of Object.entries(fields)) {
    for (const one of Array.isArray(value) ? value : [String(value)]) {
      try {
        validateHeaderName(name);
        validateHeaderValue(name, one);
      } catch {
        continue;
      }
      head += `${name}: ${one}\r\n`;
    }
  }
  return `${head}\r\n`;
}
