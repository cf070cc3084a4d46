// WebSocket through the gateway (docs/gateway.md "WebSocket"): routes with `websocket: true` carry the handshake
// through the route's stages to the upstream, relay its 101 and pipe both connections; real `ws` clients over TLS 1.3
// and real `ws` servers behind (plain HTTP and mTLS with the mesh library).
import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type WebSocket from 'ws';
import type { ClientOptions } from 'ws';
import type { ConfigInput } from '../../src/config/index.js';
import { meshServerOptions, type IdentitySource } from '../../src/mesh/index.js';
import { id, identityFor, meshCa, TD } from '../mesh/helpers.js';
import { wsBackend } from '../support/ws_backend.js';
import { closed, echo, openWebSocket, opened, type Opened, type Refused as RefusedBy } from '../support/ws_client.js';
import {
  call,
  gatewayConfig,
  recordingLogger,
  startGateway,
  tableAuthenticator,
  testCertificate,
  type Json,
  type RunningGateway,
} from './support.js';

type Refused = RefusedBy<Json>;

/** Opens a WebSocket to the gateway (wss, trusting its test certificate): the open socket, or the refusal. */
function open(
  gw: RunningGateway,
  path: string,
  options: { headers?: Record<string, string>; protocols?: string[] } = {},
): Promise<Opened | Refused> {
  // `servername` is passed on to tls.connect (the test certificate names localhost), though ws's types omit it.
  const tlsOptions: ClientOptions & { servername: string } = {
    ca: testCertificate().certPem,
    servername: 'localhost',
    headers: options.headers ?? {},
  };
  return openWebSocket<Json>(`wss://127.0.0.1:${gw.port}${path}`, tlsOptions, options.protocols ?? []);
}

async function metric(gw: RunningGateway, name: string, labels: Record<string, string>): Promise<number> {
  const all = await gw.gateway.metrics.registry.getSingleMetric(name)?.get();
  const hit = all?.values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
  return hit?.value ?? 0;
}

const ws = (name: string, upstream: string, extra: Record<string, unknown> = {}) => ({
  name,
  pathPrefix: `/${name}`,
  upstream,
  websocket: true,
  ...extra,
});

describe('gateway: WebSocket tunnels', () => {
  let backend: Awaited<ReturnType<typeof wsBackend>>;
  let gw: RunningGateway;
  const log = recordingLogger();
  const auth = tableAuthenticator({
    ghk_good: { sub: 'user-1', clientId: 'client-1', scopes: ['chat'], apiKeyId: 'key-1' },
    ghk_noscope: { sub: 'user-2', clientId: 'client-2', scopes: [] },
  });

  beforeAll(async () => {
    backend = await wsBackend();
    const host = backend.url;
    gw = await startGateway(
      {
        upstreams: [
          { name: 'chat', hosts: [host], maxConcurrent: 1, maxQueue: 0 },
          { name: 'capped', hosts: [host], tunnels: { max: 1 } },
          { name: 'sleepy', hosts: [host], tunnels: { idleTimeout: '200ms' } },
          { name: 'down', hosts: ['http://127.0.0.1:1'], breaker: { consecutiveFailures: 2 } },
        ],
        routes: [
          ws('chat', 'chat'),
          { name: 'plain', pathPrefix: '/plain', upstream: 'chat' },
          ws('secure', 'chat', { auth: { kind: 'api_key', scopes: ['chat'] } }),
          ws('limited', 'chat', { limits: [{ name: 'per-ip', key: ['ip'], rate: 1, per: '1h', burst: 1 }] }),
          ws('capped', 'capped'),
          ws('sleepy', 'sleepy'),
          ws('down', 'down'),
        ],
      },
      { logger: log.logger, authenticator: auth },
    );
  });
  afterAll(async () => {
    await gw.close();
    await backend.close();
  });

  it('carries an echo round trip over TLS 1.3: 101 relayed with the upstream fields, forwarding headers set', async () => {
    const before = backend.handshakes.length;
    const { ws: socket, headers } = opened(
      await open(gw, '/chat/room?x=1', {
        protocols: ['chat.v2', 'chat.v1'],
        headers: { 'x-request-id': 'caller-chosen', 'x-forwarded-for': '203.0.113.9' },
      }),
    );
    expect((socket as unknown as { _socket: TLSSocket })._socket.getProtocol()).toBe('TLSv1.3');
    expect(socket.protocol).toBe('chat.v2');
    expect(headers['x-backend']).toBe('ws');
    expect(headers['x-request-id']).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(headers['x-request-id']).not.toBe('caller-chosen');

    expect((await echo(socket, 'hello')).data.toString()).toBe('hello');
    const big = randomBytes(512 * 1024);
    const reply = await echo(socket, big);
    expect(reply.binary).toBe(true);
    expect(Buffer.compare(reply.data, big)).toBe(0);

    const seen = backend.handshakes[before] as IncomingMessage;
    expect(seen.url).toBe('/chat/room?x=1');
    expect(seen.headers['upgrade']).toBe('websocket');
    expect(seen.headers['connection']?.toLowerCase()).toContain('upgrade');
    expect(seen.headers['sec-websocket-protocol']).toBe('chat.v2,chat.v1');
    expect(seen.headers['sec-websocket-version']).toBe('13');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers['x-request-id']).toBe(headers['x-request-id']);

    expect(await metric(gw, 'gatehouse_gateway_tunnels_open', { upstream: 'chat' })).toBe(1);
    socket.close(1000, 'bye');
    expect(await closed(socket)).toBe(1000);
    await vi.waitFor(async () =>
      expect(await metric(gw, 'gatehouse_gateway_tunnels_open', { upstream: 'chat' })).toBe(0),
    );
    expect(await metric(gw, 'gatehouse_gateway_tunnels_total', { upstream: 'chat', outcome: 'upgraded' })).toBe(1);
    await vi.waitFor(() => {
      const line = log.lines.find((l) => l.msg === 'access' && l.request_id === headers['x-request-id']);
      expect(line).toMatchObject({ route: 'chat', method: 'GET', path: '/chat/room', status: 101 });
      expect(line.upstream_ms).toBeGreaterThanOrEqual(0);
    });
  });

  it('refuses with 401/403 before any contact with the upstream; identity headers replace the caller copies', async () => {
    const before = backend.connections;
    const none = await open(gw, '/secure/x');
    expect(none.status).toBe(401);
    expect((none as Refused).body.code).toBe('ERR_TOKEN_MISSING');
    const weak = await open(gw, '/secure/x', { headers: { 'x-api-key': 'ghk_noscope' } });
    expect(weak.status).toBe(403);
    expect((weak as Refused).body.code).toBe('ERR_TOKEN_INSUFFICIENT_SCOPE');
    expect(backend.connections).toBe(before);

    const { ws: socket } = opened(
      await open(gw, '/secure/x', {
        headers: { 'x-api-key': 'ghk_good', 'x-gatehouse-sub': 'admin', 'x-gatehouse-scopes': 'everything' },
      }),
    );
    const seen = backend.handshakes.at(-1) as IncomingMessage;
    expect(seen.headers['x-gatehouse-sub']).toBe('user-1');
    expect(seen.headers['x-gatehouse-scopes']).toBe('chat');
    expect(seen.headers['x-gatehouse-key-id']).toBe('key-1');
    expect(seen.headers['x-api-key']).toBeUndefined();
    socket.terminate();
  });

  it('counts a handshake as one request against the route limits (429 past them), with RateLimit on the 101', async () => {
    const plain = await call(gw, '/limited/x');
    expect(plain.status).toBe(200);
    const first = opened(await open(gw, '/limited/x'));
    expect(first.headers['ratelimit-policy']).toBe('"per-ip";q=1;w=3600');
    const third = await open(gw, '/limited/x');
    expect(third.status).toBe(429);
    expect((third as Refused).body.code).toBe('ERR_RATE_LIMITED');
    expect(third.headers['retry-after']).toBeDefined();
    first.ws.terminate();
  });

  it('keeps 501 for routes without websocket: true and for other protocols; 400 for a handshake with a body', async () => {
    const before = backend.connections;
    const refused = await open(gw, '/plain/x');
    expect(refused.status).toBe(501);
    expect((refused as Refused).body.code).toBe('ERR_GATEWAY_UPGRADE_UNSUPPORTED');
    const other = await rawUpgrade(gw, '/chat/x', { upgrade: 'foo/1' });
    expect(other).toMatch(/^HTTP\/1\.1 501 /);
    const withBody = await rawUpgrade(gw, '/chat/x', { upgrade: 'websocket', 'content-length': '5' }, 'hello');
    expect(withBody).toMatch(/^HTTP\/1\.1 400 /);
    expect(backend.connections).toBe(before);
  });

  it("relays the upstream's non-101 answer as an ordinary response", async () => {
    const denied = await open(gw, '/chat/deny');
    expect(denied.status).toBe(403);
    expect((denied as Refused).body).toBe('no entry');
    expect(await metric(gw, 'gatehouse_gateway_tunnels_total', { upstream: 'chat', outcome: 'refused' })).toBe(1);
  });

  it('does not hold a request slot for a tunnel: plain requests still pass at maxConcurrent 1', async () => {
    const { ws: socket } = opened(await open(gw, '/chat/held'));
    const plain = await call(gw, '/plain/x');
    expect(plain.status).toBe(200);
    expect(plain.body.plain).toBe(true);
    expect((await echo(socket, 'still here')).data.toString()).toBe('still here');
    socket.terminate();
  });

  it('answers 503 past tunnels.max, and admits again once a tunnel closed', async () => {
    const first = opened(await open(gw, '/capped/1'));
    const second = await open(gw, '/capped/2');
    expect(second.status).toBe(503);
    expect((second as Refused).body.code).toBe('ERR_GATEWAY_TUNNELS_FULL');
    expect(second.headers['x-gatehouse-overloaded']).toBe('true');
    expect(await metric(gw, 'gatehouse_gateway_tunnels_total', { upstream: 'capped', outcome: 'full' })).toBe(1);
    first.ws.terminate();
    await vi.waitFor(async () =>
      expect(await metric(gw, 'gatehouse_gateway_tunnels_open', { upstream: 'capped' })).toBe(0),
    );
    const third = opened(await open(gw, '/capped/3'));
    third.ws.terminate();
  });

  it('closes an idle tunnel on both sides after tunnels.idleTimeout', async () => {
    const serverSide = new Promise<void>((resolve) =>
      backend.wss.once('connection', (peer) => peer.once('close', () => resolve())),
    );
    const { ws: socket } = opened(await open(gw, '/sleepy/x'));
    expect(await closed(socket)).toBe(1006);
    await serverSide;
    await vi.waitFor(async () =>
      expect(await metric(gw, 'gatehouse_gateway_tunnels_closed_total', { upstream: 'sleepy', reason: 'idle' })).toBe(
        1,
      ),
    );
  });

  it('closes the client when the upstream drops the connection, and the upstream when the client does', async () => {
    const closes = (reason: string) =>
      metric(gw, 'gatehouse_gateway_tunnels_closed_total', { upstream: 'chat', reason });
    const peerOf = () => new Promise<WebSocket>((resolve) => backend.wss.once('connection', resolve));
    const byUpstream = await closes('upstream');
    let peer = peerOf();
    const a = opened(await open(gw, '/chat/a'));
    (await peer).terminate();
    expect(await closed(a.ws)).toBe(1006);
    await vi.waitFor(async () => expect(await closes('upstream')).toBe(byUpstream + 1));

    const byClient = await closes('client');
    peer = peerOf();
    const b = opened(await open(gw, '/chat/b'));
    const upstreamClosed = new Promise<void>((resolve) => void peer.then((p) => p.once('close', () => resolve())));
    b.ws.terminate();
    await upstreamClosed;
    await vi.waitFor(async () => expect(await closes('client')).toBe(byClient + 1));
    await vi.waitFor(async () =>
      expect(await metric(gw, 'gatehouse_gateway_tunnels_open', { upstream: 'chat' })).toBe(0),
    );
    expect(gw.gateway.tunnels.size).toBe(0);
  });

  it('counts a failed handshake against the breaker: 502, then 503 once it opened', async () => {
    const first = await open(gw, '/down/x');
    expect(first.status).toBe(502);
    expect((first as Refused).body.code).toBe('ERR_GATEWAY_UPSTREAM_FAILED');
    expect((await open(gw, '/down/x')).status).toBe(502);
    const open3 = await open(gw, '/down/x');
    expect(open3.status).toBe(503);
    expect((open3 as Refused).body.code).toBe('ERR_CIRCUIT_OPEN');
    expect(await metric(gw, 'gatehouse_gateway_tunnels_total', { upstream: 'down', outcome: 'failed' })).toBe(2);
  });
});

/**
 * Sends an upgrade request by hand over TLS (what `ws` will not send) and returns the raw answer: all of it once the
 * gateway closes, or as soon as `until` holds (the connection is then closed).
 */
async function rawUpgrade(
  gw: RunningGateway,
  path: string,
  headers: Record<string, string>,
  body: string | Buffer = '',
  until?: (answer: string) => boolean,
): Promise<string> {
  const { connect } = await import('node:tls');
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port: gw.port,
      ca: testCertificate().certPem,
      servername: 'localhost',
    });
    let text = '';
    socket.setEncoding('latin1');
    socket.on('secureConnect', () => {
      const fields = Object.entries({ host: 'localhost', connection: 'Upgrade', ...headers })
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.write(Buffer.concat([Buffer.from(`GET ${path} HTTP/1.1\r\n${fields}\r\n`), Buffer.from(body)]));
    });
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (until?.(text)) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('end', () => resolve(text));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

describe('gateway: WebSocket handshakes by hand', () => {
  let backend: Awaited<ReturnType<typeof wsBackend>>;
  let gw: RunningGateway;

  beforeAll(async () => {
    backend = await wsBackend();
    gw = await startGateway({
      upstreams: [{ name: 'chat', hosts: [backend.url] }],
      routes: [ws('chat', 'chat')],
      slowClients: { maxConnections: 2 },
    });
  });
  afterAll(async () => {
    await gw.close();
    await backend.close();
  });

  it('passes on the bytes a client sends right behind its handshake', async () => {
    // A masked text frame "early" (mask key 0: the payload is sent as is) in the same write as the handshake.
    const frame = Buffer.concat([Buffer.from([0x81, 0x85, 0, 0, 0, 0]), Buffer.from('early')]);
    const answer = await rawUpgrade(
      gw,
      '/chat/x',
      { upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64') },
      frame,
      (text) => text.includes('\x81\x05early'),
    );
    expect(answer).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(answer).toMatch(/\r\nsec-websocket-accept: /i);
    expect(answer.endsWith('\r\n\r\n\x81\x05early')).toBe(true);
  });

  it('never closes a tunnel as a connection still reading a request (gateway.slowClients.maxConnections)', async () => {
    const { ws: socket } = opened(await open(gw, '/chat/x'));
    const { connect } = await import('node:tls');
    const idle = connect({ host: '127.0.0.1', port: gw.port, ca: testCertificate().certPem, servername: 'localhost' });
    idle.on('error', () => {}); // the eviction may reset it
    await new Promise((resolve) => idle.once('secureConnect', resolve));
    const evicted = new Promise<void>((resolve) => idle.once('close', () => resolve()));
    const third = await call(gw, '/chat/plain'); // a third connection: the oldest one still reading goes
    expect(third.status).toBe(200);
    const tunnelGone = closed(socket).then(() => {
      throw new Error('the tunnel was closed instead of the idle connection');
    });
    await Promise.race([evicted, tunnelGone]);
    expect((await echo(socket, 'still open')).data.toString()).toBe('still open');
    socket.terminate();
    idle.destroy();
  });
});

describe('gateway: WebSocket tunnels across reload and shutdown', () => {
  it('keeps open tunnels through a reload and closes them at shutdown', async () => {
    const backend = await wsBackend();
    const section = (idleTimeout: string): ConfigInput['gateway'] => ({
      upstreams: [{ name: 'chat', hosts: [backend.url], tunnels: { idleTimeout } }],
      routes: [ws('chat', 'chat')],
    });
    const gw = await startGateway(section('60s'));
    try {
      const { ws: socket } = opened(await open(gw, '/chat/x'));
      // A changed upstream is rebuilt (its pools closed); the tunnel holds no pooled connection and stays.
      gw.gateway.reload(gatewayConfig(section('30s')));
      gw.gateway.reload(gatewayConfig({ ...section('30s'), routes: [] }));
      expect((await echo(socket, 'after reload')).data.toString()).toBe('after reload');
      const code = closed(socket);
      await gw.server.close();
      expect(await code).toBe(1006);
      expect(gw.gateway.tunnels.size).toBe(0);
    } finally {
      await gw.agent.close();
      await backend.close();
    }
  });
});

describe('gateway: WebSocket to an mTLS upstream', () => {
  let identity: IdentitySource | undefined;
  let gatewayId: IdentitySource | undefined;

  afterAll(() => {
    identity?.stop();
    gatewayId?.stop();
  });

  it("tunnels to a TLS 1.3 upstream that checks the gateway's SVID", async () => {
    const ca = await meshCa();
    identity = await identityFor(ca.client, id('chat'));
    gatewayId = await identityFor(ca.client, id('gateway', 'edge'));
    const server = createHttpsServer(
      meshServerOptions(identity.current!, identity.bundle, randomBytes(48), 300),
    ) as unknown as Server;
    const backend = await wsBackend(server);
    const gw = await startGateway(
      {
        upstreams: [{ name: 'chat', hosts: [`https://127.0.0.1:${backend.port}`], mtls: { spiffeId: id('chat') } }],
        routes: [ws('chat', 'chat')],
      },
      { mesh: { identity: gatewayId, trustDomain: TD } },
    );
    try {
      const { ws: socket } = opened(await open(gw, '/chat/x'));
      expect((await echo(socket, 'over mtls')).data.toString()).toBe('over mtls');
      const peer = backend.handshakes.at(-1)!.socket as TLSSocket;
      expect(peer.authorized).toBe(true);
      expect(peer.getProtocol()).toBe('TLSv1.3');
      expect(peer.getPeerCertificate().subjectaltname).toContain(id('gateway', 'edge'));
      socket.terminate();
    } finally {
      await gw.close();
      await backend.close();
    }
  });
});
