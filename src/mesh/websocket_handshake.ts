import {
  ServerResponse,
  validateHeaderName,
  validateHeaderValue,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import type { Socket } from 'node:net';

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
 * the upgraded connection, so such a body would travel as if it were the new protocol's: the gateway and the sidecar
 * refuse it.
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
 * no response): a refused handshake is answered through it as usual (problem+json), and the connection, no longer
 * read as HTTP, closes after that answer (`Connection: close`).
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
 * The head of the 101 sent to the client once the next hop has switched: `Connection: Upgrade`, `Upgrade: websocket`
 * and `fields` (the caller has already dropped hop-by-hop ones: its `Sec-WebSocket-Accept`, `Sec-WebSocket-Protocol`,
 * `Sec-WebSocket-Extensions`, cookies, ... stay). A field Node would refuse to send is left out.
 *
 * @example
 * socket.write(switchingProtocolsHead(responseHeaders(upstream.headers)));
 */
export function switchingProtocolsHead(fields: OutgoingHttpHeaders): string {
  let head = 'HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: websocket\r\n';
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
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
