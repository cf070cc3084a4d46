// The `sidecar` section of the configuration schema and the mesh policies it holds (docs/mesh.md).
import { z } from 'zod';
import { duration, policyName, port, positive, caConnection, retrySettings, tunnelSettings } from './schema_fields.js';

/** The time a sidecar gives its app or a peer (Envoy's route timeout default; docs/mesh.md says why not none). */
const requestTimeout = (who: string) =>
  positive(
    duration(
      '15s',
      `Time ${who} has for response headers, and between body chunks (then 504 ERR_MESH_UPSTREAM_TIMEOUT).`,
    ),
  );

/** Policies of the mesh (docs/mesh.md): Istio AuthorizationPolicy semantics. */
function meshPolicies() {
  const strings = z.array(z.string().min(1).max(2048)).max(256).optional();
  const rule = z.strictObject({
    from: z
      .array(z.strictObject({ principals: strings, notPrincipals: strings }))
      .optional()
      .describe('Callers: SPIFFE IDs (with or without spiffe://), exact, prefix* or *suffix.'),
    to: z
      .array(z.strictObject({ methods: strings, notMethods: strings, paths: strings, notPaths: strings }))
      .optional()
      .describe('Operations: methods and paths, exact, prefix* or *suffix.'),
  });
  return z
    .array(
      z.strictObject({
        name: policyName.describe('Policy name (logged and named in 403 bodies).'),
        action: z.enum(['ALLOW', 'DENY']).describe('Any DENY match denies; with ALLOW policies one must match.'),
        rules: z.array(rule).max(256).describe('A policy matches when any rule does; no rules: matches nothing.'),
      }),
    )
    .default([])
    .describe(
      'Authorization policies evaluated like Istio: DENY first, no ALLOW policy allows, else an ALLOW must match.',
    );
}

/** The `sidecar` section: a standalone `gatehouse sidecar --config FILE` (docs/mesh.md). */
export function sidecarSection() {
  const address = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port');
  return z
    .strictObject({
      spiffeId: z.string().optional().describe('The SPIFFE ID the join token is bound to (checked when set).'),
      joinToken: z
        .string()
        .optional()
        .describe(
          'One-time join token (`gatehouse ca join-token`); prefer GATEHOUSE_SIDECAR__JOIN_TOKEN or joinTokenFile.',
        ),
      joinTokenFile: z
        .string()
        .optional()
        .describe('File holding the join token on its first line (read at each bootstrap).'),
      ca: caConnection('sidecar'),
      mode: z
        .enum(['STRICT', 'PERMISSIVE'])
        .default('STRICT')
        .describe('STRICT: mTLS only. PERMISSIVE: mTLS or plaintext on the inbound port.'),
      inbound: z
        .strictObject({
          host: z.string().default('127.0.0.1').describe('Address the inbound mTLS listener binds.'),
          port: port(15001, 'Inbound mTLS port.'),
          app: address.default('127.0.0.1:8080').describe('The local app (plain HTTP on loopback), host:port.'),
          timeout: requestTimeout('the local app'),
          bindTokens: z
            .boolean()
            .default(false)
            .describe(
              'Refuse (401 invalid_token) a Bearer JWT bound to a client certificate (`cnf.x5t#S256`, RFC 8705) that is not the mTLS certificate of the caller. The app still verifies the token itself.',
            ),
          http2: z
            .boolean()
            .default(false)
            .describe(
              'Offer HTTP/2 to peers (ALPN `h2` before `http/1.1`) on the mTLS listener: each stream gets the checks of an HTTP/1.1 request (policies, limits, XFCC). In PERMISSIVE the plaintext side takes h2c with prior knowledge too (gRPC clients with insecure credentials). See docs/mesh.md "HTTP/2 and gRPC".',
            ),
          appProtocol: z
            .enum(['http1', 'h2c'])
            .default('http1')
            .describe(
              'How the sidecar speaks to the app: `http1` (a keep-alive pool) or `h2c` (HTTP/2 with prior knowledge on one multiplexed connection: a gRPC server). A gRPC call to an `http1` app gets 502 ERR_MESH_GRPC_NEEDS_HTTP2.',
            ),
        })
        .prefault({})
        .describe('Peers to the local app.'),
      outbound: z
        .strictObject({
          host: z.string().default('127.0.0.1').describe('Address the outbound listener binds (keep it loopback).'),
          port: port(15101, 'Outbound port: the app calls http://<service>:<port>/... (Host names the service).'),
          http2: z
            .boolean()
            .default(false)
            .describe(
              'Accept HTTP/2 with prior knowledge (h2c, what gRPC clients speak without TLS) from the app on the outbound port, beside HTTP/1.1 (the first bytes of a connection decide).',
            ),
          upstreams: z
            .array(
              z.strictObject({
                name: z
                  .string()
                  .regex(/^[a-z0-9][a-z0-9.-]{0,62}$/)
                  .describe('Service name (the Host the app sends).'),
                address: address.describe("The peer sidecar's inbound address, host:port."),
                spiffeId: z.string().describe('The SPIFFE ID the peer must present.'),
                timeout: requestTimeout('the peer'),
                protocol: z
                  .enum(['http1', 'h2'])
                  .default('http1')
                  .describe(
                    "How to speak to the peer's sidecar over mTLS: `http1` (a keep-alive pool) or `h2` (HTTP/2, ALPN `h2`, one multiplexed connection; the peer needs `sidecar.inbound.http2`; what gRPC needs).",
                  ),
                retries: retrySettings(
                  2,
                  'Retries of failed attempts to the peer, after a short backoff (Istio\'s 2 attempts, on connect failures, refused HTTP/2 streams and resets; docs/mesh.md "Retries").',
                ),
              }),
            )
            .default([])
            .describe(
              'Peer services, each `{ name, address, spiffeId, timeout, retries, protocol }`; `timeout` (default 15s) is the time the peer has for response headers, and between body chunks (then 504 ERR_MESH_UPSTREAM_TIMEOUT); `retries` (default 2 on connect failures, refused HTTP/2 streams and resets) as docs/mesh.md "Retries".',
            ),
        })
        .prefault({})
        .describe('The local app to peers.'),
      policies: meshPolicies(),
      websocket: z
        .boolean()
        .default(true)
        .describe(
          'Carry WebSocket handshakes (HTTP/1.1 `Connection: upgrade`, `Upgrade: websocket`) on both sides, through the checks of a plain request, then pipe the connection both ways after the next hop\'s 101 (docs/mesh.md "WebSocket"), as Istio and Envoy sidecars do; false = 501 ERR_MESH_UPGRADE_UNSUPPORTED. Reloadable.',
        ),
      tunnels: tunnelSettings({
        max: 'WebSocket tunnels open (or being opened) at once on each side of the sidecar (inbound from peers, outbound from the app); a handshake past it gets 503 ERR_MESH_TUNNELS_FULL.',
        idleTimeoutNote: '; applies to tunnels opened after a reload',
        section: 'WebSocket tunnels (docs/mesh.md "WebSocket"). Reloadable.',
      }),
      limits: z
        .strictObject({
          perCaller: z
            .strictObject({
              rate: z.number().int().min(1).describe('Requests admitted per `per`.'),
              per: duration('1s', 'The period of `rate`.'),
              burst: z.number().int().min(0).default(0).describe('Extra requests admitted at once.'),
            })
            .optional()
            .describe('Burst limit per caller SPIFFE ID on the inbound side (429).'),
          breaker: z
            .strictObject({
              consecutiveFailures: z.number().int().min(1).default(5).describe('Failures in a row that open it.'),
              openDuration: duration('10s', 'How long it stays open before a trial.'),
            })
            .prefault({})
            .describe('Circuit breaker per upstream on the outbound side (503 while open).'),
        })
        .prefault({})
        .describe('Local limits.'),
      accessLog: z
        .boolean()
        .default(true)
        .describe(
          'One access line per request on each side (`log: "access"`: side, method, path without the query, status, duration, the caller\'s SPIFFE ID inbound or the upstream outbound; docs/mesh.md "Access logs").',
        ),
      renewAtFraction: z
        .number()
        .gt(0)
        .lt(1)
        .default(2 / 3)
        .describe('Renew the SVID after this fraction of its lifetime (from issuance), with ±5 % jitter.'),
      ticketKeyRotation: duration('1h', 'How often the TLS session ticket keys are replaced.'),
    })
    .optional()
    .describe('A standalone sidecar (`gatehouse sidecar --config FILE`); unused by `gatehouse up`.');
}
