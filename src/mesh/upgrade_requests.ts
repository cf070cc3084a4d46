import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendProblem, wantsUpgrade } from './http_forwarding.js';
import { declaresBody, offersWebSocket } from './websocket_handshake.js';

/**
 * What a sidecar does with a request of the server's `upgrade` event (`Connection: upgrade`), the same on both sides:
 * `plain` for an offer of `h2c` alone (served over HTTP/1.1, as HTTP lets a server ignore it), `handshake` for a
 * WebSocket handshake (a GET without a body) while `websocket` is on, or undefined after answering: 400
 * ERR_HTTP_BAD_REQUEST for a body (the bytes after the header section belong to the new protocol) or another method,
 * 501 ERR_MESH_UPGRADE_UNSUPPORTED for any other protocol or with `websocket` off.
 *
 * @example
 * const kind = sortUpgrade(req, res, tunnels.settings.websocket);
 * if (kind === 'handshake') void handshake(req, res);
 */
export function sortUpgrade(
  req: IncomingMessage,
  res: ServerResponse,
  websocket: boolean,
): 'plain' | 'handshake' | undefined {
  if (declaresBody(req)) {
    sendProblem(res, 'ERR_HTTP_BAD_REQUEST', {
      detail: 'a request offering a protocol upgrade cannot carry a body (RFC 6455 section 4.1)',
    });
    return undefined;
  }
  if (!wantsUpgrade(req)) return 'plain';
  if (!offersWebSocket(req) || !websocket) {
    sendProblem(res, 'ERR_MESH_UPGRADE_UNSUPPORTED');
    return undefined;
  }
  if (req.method !== 'GET') {
    sendProblem(res, 'ERR_HTTP_BAD_REQUEST', { detail: 'a WebSocket handshake is a GET (RFC 6455 section 4.1)' });
    return undefined;
  }
  return 'handshake';
}
