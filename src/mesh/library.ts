import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent } from 'undici';
import { systemClock, type Clock, type Logger } from '../core/index.js';
import { mtlsConnector, type ConnectorStats } from './connector.js';
import { MtlsAgent } from './mtls_agent.js';
import { normalizedTarget, sendProblem } from './http_forwarding.js';
import type { IdentitySource } from './identity_source.js';
import { MtlsListener, type MtlsMode } from './mtls_listener.js';
import { expectSpiffeId, PeerChecker, type PeerIdentity } from './peer_check.js';
import { evaluatePolicies, type AuthorizationPolicy } from './policy.js';

/**
 * Library mode, server side: an HTTPS server in the service's own process with the sidecar's identity checks,
 * policies and rotation. The handler gets the verified peer, and `req.url` normalized (what the policies judged; 400
 * for a target that cannot be normalized). With `http2`, HTTP/2 is offered (ALPN `h2`) beside HTTP/1.1: its requests
 * reach the handler with an HTTP/1.1-shaped view (no pseudo-header fields; `Host` from `:authority`).
 *
 * @example
 * const server = createMtlsServer({ identity, trustDomain, policies, logger,
 *   handler: (req, res, peer) => res.end(`hello ${peer?.spiffeId}`) });
 * await server.listen('127.0.0.1', 0);
 */
export function createMtlsServer(options: {
  identity: IdentitySource;
  trustDomain: string;
  logger: Logger;
  handler: (req: IncomingMessage, res: ServerResponse, peer: PeerIdentity | undefined) => void;
  policies?: readonly AuthorizationPolicy[];
  mode?: MtlsMode;
  clock?: Clock;
  /** Offer HTTP/2 (ALPN `h2`) beside HTTP/1.1 (default false). */
  http2?: boolean;
}): MtlsListener {
  const clock = options.clock ?? systemClock;
  const checker = new PeerChecker({
    trustDomain: options.trustDomain,
    clock,
    denyList: () => options.identity.denyList,
  });
  const policies = options.policies ?? [];
  return new MtlsListener({
    identity: options.identity,
    checker,
    mode: options.mode ?? 'STRICT',
    logger: options.logger,
    ...(options.http2 ? { http2: true } : {}),
    handler: (req, res, peer) => {
      // The policies judge, and the handler sees (req.url), one and the same normalized target.
      const target = normalizedTarget(req, res, options.logger, peer);
      if (target === undefined) return;
      req.url = target;
      const verdict = evaluatePolicies(policies, {
        principal: peer?.spiffeId,
        method: req.method ?? 'GET',
        path: target,
      });
      if (!verdict.allowed) {
        sendProblem(res, 'ERR_MESH_FORBIDDEN', { reason: verdict.reason });
        return;
      }
      options.handler(req, res, peer);
    },
  });
}

/**
 * Library mode, client side: an undici dispatcher whose connections present the current SVID (after a renewal new
 * requests go to new connections with the renewed one; the old connections finish their requests and close) and
 * accept only servers holding one of the expected SPIFFE IDs.
 *
 * @example
 * const agent = createMtlsAgent({ identity, trustDomain, expect: 'spiffe://td/ns/demo/sa/backend' });
 * await request('https://127.0.0.1:15002/hello', { dispatcher: agent });
 */
export function createMtlsAgent(options: {
  identity: IdentitySource;
  trustDomain: string;
  expect: string | readonly string[];
  clock?: Clock;
  stats?: ConnectorStats;
}): MtlsAgent {
  const checker = new PeerChecker({
    trustDomain: options.trustDomain,
    clock: options.clock ?? systemClock,
    denyList: () => options.identity.denyList,
  });
  return new MtlsAgent(
    options.identity,
    () =>
      new Agent({
        connect: mtlsConnector({
          identity: options.identity,
          checker,
          expected: expectSpiffeId(options.expect),
          ...(options.stats ? { stats: options.stats } : {}),
        }),
      }),
  );
}
