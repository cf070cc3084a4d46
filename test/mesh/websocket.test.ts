// WebSocket through the mesh (docs/mesh.md "WebSocket"): real `ws` clients on the app's outbound port, a real sidecar
// pair doing TLS 1.3 mTLS between them, and a real `ws` server as the app behind the inbound side. The handshake takes
// every check of a plain request (peer, policy, XFCC, burst limit, breaker), then the connection is piped both ways.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InProcessCaClient } from '../../src/app/mesh_ca_client.js';
import type { AuthorizationPolicy, Sidecar, SidecarOptions } from '../../src/mesh/index.js';
import { wsBackend } from '../support/ws_backend.js';
import { closed, echo, openWebSocket, opened, type Opened, type Refused } from '../support/ws_client.js';
import { id, meshCa, raw, sidecarFor } from './helpers.js';

/** Opens a WebSocket through a sidecar's outbound port to `service` (or straight to a port): the socket or the refusal. */
function open(
  port: number,
  service: string,
  path: string,
  headers: Record<string, string> = {},
  protocols: string[] = [],
) {
  return openWebSocket(`ws://127.0.0.1:${port}${path}`, { headers: { host: service, ...headers } }, protocols);
}

function refused(result: Opened | Refused): Refused {
  if (result.status === 101) {
    (result as Opened).ws.terminate();
    throw new Error('expected a refusal, got 101');
  }
  return result as Refused;
}

/** Waits until `check` holds (the sidecars count a tunnel's close a moment after the client sees it). */
async function eventually(check: () => boolean, ms = 3_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const handshake = (host: string, path = '/ws', upgrade = 'websocket') =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: ${upgrade}\r\n` +
  `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

const strangerDenied: AuthorizationPolicy[] = [
  { name: 'no-strangers', action: 'DENY', rules: [{ from: [{ principals: [id('stranger')] }] }] },
];

describe('mesh: WebSocket through a sidecar pair (TLS 1.3 mTLS between them)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  let client: InProcessCaClient;
  let app: Awaited<ReturnType<typeof wsBackend>>;
  let backend: Sidecar;

  /** A caller sidecar for `sa` whose outbound reaches `target` as service `backend`. */
  async function caller(sa: string, target: Sidecar, extra: Partial<SidecarOptions> = {}): Promise<Sidecar> {
    const upstreams = [
      { name: 'backend', address: `127.0.0.1:${target.inboundAddress.port}`, spiffeId: id('backend') },
    ];
    const { sidecar } = await sidecarFor(client, sa, '127.0.0.1:1', {
      outbound: { host: '127.0.0.1', port: 0, upstreams },
      ...extra,
    });
    cleanups.push(() => sidecar.stop());
    return sidecar;
  }
  const out = (sidecar: Sidecar) => sidecar.outboundAddress!.port;

  beforeAll(async () => {
    ({ client } = await meshCa());
    app = await wsBackend();
    cleanups.push(() => app.close());
    ({ sidecar: backend } = await sidecarFor(client, 'backend', `127.0.0.1:${app.port}`, {
      policies: strangerDenied,
    }));
    cleanups.push(() => backend.stop());
  });
  afterAll(async () => {
    while (cleanups.length) await cleanups.pop()?.();
  });

  it('carries messages both ways: 101 relayed, the caller identity (XFCC) set and a caller-sent copy stripped', async () => {
    const frontend = await caller('frontend', backend);
    const before = app.handshakes.length;
    app.wss.once('connection', (ws) => ws.send('pushed by the app'));
    const result = opened(
      await open(
        out(frontend),
        'backend',
        '/chat/room?x=1',
        { 'x-forwarded-client-cert': `By=x;Hash=y;URI=${id('admin')}` },
        ['chat.v2', 'chat.v1'],
      ),
    );
    const { ws } = result;
    expect(result.headers['x-backend']).toBe('ws');
    expect(result.headers['sec-websocket-protocol']).toBe('chat.v2');
    expect(result.headers['connection']).toBe('Upgrade');
    // The app's message reaches the caller (down), the caller's messages come back echoed (up and down).
    await eventually(() => result.inbox.length > 0);
    expect(result.inbox[0]?.toString()).toBe('pushed by the app');
    expect((await echo(ws, 'hello')).data.toString()).toBe('hello');
    const big = randomBytes(512 * 1024);
    const reply = await echo(ws, big);
    expect(reply.binary).toBe(true);
    expect(Buffer.compare(reply.data, big)).toBe(0);

    const seen = app.handshakes[before] as IncomingMessage;
    expect(seen.url).toBe('/chat/room?x=1');
    expect(seen.headers['upgrade']).toBe('websocket');
    expect(seen.headers['connection']?.toLowerCase()).toContain('upgrade');
    expect(seen.headers['sec-websocket-protocol']).toBe('chat.v2,chat.v1');
    const xfcc = seen.headers['x-forwarded-client-cert'];
    expect(xfcc).toMatch(new RegExp(`^By=${id('backend')};Hash=[A-Za-z0-9_-]{43};URI=${id('frontend')}$`));
    expect(String(xfcc)).not.toContain(id('admin'));

    expect(frontend.stats().tunnels.outbound).toMatchObject({ upgraded: 1, open: 1 });
    expect(backend.stats().tunnels.inbound.open).toBeGreaterThanOrEqual(1);
    expect(frontend.metricsText()).toContain('gatehouse_sidecar_tunnels_open{side="outbound"} 1');

    ws.close(1000, 'bye');
    expect(await closed(ws)).toBe(1000);
    await eventually(() => frontend.stats().tunnels.outbound.open === 0);
    expect(frontend.stats().tunnels.outbound.closed.client + frontend.stats().tunnels.outbound.closed.upstream).toBe(1);
  });

  it('keeps an open tunnel through certificate rotation on both sidecars', async () => {
    const frontend = await caller('frontend', backend);
    const { ws } = opened(await open(out(frontend), 'backend', '/rotate'));
    expect((await echo(ws, 'before')).data.toString()).toBe('before');
    const serials = [frontend.identity.current?.serialNumber, backend.identity.current?.serialNumber];
    await Promise.all([frontend.renewNow(), backend.renewNow()]);
    expect([frontend.identity.current?.serialNumber, backend.identity.current?.serialNumber]).not.toEqual(serials);
    expect((await echo(ws, 'after')).data.toString()).toBe('after');
    const second = opened(await open(out(frontend), 'backend', '/rotate-again')).ws;
    expect((await echo(second, 'new')).data.toString()).toBe('new');
    ws.close();
    second.close();
    await Promise.all([closed(ws), closed(second)]);
  });

  it('refuses a caller the policy denies with 403 problem+json: no handshake reaches the app, no tunnel', async () => {
    const stranger = await caller('stranger', backend);
    const before = app.handshakes.length;
    const denied = backend.stats().requests.denied;
    const result = refused(await open(out(stranger), 'backend', '/chat'));
    expect(result.status).toBe(403);
    expect(result.headers['content-type']).toBe('application/problem+json');
    expect(result.body).toMatchObject({ code: 'ERR_MESH_FORBIDDEN', reason: 'deny_matched', policy: 'no-strangers' });
    expect(app.handshakes.length).toBe(before);
    expect(backend.stats().requests.denied).toBe(denied + 1);
    expect(stranger.stats().tunnels.outbound).toMatchObject({ upgraded: 0, refused: 1, open: 0 });
  });

  it('relays an answer without 101 as an ordinary response and closes the connection', async () => {
    const frontend = await caller('frontend', backend);
    const refusedBefore = backend.stats().tunnels.inbound.refused;
    const result = refused(await open(out(frontend), 'backend', '/chat/deny'));
    expect(result.status).toBe(403);
    expect(result.body).toBe('no entry');
    expect(frontend.stats().tunnels.outbound).toMatchObject({ upgraded: 0, refused: 1 });
    expect(backend.stats().tunnels.inbound.refused).toBe(refusedBefore + 1);
    const answer = await raw(out(frontend), handshake('backend', '/x/deny'));
    expect(answer).toMatch(/^HTTP\/1\.1 403 /); // and `raw` returned: the sidecar closed the connection
  });

  it('closes a tunnel with no byte in either direction for the idle timeout', async () => {
    const frontend = await caller('frontend', backend, { tunnels: { websocket: true, max: 8, idleTimeoutMs: 300 } });
    const { ws } = opened(await open(out(frontend), 'backend', '/sleepy'));
    expect((await echo(ws, 'awake')).data.toString()).toBe('awake');
    const started = Date.now();
    expect(await closed(ws)).toBe(1006); // the connection ended without a close frame
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    await eventually(() => frontend.stats().tunnels.outbound.closed.idle === 1);
  });

  it('answers 503 ERR_MESH_TUNNELS_FULL past tunnels.max, and the place is given back when a tunnel closes', async () => {
    const frontend = await caller('frontend', backend, {
      tunnels: { websocket: true, max: 1, idleTimeoutMs: 60_000 },
    });
    const before = app.handshakes.length;
    const first = opened(await open(out(frontend), 'backend', '/one')).ws;
    const full = refused(await open(out(frontend), 'backend', '/two'));
    expect(full.status).toBe(503);
    expect(full.body).toMatchObject({ code: 'ERR_MESH_TUNNELS_FULL', status: 503 });
    expect(app.handshakes.length).toBe(before + 1);
    expect(frontend.stats().tunnels.outbound.full).toBe(1);
    first.close();
    await closed(first);
    await eventually(() => frontend.stats().tunnels.outbound.open === 0);
    const again = opened(await open(out(frontend), 'backend', '/three')).ws;
    again.close();
    await closed(again);
  });

  it('counts failed handshakes against the breaker (502, then 503 ERR_CIRCUIT_OPEN)', async () => {
    const { sidecar: frontend } = await sidecarFor(client, 'frontend', '127.0.0.1:1', {
      outbound: {
        host: '127.0.0.1',
        port: 0,
        upstreams: [{ name: 'backend', address: '127.0.0.1:1', spiffeId: id('backend') }],
      },
      breaker: { consecutiveFailures: 2, openDurationMs: 60_000 },
    });
    cleanups.push(() => frontend.stop());
    for (let i = 0; i < 2; i++) {
      const failed = refused(await open(out(frontend), 'backend', '/down'));
      expect(failed.status).toBe(502);
      expect(failed.body).toMatchObject({ code: 'ERR_MESH_UPSTREAM_FAILED' });
    }
    const open503 = refused(await open(out(frontend), 'backend', '/down'));
    expect(open503.status).toBe(503);
    expect(open503.body).toMatchObject({ code: 'ERR_CIRCUIT_OPEN' });
    expect(frontend.stats().tunnels.outbound.failed).toBe(2);
  });

  it("applies the inbound side's per-caller burst limit to handshakes (429)", async () => {
    const { sidecar: limited } = await sidecarFor(client, 'backend', `127.0.0.1:${app.port}`, {
      callerLimit: { rate: 1, period: 3_600_000, burst: 0 },
    });
    cleanups.push(() => limited.stop());
    const frontend = await caller('frontend', limited);
    const first = opened(await open(out(frontend), 'backend', '/limited')).ws;
    const second = refused(await open(out(frontend), 'backend', '/limited'));
    expect(second.status).toBe(429);
    expect(second.body).toMatchObject({ code: 'ERR_RATE_LIMITED' });
    first.close();
    await closed(first);
  });

  it('PERMISSIVE: a plaintext caller gets a tunnel without an XFCC (its own copy stripped); STRICT refuses it', async () => {
    const { sidecar: permissive } = await sidecarFor(client, 'backend', `127.0.0.1:${app.port}`, {
      mode: 'PERMISSIVE',
    });
    cleanups.push(() => permissive.stop());
    const before = app.handshakes.length;
    const { ws } = opened(
      await open(permissive.inboundAddress.port, 'backend', '/plain-caller', {
        'x-forwarded-client-cert': `URI=${id('admin')}`,
      }),
    );
    expect((await echo(ws, 'plain')).data.toString()).toBe('plain');
    expect((app.handshakes[before] as IncomingMessage).headers['x-forwarded-client-cert']).toBeUndefined();
    ws.close();
    await closed(ws);
    await expect(open(backend.inboundAddress.port, 'backend', '/plain-caller')).rejects.toThrow();
    expect(app.handshakes.length).toBe(before + 1);
  });

  it('still refuses other protocols and CONNECT with 501, serves an h2c offer as HTTP/1.1, and obeys websocket: false', async () => {
    const frontend = await caller('frontend', backend);
    const other = await raw(out(frontend), handshake('backend', '/ws', 'IRC/6.9'));
    expect(other).toMatch(/^HTTP\/1\.1 501 /);
    expect(other).toContain('"code":"ERR_MESH_UPGRADE_UNSUPPORTED"');
    const tunnel = await raw(out(frontend), 'CONNECT backend:443 HTTP/1.1\r\nHost: backend:443\r\n\r\n');
    expect(tunnel).toMatch(/^HTTP\/1\.1 501 /);
    const h2c = await raw(
      out(frontend),
      'GET /h2c HTTP/1.1\r\nHost: backend\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n' +
        'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
    );
    expect(h2c).toMatch(/^HTTP\/1\.1 200 /);
    expect(h2c).toContain('{"plain":true}');
    const off = await caller('frontend', backend, { tunnels: { websocket: false, max: 8, idleTimeoutMs: 60_000 } });
    const result = refused(await open(out(off), 'backend', '/off'));
    expect(result.status).toBe(501);
    expect(result.body).toMatchObject({ code: 'ERR_MESH_UPGRADE_UNSUPPORTED' });
  });

  it('closes every tunnel at shutdown, at once (not after the drain grace)', async () => {
    const { sidecar: target } = await sidecarFor(client, 'backend', `127.0.0.1:${app.port}`, { drainMs: 5_000 });
    const frontend = await caller('frontend', target);
    const { ws } = opened(await open(out(frontend), 'backend', '/shutdown'));
    expect((await echo(ws, 'up')).data.toString()).toBe('up');
    const started = Date.now();
    const gone = closed(ws);
    await target.stop();
    expect(await gone).toBe(1006);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(target.stats().tunnels.inbound.closed.shutdown).toBe(1);
    await eventually(() => frontend.stats().tunnels.outbound.open === 0);
    expect(frontend.stats().tunnels.outbound.closed.upstream).toBe(1);
  });
});

describe('mesh: the caller of an open WebSocket tunnel is checked again', () => {
  it('closes an inbound tunnel once its caller is revoked (peer_refused, logged); other tunnels stay', async () => {
    const { client, revocations } = await meshCa();
    const app = await wsBackend();
    const { sidecar: backend, logger } = await sidecarFor(client, 'backend', `127.0.0.1:${app.port}`, {
      tunnelRecheckMs: 50,
    });
    const callers: Sidecar[] = [];
    try {
      for (const sa of ['revokee', 'frontend']) {
        const upstreams = [
          { name: 'backend', address: `127.0.0.1:${backend.inboundAddress.port}`, spiffeId: id('backend') },
        ];
        const { sidecar } = await sidecarFor(client, sa, '127.0.0.1:1', {
          outbound: { host: '127.0.0.1', port: 0, upstreams },
        });
        callers.push(sidecar);
      }
      const [revokee, frontend] = callers as [Sidecar, Sidecar];
      const doomed = opened(await open(revokee.outboundAddress!.port, 'backend', '/chat'));
      const kept = opened(await open(frontend.outboundAddress!.port, 'backend', '/chat'));
      expect((await echo(doomed.ws, 'before')).data.toString()).toBe('before');
      await revocations.revoke(id('revokee'));
      await backend.identity.refreshDenyList();
      expect(await closed(doomed.ws)).toBe(1006);
      await eventually(() => backend.stats().tunnels.inbound.closed.peer_refused === 1);
      expect(logger.lines).toContainEqual(
        expect.objectContaining({
          msg: 'WebSocket tunnel closed: its caller is no longer admitted',
          reason: 'revoked',
          spiffeId: id('revokee'),
        }),
      );
      expect((await echo(kept.ws, 'still here')).data.toString()).toBe('still here');
      kept.ws.terminate();
    } finally {
      for (const sidecar of callers) await sidecar.stop();
      await backend.stop();
      await app.close();
    }
  });
});
