import type { IncomingHttpHeaders } from 'node:http';

/**
 * The request's fields as HTTP/1.1 carries them: pseudo-header fields left out, `Host` from `:authority` when absent,
 * and a body that comes without Content-Length (`hasBody`: the HEADERS frame did not end the stream) marked
 * `Transfer-Encoding: chunked`, as HTTP/1.1 would frame it: the gateway then counts it against `http.bodyLimit` as it
 * arrives and sends it upstream chunked. Undefined when `Host` and `:authority` differ (RFC 9113 §8.3.1: malformed).
 */
export function http1Headers(h2: IncomingHttpHeaders, hasBody: boolean): IncomingHttpHeaders | undefined {
  const out: IncomingHttpHeaders = {};
  for (const name in h2) if (name.charCodeAt(0) !== 58 /* : */) out[name] = h2[name];
  if (hasBody && out['content-length'] === undefined) out['transfer-encoding'] = 'chunked';
  const authority = h2[':authority'];
  if (typeof authority === 'string') {
    if (out.host === undefined) out.host = authority;
    else if (out.host.toLowerCase() !== authority.toLowerCase()) return undefined;
  }
  return out;
}
