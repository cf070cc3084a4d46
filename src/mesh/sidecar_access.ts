import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessLog, Clock } from '../core/index.js';
import type { SidecarDurations } from './sidecar_durations.js';

/** One access line of a sidecar (snake_case fields; never a credential or a query string). */
export interface SidecarAccessEntry {
  /** `inbound` (a peer to the local app) or `outbound` (the local app to a peer). */
  side: 'inbound' | 'outbound';
  method: string;
  /** The request path without its query. */
  path: string;
  /** The answer's status; 499 when the caller left before any answer. */
  status: number;
  duration_ms: number;
  /** Inbound: the caller's verified SPIFFE ID (`plaintext` for a PERMISSIVE plaintext caller). */
  peer?: string;
  /** Outbound: the upstream service the Host named. */
  upstream?: string;
  /** The caller's X-Request-Id, when it sent one (at most 128 characters). */
  request_id?: string;
  /** The caller's User-Agent, at most 256 characters. */
  user_agent?: string;
}

/** Where a side of the sidecar writes its access lines and durations, and the clock it times them with. */
export interface SidecarAccess {
  /** Undefined: `accessLog: false` (the durations are still counted). */
  log: AccessLog<SidecarAccessEntry> | undefined;
  durations: SidecarDurations;
  clock: Clock;
}

/**
 * Writes the access line of one request once, and counts its duration: when its answer is finished, its response
 * closes (answered, refused by the sidecar itself, or left by the caller: 499), or its connection closes (a WebSocket
 * tunnel at its end, with status 101; a pipelined request whose turn never came), with what `who` says of the caller
 * or the upstream. Only answers finished whole count in the duration histograms.
 *
 * @example
 * logAccess(access, 'inbound', req, res, { peer: peer?.spiffeId ?? 'plaintext' });
 */
export function logAccess(
  access: SidecarAccess | undefined,
  side: SidecarAccessEntry['side'],
  req: IncomingMessage,
  res: ServerResponse,
  who: Pick<SidecarAccessEntry, 'peer' | 'upstream'>,
): void {
  if (access === undefined) return;
  const started = access.clock.now();
  // On HTTP/2, `req.socket` is node's proxy: a listener added through it lands on the stream, and one removed through
  // it is looked for on the connection's socket. The stream's own events serve there instead (one line either way).
  const stream = (req as unknown as { stream?: { once(e: 'close', f: () => void): void } }).stream;
  const socket = stream === undefined ? req.socket : undefined;
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    res.removeListener('finish', write);
    res.removeListener('close', write);
    socket?.removeListener('close', write);
    const ms = access.clock.now() - started;
    if (res.writableFinished && res.statusCode !== 101) access.durations.observe(side, who.upstream, ms / 1000);
    const log = access.log;
    if (log === undefined) return;
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const entry: SidecarAccessEntry = {
      side,
      method: req.method ?? 'GET',
      path: query === -1 ? url : url.slice(0, query),
      // A tunnel's 101 is written on the socket, not through the response.
      status: res.headersSent || res.statusCode === 101 ? res.statusCode : 499,
      duration_ms: Math.round(ms * 100) / 100,
      ...who,
    };
    if (entry.upstream !== undefined) entry.upstream = entry.upstream.slice(0, 64);
    const id = req.headers['x-request-id'];
    if (typeof id === 'string') entry.request_id = id.slice(0, 128);
    const agent = req.headers['user-agent'];
    if (agent !== undefined) entry.user_agent = agent.slice(0, 256);
    log.write(entry);
  };
  res.once('finish', write);
  res.once('close', write);
  if (socket !== undefined) socket.once('close', write);
  else stream?.once('close', write);
}
