import { switchingProtocolsHead } from '../mesh/index.js';
import { clientResponseHeaders } from './forwarded_headers.js';

/**
 * The 101 sent to the client once the upstream has switched: the upstream's fields minus hop-by-hop ones (its
 * `Sec-WebSocket-Accept`, `Sec-WebSocket-Protocol`, `Sec-WebSocket-Extensions`, cookies, ...), `Connection: Upgrade`
 * and `Upgrade: websocket`, the request id and the gateway's own fields (RateLimit). A field Node would refuse to send
 * is left out (the head is the mesh's {@link switchingProtocolsHead}, shared with the sidecar).
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
  return switchingProtocolsHead(fields);
}
