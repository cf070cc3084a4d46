import type { Duplex } from 'node:stream';
import { connect, type TLSSocket } from 'node:tls';
import { errors, type buildConnector } from 'undici';
import { GatehouseError } from '../core/index.js';
import type { IdentitySource } from './identity_source.js';
import type { PeerChecker, PeerIdentity, PeerVerdict } from './peer_check.js';
import { ClientContexts } from './tls_contexts.js';

const SESSION_CACHE_LIMIT = 1024;
/** Longest wait of a connection for the full handshake under way to the same address (then it makes its own). */
const FIRST_HANDSHAKE_WAIT_MS = 250;
/** How long after a full handshake its session ticket may still come before the connections waiting go ahead. */
const TICKET_GRACE_MS = 50;

/** Counters of outbound connections. */
export interface ConnectorStats {
  connected: number;
  resumed: number;
  refused: number;
}

/**
 * An undici `connect` function that also returns the socket it opens (undefined when it opened none and has called
 * back with the error): node:http2's `createConnection` takes the socket at once, before the checks call back.
 */
export type MtlsConnect = (opts: buildConnector.Options, callback: buildConnector.Callback) => TLSSocket | undefined;

/**
 * The undici `connect` function of mTLS clients (sidecar outbound pools and the library agent): each new connection
 * takes the SecureContext of the current certificate generation (old connections drain on theirs), resumes a
 * cached session for that address, and checks the server's SVID with our own checks, on resumed sessions too (Node
 * skips `checkServerIdentity` when a session is resumed). While no session of the current SVID is cached for an
 * address, one full handshake is made there at a time: connections opened meanwhile wait for its session (at most
 * 250 ms, or 50 ms past its handshake when no ticket comes) and resume it.
 *
 * @example
 * const pool = new Pool('https://127.0.0.1:15002', { connect: mtlsConnector({ identity, checker, expected }) });
 */
export function mtlsConnector(options: {
  identity: IdentitySource;
  checker: PeerChecker;
  expected: (spiffeId: string) => boolean;
  stats?: ConnectorStats;
  timeoutMs?: number;
  /** ALPN protocols offered (default `http/1.1`; `h2` for an HTTP/2 upstream). */
  alpn?: readonly string[];
}): MtlsConnect {
  const { identity, checker, expected } = options;
  const contexts = new ClientContexts();
  // A resumed TLS 1.3 session shows no server certificate on the client side: each cached session keeps the
  // identity verified on the full handshake it descends from, and that identity is re-checked on every resumption.
  const sessions = new Map<string, { session: Buffer; peer: PeerIdentity }>();
  const checkServerIdentity = checker.serverIdentity(expected);
  const alpn = [...(options.alpn ?? ['http/1.1'])];
  /** The SVID generation the cached sessions were made with. */
  let generation = -1;
  /**
   * Per address with no session of this SVID cached: the connections waiting for the full handshake under way there
   * (after a renewal, a pool opening several connections at once makes one full handshake, the others resume its
   * session, instead of one full handshake each).
   */
  const firsts = new Map<string, Array<() => void>>();
  const open = (opts: buildConnector.Options, callback: buildConnector.Callback): TLSSocket | undefined => {
    const material = identity.current;
    if (!material) {
      callback(new GatehouseError('ERR_MESH_IDENTITY_UNAVAILABLE'), null);
      return undefined;
    }
    const port = Number(opts.port) || 443;
    // A session resumes only under the SVID it was made with: a resumed TLS 1.3 session carries the client certificate
    // of its first handshake, so after a renewal the server would go on seeing the old one (past its expiry, over
    // chains of resumptions) if sessions of the old SVID were resumed.
    if (material.generation !== generation) {
      sessions.clear();
      generation = material.generation;
      for (const waiting of firsts.values()) for (const go of waiting.splice(0)) queueMicrotask(go);
      firsts.clear();
    }
    const key = `${opts.hostname}:${port}`;
    const cached = sessions.get(key);
    /** Set when this connection is the full handshake others wait for: lets them go (once). */
    let release: (() => void) | undefined;
    if (!cached) {
      const waiting = firsts.get(key);
      if (waiting !== undefined && (opts as { immediate?: boolean }).immediate !== true) {
        let gone = false;
        const go = () => {
          if (gone) return;
          gone = true;
          clearTimeout(cap);
          // It waits once: a first handshake that failed or hangs must not line the others up behind each other. The
          // time it waited counts against its connect timeout.
          open({ ...opts, immediate: true, startedAt } as buildConnector.Options, callback);
        };
        const startedAt = performance.now(); // a socket timer's elapsed time (monotonic), not a domain time
        const cap = setTimeout(go, FIRST_HANDSHAKE_WAIT_MS);
        cap.unref();
        waiting.push(go);
        return undefined;
      }
      if (waiting === undefined) {
        const mine: Array<() => void> = [];
        firsts.set(key, mine);
        release = () => {
          release = undefined;
          if (firsts.get(key) === mine) firsts.delete(key);
          for (const go of mine.splice(0)) queueMicrotask(go);
        };
      }
    }
    let socket: TLSSocket;
    try {
      socket = connect({
        host: opts.hostname,
        port,
        secureContext: contexts.context(material, identity.bundle),
        minVersion: 'TLSv1.3',
        maxVersion: 'TLSv1.3',
        ALPNProtocols: alpn,
        checkServerIdentity,
        ...(cached ? { session: cached.session } : {}),
      });
    } catch (err) {
      release?.();
      callback(err as Error, null);
      return undefined;
    }
    socket.setNoDelay(true);
    socket.once('close', () => release?.());
    let peer: PeerIdentity | undefined;
    const pending: Buffer[] = [];
    const remember = (session: Buffer) => {
      if (material.generation !== generation) return; // a ticket of the SVID before a renewal: not resumed again
      if (!peer) {
        pending.push(session);
        return;
      }
      if (sessions.size >= SESSION_CACHE_LIMIT && !sessions.has(key)) sessions.clear();
      sessions.set(key, { session, peer });
      release?.();
    };
    socket.on('session', remember);
    // undici's own connect-timeout error (code UND_ERR_CONNECT_TIMEOUT), so that the gateway and the sidecar read it as
    // a timeout (504) like undici's other timeouts, not as an unreachable upstream (502).
    const since = (opts as { startedAt?: number }).startedAt;
    const waited = since === undefined ? 0 : performance.now() - since;
    const timer = setTimeout(
      () => socket.destroy(new errors.ConnectTimeoutError('mTLS connect timeout')),
      Math.max(0, (options.timeoutMs ?? 10_000) - waited),
    );
    const fail = (err: Error) => {
      clearTimeout(timer);
      sessions.delete(key);
      release?.();
      callback(err, null);
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      const resumed = socket.isSessionReused();
      let verdict: PeerVerdict;
      try {
        verdict =
          resumed && cached
            ? checker.recheck(cached.peer, expected)
            : checker.check(socket.getPeerCertificate(), socket.authorized, socket.authorizationError, expected);
      } catch (err) {
        // An event handler: a throw here would end the process. The server's bytes cause it, so it is a refusal.
        verdict = { ok: false, reason: 'malformed', tlsError: (err as Error).message };
      }
      if (!verdict.ok) {
        if (options.stats) options.stats.refused++;
        sessions.delete(key);
        release?.();
        socket.destroy();
        const detail = `server SVID refused: ${verdict.reason}${resumed ? ' (resumed session)' : ''}`;
        callback(new GatehouseError('ERR_MESH_UPSTREAM_FAILED', { detail }), null);
        return;
      }
      peer = verdict.peer;
      for (const session of pending.splice(0)) remember(session);
      // A peer that sends no ticket (or a late one) does not hold the others up for long.
      if (release !== undefined) setTimeout(() => release?.(), TICKET_GRACE_MS).unref();
      if (options.stats) {
        options.stats.connected++;
        if (resumed) options.stats.resumed++;
      }
      callback(null, socket);
    });
    return socket;
  };
  return open;
}

/**
 * An mTLS connector as an {@link Http2Origin}'s `connect` option, for the one `https://host:port` origin it serves:
 * each call opens a connection (offer ALPN `h2` through the connector's `alpn`) and calls back once its peer passed
 * the checks, or with the error that refused it.
 *
 * @example
 * new Http2Origin(origin, { connect: originConnector(mtlsConnector({ ..., alpn: ['h2'] }), origin), ... });
 */
export function originConnector(
  connect: MtlsConnect,
  origin: string,
): (done: (err: Error | null) => void) => Duplex | undefined {
  const url = new URL(origin);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1'); // an IPv6 literal without its brackets
  // `immediate`: node:http2 takes the socket at once, so this connection never waits for another's full handshake.
  const opts = { hostname, port: url.port || '443', protocol: 'https:', immediate: true } as buildConnector.Options;
  return (done) => connect(opts, (...args) => done(args[0]));
}
