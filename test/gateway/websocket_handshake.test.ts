// The pieces of a WebSocket handshake at the gateway, alone: which requests are handshakes, the 101 sent to the client,
// and the per-upstream tunnel count (the carried tunnels themselves: test/gateway/websocket.test.ts).
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { GatewayMetrics, gatewayTunnels, switchingProtocols } from '../../src/gateway/index.js';
import { declaresBody, offersWebSocket } from '../../src/mesh/index.js';

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('WebSocket handshake pieces', () => {
  it('recognizes a WebSocket offer in any case and among other protocols, and a declared body', () => {
    expect(offersWebSocket(request({ upgrade: 'websocket' }))).toBe(true);
    expect(offersWebSocket(request({ upgrade: 'foo/2, WebSocket' }))).toBe(true);
    expect(offersWebSocket(request({ upgrade: 'h2c' }))).toBe(false);
    expect(offersWebSocket(request({ upgrade: 'websocketx' }))).toBe(false);
    expect(offersWebSocket(request({}))).toBe(false);
    expect(declaresBody(request({ 'content-length': '0' }))).toBe(false);
    expect(declaresBody(request({ 'content-length': '5' }))).toBe(true);
    expect(declaresBody(request({ 'transfer-encoding': 'chunked' }))).toBe(true);
    expect(declaresBody(request({}))).toBe(false);
  });

  it('writes a 101 with the upstream fields minus hop-by-hop ones, its own Connection and Upgrade, and no bad field', () => {
    const head = switchingProtocols(
      {
        connection: 'Upgrade, x-private',
        upgrade: 'WebSocket',
        'x-private': 'hop',
        'keep-alive': 'timeout=5',
        'sec-websocket-accept': 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
        'sec-websocket-protocol': 'chat',
        'set-cookie': ['a=1', 'b=2'],
        'x-injected': 'ok\r\nx-evil: 1',
      },
      'req-1',
      { 'ratelimit-policy': '"per-ip";q=10;w=1' },
    );
    const lines = head.split('\r\n');
    expect(lines[0]).toBe('HTTP/1.1 101 Switching Protocols');
    expect(head.endsWith('\r\n\r\n')).toBe(true);
    expect(lines).toContain('connection: Upgrade');
    expect(lines).toContain('upgrade: websocket');
    expect(lines).toContain('sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(lines).toContain('sec-websocket-protocol: chat');
    expect(lines).toContain('set-cookie: a=1');
    expect(lines).toContain('set-cookie: b=2');
    expect(lines).toContain('x-request-id: req-1');
    expect(lines).toContain('ratelimit-policy: "per-ip";q=10;w=1');
    expect(head).not.toContain('x-private');
    expect(head).not.toContain('keep-alive');
    expect(head).not.toContain('x-evil');
    expect(lines.filter((l) => l.startsWith('connection:'))).toHaveLength(1);
  });

  it('counts tunnels per upstream: 503 at the cap, places given back, none opened after shutdown', async () => {
    const metrics = new GatewayMetrics();
    const tunnels = gatewayTunnels(metrics);
    tunnels.reserve('a', 2);
    tunnels.reserve('a', 2);
    tunnels.reserve('b', 1);
    expect(() => tunnels.reserve('a', 2)).toThrow(expect.objectContaining({ code: 'ERR_GATEWAY_TUNNELS_FULL' }));
    tunnels.release('a');
    tunnels.reserve('a', 2);
    expect(() => tunnels.reserve('b', 1)).toThrow(expect.objectContaining({ status: 503 }));
    const full = (await metrics.tunnels.get()).values.filter((v) => v.labels.outcome === 'full');
    expect(full.map((v) => [v.labels.upstream, v.value])).toEqual([
      ['a', 1],
      ['b', 1],
    ]);

    tunnels.closeAll();
    const client = new PassThrough();
    const upstream = new PassThrough();
    expect(tunnels.open('b', client as never, upstream, 60_000)).toBeUndefined();
    expect(client.destroyed && upstream.destroyed).toBe(true);
    tunnels.reserve('b', 1); // the place was given back
    expect(tunnels.size).toBe(0);
  });
});
